"""Damaged copies of a real GGUF file, for fuzzing the loader.

A small map of where a header keeps its lengths, counts, type ids and values lets each mutation
hit the fields a damaged download or a hostile file would: not only random bytes, but a count
made huge, a value type swapped, a chat template replaced. Everything derives from one seed.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
_HUGE = (2**64 - 1, 2**63, 2**63 - 1, 2**32, 2**32 - 1, 2**31, 10**12, 2**40 + 3)


@dataclass(frozen=True)
class Field:
    offset: int
    size: int  # 4 or 8 bytes, little-endian
    role: str  # "count", "length", "type", "dims", "dim", "tensor_type", "offset" or "number"


@dataclass
class HeaderMap:
    """Where the fields of a GGUF header are."""

    fields: list[Field] = field(default_factory=list)
    values: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (value start, end)
    end: int = 0  # where the tensor descriptions end
    alignment: int = 32

    def of(self, *roles: str) -> list[Field]:
        return [f for f in self.fields if f.role in roles]


def map_header(data: bytes) -> HeaderMap:
    """Walk a well-formed GGUF v3 header, noting each field's place."""
    header = HeaderMap()
    pos = 8

    def note(role: str, size: int) -> int:
        nonlocal pos
        header.fields.append(Field(pos, size, role))
        value = int.from_bytes(data[pos : pos + size], "little")
        pos += size
        return value

    def string() -> bytes:
        nonlocal pos
        size = note("length", 8)
        pos += size
        return data[pos - size : pos]

    def value(kind: int) -> None:
        nonlocal pos
        if kind in _SCALAR_SIZES:
            if kind in (4, 5, 10, 11):
                note("number", _SCALAR_SIZES[kind])
            else:
                pos += _SCALAR_SIZES[kind]
        elif kind == _STRING:
            string()
        else:
            item_kind = note("type", 4)
            count = note("count", 8)
            if item_kind in _SCALAR_SIZES:
                pos += count * _SCALAR_SIZES[item_kind]
            else:
                for _ in range(count):
                    value(item_kind)

    tensors, entries = note("count", 8), note("count", 8)
    for _ in range(entries):
        key = string().decode()
        kind = note("type", 4)
        start = pos
        value(kind)
        header.values[key] = (start, pos)
        if key == "general.alignment":
            header.alignment = struct.unpack_from("<I", data, start)[0]
    for _ in range(tensors):
        string()
        dims = note("dims", 4)
        for _ in range(dims):
            note("dim", 8)
        note("tensor_type", 4)
        note("offset", 8)
    header.end = pos
    return header


