"""Read a GGUF file's header and metadata in pure Python, without loading the model.

Used before a load to tell the user *why* a file cannot work (not a GGUF, truncated,
unknown architecture, too big for memory) and, later, to estimate memory needs.

A header is foreign input: a damaged download or a hostile file may claim any length, count or
type. Every one is checked against the bytes the file really has and against limits no real
model comes near, so reading a header costs at most about what reading the file's header bytes
costs, and never more than a few seconds.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

_LAYER = re.compile(r"blk\.(\d+)\.")  # a repeating layer's tensors
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
_VOCABULARY = "tokenizer.ggml.tokens"
_UINT32 = 4
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")


class GGUFError(ValueError):
    """The file is not a usable GGUF file; the message says why."""


class NotGGUFError(GGUFError):
    """The file does not start with the GGUF magic bytes."""


class TruncatedGGUFError(GGUFError):
    """The file ends before its header or tensor data does."""


class DamagedGGUFError(GGUFError):
    """The header holds values no real GGUF file has (a length beyond the file, an unknown type)."""


# No real header comes near these; a damaged one may claim anything, and must not make Hearth
# allocate it or spend minutes on it.
MAX_STRING_BYTES = 64 * 1024 * 1024
MAX_ARRAY_DEPTH = 4
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_TENSOR_NAME_BYTES = 63  # GGML_MAX_NAME - 1: llama.cpp refuses longer names
MAX_ENTRIES = 1 << 16  # metadata entries: real models have about a hundred
MAX_TENSORS = 1 << 18  # real models have at most tens of thousands
# Values read one at a time (keys, texts, array items): Gemma's vocabulary, scores, token types and
# merges are about a million. Skipping a text costs well under a microsecond, so this bounds a
# header's reading to a few seconds, however it was made.
MAX_HEADER_VALUES = 1 << 24
# Array items kept with ``keep_arrays`` (a Python object each): beyond this, arrays are kept as
# their lengths, as without ``keep_arrays``.
MAX_KEPT_ITEMS = 1 << 22
_MAX_ELEMENTS = 2**63  # ggml counts elements in an int64
# The smallest a key/value pair (key length, one-byte key, type, one-byte value) and a tensor
# description (name length, one-byte name, dimension count, one dimension, type, offset) can be.
_MIN_KV_BYTES = 8 + 1 + 4 + 1
_MIN_TENSOR_BYTES = 8 + 1 + 4 + 8 + 4 + 8
_MIN_ITEM_BYTES = {_STRING: 8, _ARRAY: 4 + 8}


@dataclass
class GGUFInfo:
    path: Path
    version: int
    file_size: int
    metadata: dict[str, Any] = field(default_factory=dict)
    tensor_count: int = 0
    data_end: int = 0  # where the last tensor's data ends; 0 if a tensor type is unknown
    # key -> GGUF type id, and for arrays (ARRAY, item type, length): what the file says each
    # value is, whether or not the value itself was kept.
    types: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Tokens the vocabulary lists more than once: llama.cpp stops the process on such a file.
    duplicate_tokens: int = 0
    # Bytes of the tensors of each repeating layer ("blk.N."), and of the rest (embeddings, the
    # output layer, norms): what offloading N layers to a GPU moves there.
    layer_bytes: dict[int, int] = field(default_factory=dict)
    other_bytes: int = 0
    output_bytes: int = 0  # of those, the output layer's (0: it shares the token embeddings)

    @property
    def architecture(self) -> str:
        return self.text("general.architecture")

    @property
    def name(self) -> str:
        """A name to show: the file's own, cleaned of control characters and cut short, or the
        file name when it has none."""
        shown = " ".join(
            "".join(c if c.isprintable() else " " for c in self.text("general.name")[:200]).split()
        )
        return shown[:80] or self.path.stem

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
        return int(value) if abs(value) < 2**63 else default  # NaN compares false too

    def is_array(self, key: str) -> bool:
        """Whether the file holds an array for ``key`` (kept as its length unless ``keep_arrays``)."""
        return self.types.get(key, (0,))[0] == _ARRAY

    @property
    def is_truncated(self) -> bool:
        return self.data_end > self.file_size


class _Reader:
    """Reads header fields, refusing any length that runs past the end of the file and any work
    beyond what a real header needs."""

    def __init__(self, stream: BinaryIO, file_size: int) -> None:
        self._stream = stream
        self._size = file_size
        self.position = 0
        self._values_left = MAX_HEADER_VALUES
        self._kept_left = MAX_KEPT_ITEMS

    def remaining(self) -> int:
        return self._size - self.position

    def read(self, size: int) -> bytes:
        if size > self._size - self.position:
            raise TruncatedGGUFError("the file ends inside its header")
        data = self._stream.read(size)
        if len(data) != size:  # the file shrank while being read
            raise TruncatedGGUFError("the file ends inside its header")
        self.position += size
        return data

    def skip(self, size: int) -> None:
        if size > self._size - self.position:
            raise TruncatedGGUFError("the file ends inside its header")
        self._stream.seek(size, 1)
        self.position += size

    def scalar(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def u32(self) -> int:
        return int(_U32.unpack(self.read(4))[0])

    def u64(self) -> int:
        return int(_U64.unpack(self.read(8))[0])

    def spend(self, values: int) -> None:
        self._values_left -= values
        if self._values_left < 0:
            raise DamagedGGUFError("the header holds more values than any model file has")

    def keep(self, items: int) -> bool:
        """Whether ``items`` more array items may be kept as Python objects."""
        if items > self._kept_left:
            return False
        self._kept_left -= items
        return True

    def count(self, what: str, smallest_item: int, most: int | None = None) -> int:
        """A count of items that each take at least ``smallest_item`` bytes of the file."""
        value = self.u64()
        if value * smallest_item > self.remaining():
            raise DamagedGGUFError(f"the header claims {value:,} {what}, more than the file can hold")
        if most is not None and value > most:
            raise DamagedGGUFError(f"the header claims {value:,} {what}, more than any model has")
        return value

    def length(self) -> int:
        size = self.u64()
        if size > MAX_STRING_BYTES:
            raise DamagedGGUFError(f"the header claims a text of {size:,} bytes")
        return size

    def string(self) -> str:
        return self.read(self.length()).decode("utf-8", errors="replace")

    def strings(self, count: int, keep: bool, distinct: set[bytes] | None) -> list[str]:
        """``count`` texts, kept (decoded) only with ``keep``; with ``distinct``, each text's bytes
        are added to it. The vocabulary's hot loop: a million texts in well under a second."""
        read, seek, unpack = self._stream.read, self._stream.seek, _U64.unpack
        texts: list[str] = []
        for _ in range(count):
            raw = read(8)
            if len(raw) != 8:
                raise TruncatedGGUFError("the file ends inside its header")
            size = unpack(raw)[0]
            if size > MAX_STRING_BYTES:
                raise DamagedGGUFError(f"the header claims a text of {size:,} bytes")
            self.position += 8 + size
            if self.position > self._size:
                raise TruncatedGGUFError("the file ends inside its header")
            if not keep and distinct is None:
                seek(size, 1)
                continue
            data = read(size)
            if len(data) != size:
                raise TruncatedGGUFError("the file ends inside its header")
            if distinct is not None:
                distinct.add(data)
            if keep:
                texts.append(data.decode("utf-8", errors="replace"))
        return texts

    def value(
        self, kind: int, keep_arrays: bool, distinct: set[bytes] | None = None, depth: int = 0
    ) -> tuple[Any, tuple[int, ...]]:
        """A value of GGUF type ``kind`` and its type (with, for arrays, item type and length).
        The texts of an array of texts are added to ``distinct`` if given."""
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind]), (kind,)
        if kind == _STRING:
            self.spend(1)
            return self.string(), (kind,)
        if kind != _ARRAY:
            raise DamagedGGUFError(f"unknown GGUF value type {kind}")
        if depth >= MAX_ARRAY_DEPTH:
            raise DamagedGGUFError("the header nests arrays too deeply")
        item_kind = self.u32()
        if item_kind in _SCALARS:
            fmt = _SCALARS[item_kind]
            size = struct.calcsize(fmt)
            count = self.count("array items", size)
            shape = (kind, item_kind, count)
            if keep_arrays and self.keep(count):
                return list(struct.unpack(f"<{count}{fmt[1]}", self.read(size * count))), shape
            self.skip(size * count)
            return count, shape
        if item_kind not in _MIN_ITEM_BYTES:
            raise DamagedGGUFError(f"unknown GGUF value type {item_kind}")
        count = self.count("array items", _MIN_ITEM_BYTES[item_kind])
        shape = (kind, item_kind, count)
        self.spend(count)
        kept = keep_arrays and self.keep(count)
        if item_kind == _STRING:
            texts = self.strings(count, kept, distinct)
            return (texts if kept else count), shape
        items = [self.value(item_kind, keep_arrays, None, depth + 1)[0] for _ in range(count)]
        return (items if kept else count), shape


