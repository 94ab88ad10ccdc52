"""Read a GGUF file's header and metadata in pure Python, without loading the model.

Used before a load to tell the user *why* a file cannot work (not a GGUF, truncated,
unknown architecture, too big for memory) and, later, to estimate memory needs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# ggml type id -> (bytes per block, elements per block); enough to size every tensor of the
# quantizations published for Gemma models. Unknown types only skip the truncation check.
_TYPE_LAYOUT: dict[int, tuple[int, int]] = {
    0: (4, 1),
    1: (2, 1),
    2: (18, 32),
    3: (20, 32),
    6: (22, 32),
    7: (24, 32),
    8: (34, 32),
    9: (36, 32),
    10: (84, 256),
    11: (110, 256),
    12: (144, 256),
    13: (176, 256),
    14: (210, 256),
    15: (292, 256),
    16: (66, 256),
    17: (74, 256),
    18: (98, 256),
    19: (50, 256),
    20: (18, 32),
    21: (110, 256),
    22: (82, 256),
    23: (136, 256),
    24: (1, 1),
    25: (2, 1),
    26: (4, 1),
    27: (8, 1),
    28: (8, 1),
    29: (56, 256),
    30: (2, 1),
    34: (54, 256),
    35: (66, 256),
    39: (17, 32),
}

_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9


class GGUFError(ValueError):
    """The file is not a usable GGUF file; the message says why."""


class NotGGUFError(GGUFError):
    """The file does not start with the GGUF magic bytes."""


class TruncatedGGUFError(GGUFError):
    """The file ends before its header or tensor data does."""


class DamagedGGUFError(GGUFError):
    """The header holds values no real GGUF file has (a length beyond the file, an unknown type)."""


# No real header comes near these; a damaged one may claim anything, and must not make Hearth
# allocate it.
MAX_STRING_BYTES = 64 * 1024 * 1024
MAX_ARRAY_DEPTH = 4
MAX_DIMS = 4  # GGML_MAX_DIMS
# The smallest a key/value pair (key length, one-byte key, type, one-byte value) and a tensor
# description (name length, one-byte name, dimension count, one dimension, type, offset) can be.
_MIN_KV_BYTES = 8 + 1 + 4 + 1
_MIN_TENSOR_BYTES = 8 + 1 + 4 + 8 + 4 + 8


@dataclass
class GGUFInfo:
    path: Path
    version: int
    file_size: int
    metadata: dict[str, Any] = field(default_factory=dict)
    tensor_count: int = 0
    data_end: int = 0  # where the last tensor's data ends; 0 if a tensor type is unknown

    @property
    def architecture(self) -> str:
        return self.text("general.architecture")

    @property
    def name(self) -> str:
        return self.text("general.name") or self.path.stem

    @property
    def chat_template(self) -> str:
        return self.text("tokenizer.chat_template")

    @property
    def context_length(self) -> int:
        return self.integer(f"{self.architecture}.context_length")

    def text(self, key: str) -> str:
        """A string value; "" when absent or of another type (a damaged file may hold anything)."""
        value = self.metadata.get(key)
        return value if isinstance(value, str) else ""

    def integer(self, key: str, default: int = 0) -> int:
        """A whole-number value; ``default`` when absent or of another type."""
        value = self.metadata.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return default
        return int(value) if value == value and abs(value) < 2**63 else default

    @property
    def is_truncated(self) -> bool:
        return self.data_end > self.file_size


class _Reader:
    """Reads header fields, refusing any length that runs past the end of the file."""

    def __init__(self, stream: BinaryIO, file_size: int) -> None:
        self._stream = stream
        self._size = file_size

    def remaining(self) -> int:
        return self._size - self._stream.tell()

    def read(self, size: int) -> bytes:
        if size > self.remaining():
            raise TruncatedGGUFError("the file ends inside its header")
        data = self._stream.read(size)
        if len(data) != size:
            raise TruncatedGGUFError("the file ends inside its header")
        return data

    def skip(self, size: int) -> None:
        if size > self.remaining():
            raise TruncatedGGUFError("the file ends inside its header")
        self._stream.seek(size, 1)

    def scalar(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def count(self, what: str, smallest_item: int) -> int:
        """A count of items that each take at least ``smallest_item`` bytes of the file."""
        value = self.scalar("<Q")
        if value * smallest_item > self.remaining():
            raise DamagedGGUFError(f"the header claims {value:,} {what}, more than the file can hold")
        return int(value)

    def string(self) -> str:
        size = self.scalar("<Q")
        if size > MAX_STRING_BYTES:
            raise DamagedGGUFError(f"the header claims a text of {size:,} bytes")
        return self.read(size).decode("utf-8", errors="replace")

    def value(self, kind: int, keep_arrays: bool, depth: int = 0) -> Any:
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            if depth >= MAX_ARRAY_DEPTH:
                raise DamagedGGUFError("the header nests arrays too deeply")
            item_kind = self.scalar("<I")
            item_size = struct.calcsize(_SCALARS[item_kind]) if item_kind in _SCALARS else 8
            count = self.count("array items", item_size)
            if not keep_arrays and item_kind in _SCALARS:
                self.skip(item_size * count)
                return count
            items = [self.value(item_kind, keep_arrays, depth + 1) for _ in range(count)]
            return items if keep_arrays else count
        raise DamagedGGUFError(f"unknown GGUF value type {kind}")


def read_gguf_info(path: str | Path, keep_arrays: bool = False) -> GGUFInfo:
    """Parse the header of ``path``. Arrays (e.g. the vocabulary) are kept only as lengths
    unless ``keep_arrays`` is set, which keeps this fast on 256k-token vocabularies.

    Raises ``OSError``, or a ``GGUFError`` for a file that is not GGUF, ends early, or is damaged.
    Every length and count is checked against the file's size before anything is read or
    allocated, so a damaged header costs no more than the file itself.
    """
    path = Path(path)
    file_size = path.stat().st_size
    with path.open("rb", buffering=1 << 20) as stream:
        reader = _Reader(stream, file_size)
        magic = stream.read(4)
        if magic != GGUF_MAGIC:
            raise NotGGUFError(f"{path.name} is not a GGUF file")
        version = reader.scalar("<I")
        if version < 2:
            raise NotGGUFError(f"{path.name} uses GGUF version {version}, which is too old")
        if version > 3:
            raise DamagedGGUFError(f"{path.name} claims GGUF version {version}, which does not exist")
        tensor_count = reader.count("tensors", _MIN_TENSOR_BYTES)
        kv_count = reader.count("metadata entries", _MIN_KV_BYTES)
        info = GGUFInfo(path=path, version=version, file_size=file_size, tensor_count=tensor_count)
        for _ in range(kv_count):
            key = reader.string()
            info.metadata[key] = reader.value(reader.scalar("<I"), keep_arrays)
        info.data_end = _tensor_data_end(reader, tensor_count, info, stream.tell)
    return info


def _tensor_data_end(reader: _Reader, count: int, info: GGUFInfo, tell: Any) -> int:
    end_offset, known = 0, True
    for _ in range(count):
        reader.string()
        n_dims = reader.scalar("<I")
        if not 1 <= n_dims <= MAX_DIMS:
            raise DamagedGGUFError(f"a tensor claims {n_dims} dimensions")
        dims = [reader.scalar("<Q") for _ in range(n_dims)]
        kind, offset = reader.scalar("<I"), reader.scalar("<Q")
        layout = _TYPE_LAYOUT.get(kind)
        if layout is None:
            known = False
            end_offset = max(end_offset, offset)
            continue
        elements = 1
        for dim in dims:
            elements *= dim
        end_offset = max(end_offset, offset + elements * layout[0] // layout[1])
    alignment = info.integer("general.alignment", DEFAULT_ALIGNMENT)
    if alignment <= 0 or alignment & (alignment - 1):
        raise DamagedGGUFError(f"the header claims an alignment of {alignment}")
    data_start = -(-tell() // alignment) * alignment
    return data_start + end_offset if known else data_start + end_offset + 1
