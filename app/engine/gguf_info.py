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


class NotGGUFError(ValueError):
    """The file does not start with the GGUF magic bytes."""


class TruncatedGGUFError(ValueError):
    """The file ends before its header or tensor data does."""


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
        return str(self.metadata.get("general.architecture", ""))

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name", "") or self.path.stem)

    @property
    def chat_template(self) -> str:
        return str(self.metadata.get("tokenizer.chat_template", ""))

    @property
    def context_length(self) -> int:
        return int(self.metadata.get(f"{self.architecture}.context_length", 0) or 0)

    @property
    def is_truncated(self) -> bool:
        return self.data_end > self.file_size


class _Reader:
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def read(self, size: int) -> bytes:
        data = self._stream.read(size)
        if len(data) != size:
            raise TruncatedGGUFError("the file ends inside its header")
        return data

    def scalar(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        return self.read(self.scalar("<Q")).decode("utf-8", errors="replace")

    def value(self, kind: int, keep_arrays: bool) -> Any:
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.scalar("<I"), self.scalar("<Q")
            if not keep_arrays and item_kind in _SCALARS:
                self.read(struct.calcsize(_SCALARS[item_kind]) * count)
                return count
            items = [self.value(item_kind, keep_arrays) for _ in range(count)]
            return items if keep_arrays else count
        raise ValueError(f"unknown GGUF value type {kind}")


def read_gguf_info(path: str | Path, keep_arrays: bool = False) -> GGUFInfo:
    """Parse the header of ``path``. Arrays (e.g. the vocabulary) are kept only as lengths
    unless ``keep_arrays`` is set, which keeps this fast on 256k-token vocabularies."""
    path = Path(path)
    file_size = path.stat().st_size
    with path.open("rb", buffering=1 << 20) as stream:
        reader = _Reader(stream)
        magic = stream.read(4)
        if magic != GGUF_MAGIC:
            raise NotGGUFError(f"{path.name} is not a GGUF file")
        version = reader.scalar("<I")
        if version < 2:
            raise NotGGUFError(f"{path.name} uses GGUF version {version}, which is too old")
        tensor_count, kv_count = reader.scalar("<Q"), reader.scalar("<Q")
        info = GGUFInfo(path=path, version=version, file_size=file_size, tensor_count=tensor_count)
        for _ in range(kv_count):
            key = reader.string()
            info.metadata[key] = reader.value(reader.scalar("<I"), keep_arrays)
        info.data_end = _tensor_data_end(reader, tensor_count, info.metadata, stream.tell)
    return info


def _tensor_data_end(reader: _Reader, count: int, metadata: dict[str, Any], tell: Any) -> int:
    end_offset, known = 0, True
    for _ in range(count):
        reader.string()
        dims = [reader.scalar("<Q") for _ in range(reader.scalar("<I"))]
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
    alignment = int(metadata.get("general.alignment", DEFAULT_ALIGNMENT) or DEFAULT_ALIGNMENT)
    data_start = -(-tell() // alignment) * alignment
    return data_start + end_offset if known else data_start + end_offset + 1