def read_gguf_info(path: str | Path, keep_arrays: bool = False) -> GGUFInfo:
    """Parse the header of ``path``. Arrays (e.g. the vocabulary) are kept only as lengths
    unless ``keep_arrays`` is set, which keeps this fast on 256k-token vocabularies.

    Raises ``OSError``, or a ``GGUFError`` for a file that is not GGUF, ends early, or is damaged,
    and nothing else. Every length and count is checked against the file's size before anything
    is read or allocated, so a damaged header costs no more than the file itself.
    """
    path = Path(path)
    file_size = path.stat().st_size
    with path.open("rb", buffering=1 << 20) as stream:
        reader = _Reader(stream, file_size)
        if stream.read(4) != GGUF_MAGIC:
            raise NotGGUFError(f"{path.name} is not a GGUF file")
        reader.position = 4
        try:
            return _read_header(reader, path, file_size, keep_arrays)
        except (MemoryError, RecursionError, OverflowError, struct.error) as exc:
            # Bounds above should make these impossible; a damaged header is still the cause.
            raise DamagedGGUFError(f"the header could not be read ({type(exc).__name__})") from None


def _read_header(reader: _Reader, path: Path, file_size: int, keep_arrays: bool) -> GGUFInfo:
    version = reader.u32()
    if version < 2:
        raise NotGGUFError(f"{path.name} uses GGUF version {version}, which is too old")
    if version > 3:
        raise DamagedGGUFError(f"{path.name} claims GGUF version {version}, which does not exist")
    tensor_count = reader.count("tensors", _MIN_TENSOR_BYTES, MAX_TENSORS)
    kv_count = reader.count("metadata entries", _MIN_KV_BYTES, MAX_ENTRIES)
    info = GGUFInfo(path=path, version=version, file_size=file_size, tensor_count=tensor_count)
    for _ in range(kv_count):
        reader.spend(1)
        key = reader.string()
        if key in info.metadata:
            raise DamagedGGUFError(f"the header holds the key “{_short(key)}” twice")
        distinct: set[bytes] | None = set() if key == _VOCABULARY else None
        info.metadata[key], info.types[key] = reader.value(reader.u32(), keep_arrays, distinct)
        if distinct is not None and info.is_array(key):
            info.duplicate_tokens = info.types[key][2] - len(distinct)
    info.data_end = _tensor_data_end(reader, tensor_count, _alignment(info), info)
    return info


