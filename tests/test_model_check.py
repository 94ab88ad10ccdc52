"""The checks before a load say in words what is wrong with a file, and raise nothing else,
whatever the header holds."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.engine.model_check import (
    LoadProblem,
    ModelLoadError,
    estimate_memory_bytes,
    explain_load_failure,
    preflight,
)
from app.gguf.reader import GGUFInfo, read_gguf_info
from tests.gguf_mutants import ARRAY, F32, I32, I64, STRING, U32, U64, gguf_bytes, mutants

TINY_GEMMA4 = Path(__file__).parent / "fixtures" / "tiny-gemma4.gguf"
LLAMA = [
    ("general.architecture", STRING, "llama"),
    ("llama.block_count", U32, 2),
    ("llama.embedding_length", U32, 64),
    ("llama.attention.head_count", U32, 4),
    ("llama.context_length", U32, 4096),
]


def header(tmp_path: Path, metadata: list[tuple[str, int, object]]) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(gguf_bytes(metadata))
    return path


def replaced(metadata: list[tuple[str, int, object]], key: str, kind: int, value: object) -> list:
    return [(k, kind, value) if k == key else (k, t, v) for k, t, v in metadata]


@pytest.mark.parametrize(
    ("key", "kind", "value"),
    [
        ("llama.block_count", STRING, "thirty"),
        ("llama.embedding_length", F32, float("nan")),
        ("llama.attention.head_count", ARRAY, (STRING, ["a", "b"])),
        ("llama.context_length", STRING, "4096"),
        ("llama.attention.head_count", I32, -4),
        ("llama.embedding_length", U64, 2**63),
    ],
)
def test_metadata_of_the_wrong_type_or_range_never_breaks_the_check(tmp_path, key, kind, value):
    path = header(tmp_path, replaced(LLAMA, key, kind, value))
    try:
        assert preflight(path, 2048).architecture == "llama"  # llama.cpp will say what is wrong
    except ModelLoadError as exc:
        assert exc.problem is LoadProblem.NOT_ENOUGH_MEMORY  # a huge shape is a huge estimate


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("llama.block_count", U32, 0), "claims 0 layers"),
        (("llama.block_count", U32, 513), "claims 513 layers"),
        (("llama.context_length", U32, 2**31), "context of 2,147,483,648 tokens"),
        (("llama.context_length", I64, -1), "context of -1 tokens"),
        (("llama.rope.dimension_count", U32, 65), "rotates 65 dimensions of 16-wide heads"),
    ],
)
def test_shapes_that_would_stop_llama_cpp_itself_are_refused_in_words(tmp_path, change, words):
    # Each of these makes llama.cpp abort the whole process (a GGML_ASSERT) or set out to allocate
    # a context of billions of tokens, rather than fail the load.
    metadata = [m for m in LLAMA if m[0] != change[0]] + [change]
    with pytest.raises(ModelLoadError) as caught:
        preflight(header(tmp_path, metadata), 2048)
    assert caught.value.problem is LoadProblem.DAMAGED and words in caught.value.message
    assert caught.value.message.startswith("“model.gguf” is damaged")


def test_a_gemma4_that_shares_all_but_one_layer_is_refused(tmp_path):
    real = read_gguf_info(TINY_GEMMA4)  # 4 layers, 2 of them sharing: it loads
    assert (real.integer("gemma4.block_count"), real.integer("gemma4.attention.shared_kv_layers")) == (4, 2)
    metadata = [
        ("general.architecture", STRING, "gemma4"),
        ("gemma4.block_count", U32, 4),
        ("gemma4.attention.shared_kv_layers", U32, 3),
    ]
    with pytest.raises(ModelLoadError, match="3 of its 4 layers share"):
        preflight(header(tmp_path, metadata), 2048)


def test_every_damaged_copy_of_a_real_model_passes_or_fails_in_words(tmp_path):
    path = tmp_path / "mutant.gguf"
    problems: set[LoadProblem] = set()
    started = time.perf_counter()
    for mutant in mutants(TINY_GEMMA4.read_bytes(), 600, seed=11, templates={}):
        path.write_bytes(mutant.data)
        try:
            assert preflight(path, 2048).architecture
        except ModelLoadError as exc:
            problems.add(exc.problem)
            assert exc.message and "Traceback" not in exc.message and len(exc.message) < 400
    assert {LoadProblem.TRUNCATED, LoadProblem.DAMAGED} <= problems
    assert time.perf_counter() - started < 20


def test_an_mtp_assistant_opened_as_a_model_is_explained():
    assistant = Path(__file__).resolve().parent / "fixtures" / "tiny-gemma4-assistant.gguf"
    with pytest.raises(ModelLoadError) as refused:
        preflight(assistant, 2048)
    assert refused.value.problem is LoadProblem.UNSUPPORTED_ARCHITECTURE
    assert refused.value.message == (
        "“tiny-gemma4-assistant.gguf” is a Gemma 4 MTP assistant: it guesses tokens for its model and "
        "cannot answer alone. In its model's folder, it drafts for that model whenever it is loaded."
    )


def test_the_memory_estimate_takes_any_values():
    weird: dict[str, object] = {
        "general.architecture": "llama",
        "llama.block_count": "x",
        "llama.attention.head_count": -3,
        "llama.attention.head_count_kv": ["a", None, 4, True, -2],
        "llama.embedding_length": float("inf"),
        "llama.attention.key_length": 128,
        "llama.context_length": -100,
    }
    info = GGUFInfo(Path("m.gguf"), 3, 1000, weird)
    # Per-layer KV heads (read with arrays kept): only the real counts count.
    assert estimate_memory_bytes(info, 2048) == 1000 + 2 * 2 * 4 * 128 * 2048 + 256 * 2**20
    assert estimate_memory_bytes(GGUFInfo(Path("m.gguf"), 3, 10, {}), -5) == 10 + 256 * 2**20


def test_a_load_failure_is_explained_from_llama_cpp_own_error_line():
    info = GGUFInfo(Path("m.gguf"), 3, 10, {"general.architecture": "llama", "general.name": "Smol"})
    log = (
        "llama_model_load: error loading model: check_tensor_dims: tensor 'output.weight' has wrong shape\n"
        "llama_model_load_from_file_impl: failed to load model"
    )
    failure = explain_load_failure(info, log)
    assert failure.problem is LoadProblem.LOAD_FAILED
    assert failure.message == "“Smol” could not be loaded (tensor 'output.weight' has wrong shape)."
    assert "no details were given" in explain_load_failure(info, "").message


def test_foreign_words_in_a_failure_are_shown_printable_and_short():
    info = GGUFInfo(Path("m.gguf"), 3, 10, {"general.architecture": "evil\n\x1b[2J" + "a" * 5000})
    failure = explain_load_failure(info, "x" * 10_000)
    assert failure.problem is LoadProblem.UNSUPPORTED_ARCHITECTURE
    assert failure.message.isprintable() and len(failure.message) < 200


def test_a_vocabulary_with_a_token_twice_is_refused_without_asking_for_a_download(tmp_path):
    # Google's own QAT builds of Gemma 4 have three such tokens; llama.cpp aborts on them.
    tokens = ["<pad>", "<eos>", "<bos>", "a", "b", "a"]
    path = header(tmp_path, [*LLAMA, ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens))])
    with pytest.raises(ModelLoadError) as caught:
        preflight(path, 2048)
    assert caught.value.problem is LoadProblem.DAMAGED
    assert "lists 1 of its vocabulary's tokens twice" in caught.value.message
    assert "downloading it again will not help" in caught.value.message
