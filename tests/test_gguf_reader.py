"""The GGUF header reader treats every file as foreign input: damaged counts, lengths, types,
alignments and shapes end in a ``GGUFError`` that says what is wrong, quickly and without
allocating what the header claims."""

from __future__ import annotations

import math
import struct
import time
from pathlib import Path

import pytest

from app.gguf import reader
from app.gguf.reader import DamagedGGUFError, GGUFError, GGUFInfo, TruncatedGGUFError, read_gguf_info
from tests.gguf_mutants import (
    ARRAY,
    BOOL,
    F32,
    I32,
    STRING,
    U8,
    U32,
    U64,
    gguf_bytes,
    gguf_string,
    mutants,
)

TINY_GEMMA4 = Path(__file__).parent / "fixtures" / "tiny-gemma4.gguf"
BASIC = [("general.architecture", STRING, "llama"), ("llama.block_count", U32, 2)]


def write(tmp_path: Path, data: bytes, name: str = "model.gguf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_well_formed_header_is_read(tmp_path):
    data = gguf_bytes(
        [*BASIC, ("llama.per_layer", ARRAY, (I32, [1, 2])), ("general.alignment", U32, 64)],
        [("w", (32, 2), 0, 0)],
        bytes(512),  # the builder pads the header to 32 bytes, not 64: room for either
    )
    info = read_gguf_info(write(tmp_path, data), keep_arrays=True)
    assert info.architecture == "llama" and info.metadata["llama.per_layer"] == [1, 2]
    assert info.types["llama.per_layer"] == (ARRAY, I32, 2) and info.types["llama.block_count"] == (U32,)
    assert not info.is_truncated


@pytest.mark.parametrize(
    ("counts", "words"),
    [
        ((2**64 - 1, 2), "tensors"),
        ((0, 2**64 - 1), "metadata entries"),
        ((0, reader.MAX_ENTRIES + 1), "metadata entries"),  # fits the file, but no model has as many
    ],
)
def test_counts_beyond_the_file_or_any_model_are_refused_before_reading(tmp_path, counts, words):
    data = gguf_bytes(BASIC, counts=counts) + bytes(14 * (reader.MAX_ENTRIES + 2))
    with pytest.raises(DamagedGGUFError, match=words):
        read_gguf_info(write(tmp_path, data))


def test_a_text_longer_than_the_file_is_refused_without_allocating_it(tmp_path):
    # Where a 10 MB text is claimed in a tiny file, nothing near 10 MB is read.
    data = gguf_bytes(BASIC).replace(gguf_string("llama"), struct.pack("<Q", 10 * 2**20) + b"llama")
    with pytest.raises(TruncatedGGUFError):
        read_gguf_info(write(tmp_path, data))
    huge = gguf_bytes(BASIC).replace(gguf_string("llama"), struct.pack("<Q", 2**62) + b"llama")
    with pytest.raises(DamagedGGUFError, match="text of"):
        read_gguf_info(write(tmp_path, huge))


def test_an_array_of_an_unknown_type_is_refused_even_when_empty(tmp_path):
    data = gguf_bytes([*BASIC, ("odd", ARRAY, (77, []))])
    with pytest.raises(DamagedGGUFError, match="unknown GGUF value type 77"):
        read_gguf_info(write(tmp_path, data))


def test_arrays_nested_too_deeply_are_refused(tmp_path):
    value: tuple[int, list] = (U8, [1])
    for _ in range(reader.MAX_ARRAY_DEPTH):
        value = (ARRAY, [value])
    with pytest.raises(DamagedGGUFError, match="nests arrays"):
        read_gguf_info(write(tmp_path, gguf_bytes([*BASIC, ("deep", ARRAY, value)])))


def test_a_header_of_countless_tiny_values_stops_at_the_budget(tmp_path, monkeypatch):
    # Empty texts cost 8 bytes each: a damaged count over a zero-filled stretch would otherwise
    # have the reader walk hundreds of millions of them.
    monkeypatch.setattr(reader, "MAX_HEADER_VALUES", 10_000)
    data = gguf_bytes([*BASIC, ("tokenizer.ggml.tokens", ARRAY, (STRING, [""] * 20_000))])
    started = time.perf_counter()
    with pytest.raises(DamagedGGUFError, match="more values than any model"):
        read_gguf_info(write(tmp_path, data))
    assert time.perf_counter() - started < 1.0


def test_a_real_vocabulary_is_skipped_quickly(tmp_path):
    tokens = [f"token{i}" for i in range(300_000)]  # more than Gemma's 262,144
    data = gguf_bytes([*BASIC, ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens))])
    path = write(tmp_path, data)
    started = time.perf_counter()
    info = read_gguf_info(path)
    assert time.perf_counter() - started < 1.0
    assert info.metadata["tokenizer.ggml.tokens"] == 300_000


def test_kept_arrays_beyond_the_budget_are_kept_as_lengths(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "MAX_KEPT_ITEMS", 1_000)
    data = gguf_bytes(
        [
            *BASIC,
            ("llama.attention.head_count_kv", ARRAY, (I32, [4, 4])),
            ("tokenizer.ggml.scores", ARRAY, (F32, [0.5] * 5_000)),
        ]
    )
    info = read_gguf_info(write(tmp_path, data), keep_arrays=True)
    assert info.metadata["llama.attention.head_count_kv"] == [4, 4]
    assert info.metadata["tokenizer.ggml.scores"] == 5_000