def with_string_value(data: bytes, header: HeaderMap, key: str, text: str) -> bytes:
    """``data`` with the string ``key`` holds replaced by ``text``; the tensor data stays aligned."""
    start, end = header.values[key]
    encoded = text.encode("utf-8", errors="surrogatepass")
    head = data[:start] + struct.pack("<Q", len(encoded)) + encoded + data[end : header.end]
    data_start = -(-header.end // header.alignment) * header.alignment
    return head + bytes(-len(head) % header.alignment) + data[data_start:]


# Chat templates a damaged or hostile file may carry. Each must end in a clear load error, or
# in a model that loads (a template may fail only on some conversations).
GARBAGE_TEMPLATES = {
    "runaway loop": "{% for a in range(100000) %}{% for b in range(100000) %}{% for c in range(100000) %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "string bomb": "{{ 'x' * 10**12 }}",
    "doubling": "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s }}",
    "power": "{{ 9 ** 9 ** 9 ** 9 }}",
    "recursion": "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
    "raises": "{{ raise_exception('This template refuses every conversation.') }}",
    "syntax error": "{% for m in messages %}{{ m.content ",
    "unknown filter": "{{ messages | no_such_filter }}",
    "undefined call": "{{ no_such_function() }}",
    "unsafe": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "empty": "",
    "blank": "   \n\t  ",
    "plain text": "Hello, I am not a template at all.",
    "nested blocks": "{% if true %}" * 300 + "x" + "{% endif %}" * 300,
    "binary": bytes(range(256)).decode("latin-1"),
}


@dataclass(frozen=True)
class Mutant:
    name: str
    data: bytes


def mutants(
    data: bytes,
    count: int,
    seed: int,
    templates: dict[str, str] = GARBAGE_TEMPLATES,
    template_key: str = "tokenizer.chat_template",
) -> Iterator[Mutant]:
    """Damaged copies of the GGUF file ``data``, the same ones for the same seed: one per garbage
    template in ``templates``, then ``count`` random mutations of the other kinds in turn."""
    rng = random.Random(seed)
    header = map_header(data)
    for label, text in templates.items():
        yield Mutant(f"template: {label}", with_string_value(data, header, template_key, text))
    kinds: list[Callable[[], Mutant]] = [
        lambda: _flip_bytes(rng, data, header),
        lambda: _huge_field(rng, data, header),
        lambda: _small_field(rng, data, header),
        lambda: _swap_type(rng, data, header),
        lambda: _extreme_number(rng, data, header),
        lambda: _truncate(rng, data, header),
    ]
    for index in range(count):
        yield kinds[index % len(kinds)]()


def _put(data: bytes, target: Field, value: int) -> bytes:
    raw = (value % 2 ** (8 * target.size)).to_bytes(target.size, "little")
    return data[: target.offset] + raw + data[target.offset + target.size :]


def _flip_bytes(rng: random.Random, data: bytes, header: HeaderMap) -> Mutant:
    mutated = bytearray(data)
    spots = [rng.randrange(4, header.end) for _ in range(rng.randint(1, 8))]
    for spot in spots:
        mutated[spot] ^= 1 << rng.randrange(8) if rng.random() < 0.5 else rng.randrange(1, 256)
    return Mutant(f"bytes changed at {spots}", bytes(mutated))


def _huge_field(rng: random.Random, data: bytes, header: HeaderMap) -> Mutant:
    target = rng.choice(header.of("count", "length", "dim", "offset", "dims"))
    value = rng.choice([*_HUGE, len(data), len(data) + 1, rng.getrandbits(64)])
    return Mutant(f"{target.role} at {target.offset} set to {value}", _put(data, target, value))


def _small_field(rng: random.Random, data: bytes, header: HeaderMap) -> Mutant:
    target = rng.choice(header.of("count", "length", "dim", "dims"))
    old = int.from_bytes(data[target.offset : target.offset + target.size], "little")
    value = rng.choice([0, 1, max(old - 1, 0), old + 1, old * 2])
    return Mutant(f"{target.role} at {target.offset} set to {value} (was {old})", _put(data, target, value))


def _swap_type(rng: random.Random, data: bytes, header: HeaderMap) -> Mutant:
    target = rng.choice(header.of("type", "tensor_type"))
    value = rng.choice([*range(14), *range(14), 40, 255, 2**31, 2**32 - 1])
    return Mutant(f"{target.role} at {target.offset} set to {value}", _put(data, target, value))


def _extreme_number(rng: random.Random, data: bytes, header: HeaderMap) -> Mutant:
    target = rng.choice(header.of("number"))
    value = rng.choice([0, 1, 2**31 - 1, 2**31, 2**32 - 1, 2**63, 2**64 - 1, rng.getrandbits(32)])
    return Mutant(f"number at {target.offset} set to {value}", _put(data, target, value))


def _truncate(rng: random.Random, data: bytes, header: HeaderMap) -> Mutant:
    end = rng.randrange(0, header.end) if rng.random() < 0.7 else rng.randrange(header.end, len(data))
    return Mutant(f"cut at {end}", data[:end])


# --- crafting headers by hand ------------------------------------------------------------------

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
_PACK = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<?"}
_PACK |= {U64: "<Q", I64: "<q", F64: "<d"}


def gguf_string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(data)) + data


def gguf_value(kind: int, value: object) -> bytes:
    if kind == STRING:
        return gguf_string(value)  # type: ignore[arg-type]
    if kind == ARRAY:
        item_kind, items = value  # type: ignore[misc]
        return struct.pack("<IQ", item_kind, len(items)) + b"".join(gguf_value(item_kind, i) for i in items)
    return struct.pack(_PACK[kind], value)


def gguf_bytes(
    metadata: list[tuple[str, int, object]],
    tensors: list[tuple[str, tuple[int, ...], int, int]] = (),  # type: ignore[assignment]
    data: bytes = b"",
    counts: tuple[int, int] | None = None,
) -> bytes:
    """A GGUF v3 file: ``metadata`` as (key, type, value), ``tensors`` as (name, dims, ggml type,
    offset), then ``data``. ``counts`` overrides the (tensor, metadata) counts the header claims."""
    tensor_count, kv_count = counts or (len(tensors), len(metadata))
    header = b"GGUF" + struct.pack("<IQQ", 3, tensor_count, kv_count)
    for key, kind, value in metadata:
        header += gguf_string(key) + struct.pack("<I", kind) + gguf_value(kind, value)
    for name, dims, ggml_type, offset in tensors:
        header += gguf_string(name) + struct.pack("<I", len(dims))
        header += b"".join(struct.pack("<Q", dim) for dim in dims) + struct.pack("<IQ", ggml_type, offset)
    return header + bytes(-len(header) % 32) + data