def _alignment(info: GGUFInfo) -> int:
    if "general.alignment" not in info.metadata:
        return DEFAULT_ALIGNMENT
    alignment = info.metadata["general.alignment"]
    if info.types["general.alignment"] != (_UINT32,) or alignment <= 0 or alignment & (alignment - 1):
        raise DamagedGGUFError(f"the header claims an alignment of {_short(str(alignment))}")
    return int(alignment)


def _tensor_data_end(reader: _Reader, count: int, alignment: int, info: GGUFInfo) -> int:
    end_offset, known = 0, True
    names: set[str] = set()
    for _ in range(count):
        reader.spend(1)
        size = reader.length()
        if size > MAX_TENSOR_NAME_BYTES:
            raise DamagedGGUFError(f"a tensor name is {size:,} bytes long")
        name = reader.read(size).decode("utf-8", errors="replace")
        if name in names:
            raise DamagedGGUFError(f"the header describes the tensor “{name}” twice")
        names.add(name)
        n_dims = reader.u32()
        if not 1 <= n_dims <= MAX_DIMS:
            raise DamagedGGUFError(f"a tensor claims {n_dims:,} dimensions")
        dims = [reader.u64() for _ in range(n_dims)]
        elements = math.prod(dims)
        if max(dims) >= _MAX_ELEMENTS or elements >= _MAX_ELEMENTS:
            raise DamagedGGUFError(f"the tensor “{name}” claims {elements:,} elements")
        kind, offset = reader.u32(), reader.u64()
        if offset % alignment:
            raise DamagedGGUFError(f"the tensor “{name}” starts at an unaligned offset")
        layout = _TYPE_LAYOUT.get(kind)
        if layout is None:
            known = False
            end_offset = max(end_offset, offset)
            continue
        if dims[0] % layout[1]:
            raise DamagedGGUFError(f"the rows of the tensor “{name}” do not fit its type")
        size = elements * layout[0] // layout[1]
        end_offset = max(end_offset, offset + size)
        layer = _LAYER.match(name)
        if layer is not None:
            number = int(layer.group(1))
            info.layer_bytes[number] = info.layer_bytes.get(number, 0) + size
        else:
            info.other_bytes += size
            if name.startswith("output."):
                info.output_bytes += size
    data_start = -(-reader.position // alignment) * alignment
    return data_start + end_offset if known else data_start + end_offset + 1


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "…"