def test_a_key_given_twice_is_refused(tmp_path):
    data = gguf_bytes([*BASIC, ("llama.block_count", U32, 3)])
    with pytest.raises(DamagedGGUFError, match="twice"):
        read_gguf_info(write(tmp_path, data))


@pytest.mark.parametrize(
    "alignment",
    [("general.alignment", U32, 0), ("general.alignment", U32, 48), ("general.alignment", STRING, "32")],
)
def test_an_alignment_that_is_not_a_power_of_two_in_32_bits_is_refused(tmp_path, alignment):
    # llama.cpp reads it as a uint32 without checking its type, and stops the process if it is not.
    with pytest.raises(DamagedGGUFError, match="alignment"):
        read_gguf_info(write(tmp_path, gguf_bytes([*BASIC, alignment])))


@pytest.mark.parametrize(
    ("tensor", "words"),
    [
        (("w", (), 0, 0), "0 dimensions"),
        (("w", (1, 1, 1, 1, 1), 0, 0), "5 dimensions"),
        (("w", (2**32, 2**32), 0, 0), "elements"),
        (("w", (2**63,), 0, 0), "elements"),
        (("w", (33,), 2, 0), "do not fit its type"),  # Q4_0 stores rows in blocks of 32
        (("w", (32,), 0, 4), "unaligned"),
        (("w" * 64, (32,), 0, 0), "64 bytes long"),
    ],
)
def test_impossible_tensor_descriptions_are_refused(tmp_path, tensor, words):
    data = gguf_bytes(BASIC, [tensor], bytes(4096))
    with pytest.raises(DamagedGGUFError, match=words):
        read_gguf_info(write(tmp_path, data))


def test_a_tensor_described_twice_is_refused(tmp_path):
    data = gguf_bytes(BASIC, [("w", (32,), 0, 0), ("w", (32,), 0, 128)], bytes(4096))
    with pytest.raises(DamagedGGUFError, match="twice"):
        read_gguf_info(write(tmp_path, data))


def test_tensor_data_past_the_end_of_the_file_is_truncation(tmp_path):
    data = gguf_bytes(BASIC, [("w", (1024,), 0, 0)], bytes(100))
    assert read_gguf_info(write(tmp_path, data)).is_truncated


def test_values_of_the_wrong_type_read_as_absent():
    info = GGUFInfo(
        path=Path("x.gguf"),
        version=3,
        file_size=0,
        metadata={
            "general.architecture": 7,
            "a": "12",
            "b": True,
            "c": math.nan,
            "d": math.inf,
            "e": 2**70,
            "f": [1],
            "g": -3,
            "h": 2.5,
        },
    )
    assert info.architecture == "" and info.chat_template == "" and info.context_length == 0
    assert [info.integer(k, -1) for k in "abcdef"] == [-1] * 6
    assert info.integer("g") == -3 and info.integer("h") == 2


def test_a_name_from_the_file_is_shown_printable_and_short():
    info = GGUFInfo(Path("model.gguf"), 3, 0, {"general.name": "Evil\n\x1b[31mname" + "x" * 10_000})
    assert info.name.startswith("Evil [31mname") and len(info.name) <= 80
    assert GGUFInfo(Path("model.gguf"), 3, 0, {"general.name": "\n\t"}).name == "model"


def test_every_damaged_copy_of_a_real_model_ends_in_a_gguf_error_or_a_header(tmp_path):
    """Hundreds of mutations of a real Gemma 4 file: the reader never raises anything else, and
    never takes long."""
    path = tmp_path / "mutant.gguf"
    kinds: set[str] = set()
    started = time.perf_counter()
    for mutant in mutants(TINY_GEMMA4.read_bytes(), 600, seed=7, templates={}):
        path.write_bytes(mutant.data)
        try:
            for keep in (False, True):
                assert isinstance(read_gguf_info(path, keep_arrays=keep), GGUFInfo)
            kinds.add("read")
        except GGUFError as exc:
            kinds.add(type(exc).__name__)
            assert str(exc)
    assert kinds == {"read", "TruncatedGGUFError", "DamagedGGUFError"}
    assert time.perf_counter() - started < 20


def test_bool_and_small_types_in_arrays_are_read(tmp_path):
    data = gguf_bytes(
        [
            *BASIC,
            ("gemma4.attention.sliding_window_pattern", ARRAY, (BOOL, [True, False])),
            ("x", ARRAY, (U64, [2**64 - 1])),
        ]
    )
    info = read_gguf_info(write(tmp_path, data), keep_arrays=True)
    assert info.metadata["gemma4.attention.sliding_window_pattern"] == [True, False]
    assert info.metadata["x"] == [2**64 - 1]


def test_tokens_the_vocabulary_lists_twice_are_counted_by_their_bytes(tmp_path):
    # llama.cpp stops the whole process on such a vocabulary; two invalid UTF-8 tokens that would
    # read alike once decoded are still different tokens.
    tokens = [b"<bos>", b"a", b"\xff", b"\xfe", b"a", b"<bos>"]
    data = gguf_bytes([*BASIC, ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens))])
    for keep in (False, True):
        assert read_gguf_info(write(tmp_path, data), keep_arrays=keep).duplicate_tokens == 2
    merges = gguf_bytes([*BASIC, ("tokenizer.ggml.merges", ARRAY, (STRING, [b"a b", b"a b"]))])
    assert read_gguf_info(write(tmp_path, merges)).duplicate_tokens == 0
