"""The real worker process, driven through its real supervisor, with real GGUF weights."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app.core.generation import GenerationSettings
from app.engine import protocol as p
from app.engine.protocol import ChatTurn, Role, StopReason
from app.engine.runner import FLUSH_INTERVAL_S
from app.ui.supervisor import WorkerState

LONG_PROMPT = "Write a long story about a lighthouse keeper. Use many paragraphs."
TIMEOUT = 60_000


def load(qtbot, sup, path, context=2048):
    with qtbot.waitSignal(sup.model_loaded, timeout=TIMEOUT) as blocker:
        sup.load_model(str(path), context)
    return blocker.args[0]


def ask(qtbot, sup, request_id, text, **settings):
    deltas: list[str] = []
    sup.delta.connect(lambda rid, t, _r: deltas.append(t) if rid == request_id else None)
    with qtbot.waitSignal(
        sup.finished, timeout=TIMEOUT, check_params_cb=lambda d: d.request_id == request_id
    ) as b:
        sup.generate(request_id, [ChatTurn(Role.USER, text)], GenerationSettings(temperature=0.0, **settings))
    return b.args[0], deltas


def test_smollm2_streams_real_tokens_in_coalesced_chunks(qtbot, supervisor, smollm2_path):
    progress: list[float] = []
    supervisor.load_progress.connect(progress.append)
    loaded = load(qtbot, supervisor, smollm2_path)
    assert loaded.architecture == "llama" and loaded.has_chat_template
    assert progress and progress[-1] == 1.0
    done, deltas = ask(qtbot, supervisor, "r1", "What is the capital of France?", max_tokens=60)
    text = "".join(deltas)
    assert "Paris" in text
    assert done.completion_tokens > 0 and done.prompt_tokens > 0
    assert done.tokens_per_s > 0 and done.ttft_ms > 0
    # Coalesced: at most one message per flush interval, however fast tokens come.
    assert len(deltas) <= done.total_ms / (FLUSH_INTERVAL_S * 1000) + 2
    assert supervisor.state is WorkerState.IDLE


def test_gemma3_base_model_streams_with_the_gemma_fallback_template(qtbot, supervisor, gemma3_path):
    loaded = load(qtbot, supervisor, gemma3_path)
    assert loaded.architecture == "gemma3" and not loaded.has_chat_template
    done, deltas = ask(qtbot, supervisor, "g1", "Tell me about the sea.", max_tokens=24)
    assert done.completion_tokens > 0
    assert "".join(deltas).strip()
    assert "<start_of_turn>" not in "".join(deltas)


def test_stop_ends_the_answer_and_keeps_the_partial_text(qtbot, supervisor, smollm2_path):
    load(qtbot, supervisor, smollm2_path)
    deltas: list[str] = []
    supervisor.delta.connect(lambda _rid, t, _r: deltas.append(t))
    supervisor.generate("c1", [ChatTurn(Role.USER, LONG_PROMPT)], GenerationSettings(max_tokens=2000))
    qtbot.waitUntil(lambda: len("".join(deltas)) > 20, timeout=TIMEOUT)
    with qtbot.waitSignal(supervisor.finished, timeout=2000) as blocker:
        started = time.monotonic()
        supervisor.cancel("c1")
    assert blocker.args[0].stop_reason is StopReason.CANCELLED
    assert time.monotonic() - started < 1.0
    assert blocker.args[0].completion_tokens < 2000
    assert "".join(deltas).strip()


def test_worker_killed_mid_answer_is_restarted_and_reloads_the_model(qtbot, supervisor, smollm2_path):
    load(qtbot, supervisor, smollm2_path)
    first_pid = supervisor.worker_pid
    deltas: list[str] = []
    supervisor.delta.connect(lambda _rid, t, _r: deltas.append(t))
    supervisor.generate("k1", [ChatTurn(Role.USER, LONG_PROMPT)], GenerationSettings(max_tokens=2000))
    qtbot.waitUntil(lambda: len(deltas) >= 2, timeout=TIMEOUT)
    interrupted: list[str] = []
    supervisor.interrupted.connect(interrupted.append)
    with qtbot.waitSignal(supervisor.crashed, timeout=5000):
        os.kill(first_pid, signal.SIGKILL)
    assert interrupted == ["k1"]
    assert supervisor.current_request == ""
    # The restarted worker reloads the same model by itself.
    with qtbot.waitSignal(supervisor.model_loaded, timeout=TIMEOUT):
        pass
    assert supervisor.worker_pid != first_pid
    done, text = ask(qtbot, supervisor, "k2", "Say hello.", max_tokens=20)
    assert done.completion_tokens > 0 and "".join(text).strip()


@pytest.mark.parametrize(
    ("fixture", "reason", "words"),
    [
        ("missing_model", "file_missing", "was not found"),
        ("not_a_gguf", "not_gguf", "not a GGUF model file"),
        ("truncated_gguf", "truncated", "is incomplete"),
    ],
)
def test_bad_model_files_get_a_clear_reason(qtbot, supervisor, request, fixture, reason, words):
    path = request.getfixturevalue(fixture)
    with qtbot.waitSignal(supervisor.load_failed, timeout=TIMEOUT) as blocker:
        supervisor.load_model(str(path), 2048)
    code, message = blocker.args
    assert code == reason
    assert words in message and Path(path).name in message
    assert supervisor.state is WorkerState.IDLE  # the worker survived


def test_generating_without_a_model_is_refused_in_words(qtbot, supervisor):
    with qtbot.waitSignal(supervisor.generation_failed, timeout=TIMEOUT) as blocker:
        supervisor.generate("n1", [ChatTurn(Role.USER, "hi")], GenerationSettings())
    assert blocker.args == ["n1", "No model is loaded."] or blocker.args == ("n1", "No model is loaded.")


@pytest.fixture
def missing_model(tmp_path):
    return tmp_path / "gone.gguf"


def test_no_orphan_worker_when_the_ui_process_is_killed(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        from PySide6.QtCore import QCoreApplication
        from app.ui.supervisor import WorkerSupervisor
        app = QCoreApplication([])
        sup = WorkerSupervisor()
        sup.state_changed.connect(lambda s: print(sup.worker_pid, flush=True) if sup.worker_pid else None)
        sup.start()
        app.exec()
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    ui = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, text=True)
    try:
        worker_pid = int(ui.stdout.readline())
        assert _alive(worker_pid)
        ui.kill()
        ui.wait(10)
        deadline = time.monotonic() + 10
        while _alive(worker_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(worker_pid), "the worker outlived its UI process"
    finally:
        ui.kill()


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def conversation_of(turns: int, words: int) -> list[ChatTurn]:
    """A long chat: numbered questions and answers of about ``words`` words each."""
    messages = []
    for turn in range(turns):
        filler = " ".join(f"detail{turn}_{i}" for i in range(words))
        messages.append(ChatTurn(Role.USER, f"Question {turn}: {filler}"))
        messages.append(ChatTurn(Role.ASSISTANT, f"Answer {turn}: noted."))
    messages.append(ChatTurn(Role.USER, "What is the capital of France?"))
    return messages


def test_a_conversation_longer_than_the_context_drops_its_oldest_turns(qtbot, supervisor, smollm2_path):
    load(qtbot, supervisor, smollm2_path, context=512)
    messages = [ChatTurn(Role.SYSTEM, "You are terse."), *conversation_of(12, 40)]
    deltas: list[str] = []
    supervisor.delta.connect(lambda _rid, t, _r: deltas.append(t))
    with qtbot.waitSignal(supervisor.finished, timeout=TIMEOUT) as blocker:
        settings = GenerationSettings(temperature=0.0, max_tokens=32, context_length=512)
        supervisor.generate("o1", messages, settings)
    done = blocker.args[0]
    # Whole exchanges went, oldest first; the prompt and the answer fit the context.
    assert done.dropped_turns >= 2 and done.dropped_turns % 2 == 0
    assert done.prompt_tokens + done.completion_tokens <= 512
    assert done.completion_tokens > 0 and "Paris" in "".join(deltas)


def test_a_message_too_long_for_the_context_alone_is_refused_in_words(qtbot, supervisor, smollm2_path):
    load(qtbot, supervisor, smollm2_path, context=512)
    text = " ".join(f"word{i}" for i in range(2000))
    with qtbot.waitSignal(supervisor.generation_failed, timeout=TIMEOUT) as blocker:
        supervisor.generate("o2", [ChatTurn(Role.USER, text)], GenerationSettings(max_tokens=32))
    assert "too long for the model's context" in blocker.args[1]


def test_stop_also_interrupts_a_long_prompt_evaluation(qtbot, supervisor, gemma3_path):
    load(qtbot, supervisor, gemma3_path, context=8192)
    long_question = " ".join(f"fact{i} is true." for i in range(800))  # ~6,000 tokens: seconds to read
    messages = [ChatTurn(Role.USER, long_question)]
    supervisor.generate("a1", messages, GenerationSettings(temperature=0.0, max_tokens=8))
    qtbot.wait(300)  # well into the evaluation of the prompt
    with qtbot.waitSignal(supervisor.finished, timeout=2000) as blocker:
        started = time.monotonic()
        supervisor.cancel("a1")
    stopped_after = time.monotonic() - started
    done = blocker.args[0]
    assert done.stop_reason is StopReason.CANCELLED and done.completion_tokens == 0
    assert stopped_after < 0.5
    # Nothing half-evaluated stays in the cache: the next question is answered from scratch.
    done, _deltas = ask(qtbot, supervisor, "a2", "Tell me about the sea.", max_tokens=8)
    assert done.prompt_tokens_evaluated == done.prompt_tokens and done.completion_tokens > 0


# --- a load that raises, and lines that make no sense ------------------------------------------


@pytest.fixture
def odd_metadata_gguf(tmp_path) -> Path:
    """A well-formed GGUF whose layer count is a word: nothing in the load path expects that."""
    import gguf
    import numpy as np

    path = tmp_path / "odd-metadata.gguf"
    writer = gguf.GGUFWriter(path, arch="llama")
    writer.add_string("llama.block_count", "many")
    writer.add_uint32("llama.context_length", 2048)
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture
def runaway_manifest(tmp_path) -> Path:
    """A file whose download manifest nests deeper than any JSON reader goes."""
    path = tmp_path / "nested.gguf"
    path.write_text("eggs\n", encoding="utf-8")
    Path(f"{path}.manifest.json").write_text("[" * 100_000, encoding="utf-8")
    return path


@pytest.mark.parametrize("fixture", ["odd_metadata_gguf", "runaway_manifest"])
def test_a_load_that_raises_ends_in_load_failed_and_the_worker_serves_on(
    qtbot, supervisor, request, smollm2_path, fixture
):
    path = request.getfixturevalue(fixture)
    with qtbot.waitSignal(supervisor.load_failed, timeout=TIMEOUT) as blocker:
        supervisor.load_model(str(path), 2048)
    _code, message = blocker.args
    assert message.strip() and "Traceback" not in message  # in words
    assert supervisor.state is WorkerState.IDLE and not supervisor.model_chosen
    load(qtbot, supervisor, smollm2_path)  # the same worker carries on


def bad_lines(rng: random.Random) -> list[bytes]:
    """Lines that are not valid requests, of many kinds; none blank (blank lines are skipped)."""
    samples = [
        p.LoadModel(model_path="/m.gguf", context_length=4096),
        p.Generate(
            request_id="r",
            messages=[ChatTurn(Role.USER, "hé", [p.MediaRef(p.MediaKind.IMAGE, "/a.png")])],
            settings=GenerationSettings(temperature=0.5),
        ),
        p.Cancel(request_id="r"),
        p.UnloadModel(),
    ]
    encoded = [m.encode().rstrip(b"\n") for m in samples]
    lines: list[bytes] = []
    for _ in range(200):  # random bytes, mostly not even UTF-8
        line = rng.randbytes(rng.randint(1, 120)).replace(b"\n", b"?")
        lines.append(line if line.strip() else b"\x00")
    for _ in range(60):  # valid requests cut short
        line = rng.choice(encoded)
        lines.append(line[: rng.randint(1, len(line) - 1)])
    for _ in range(80):  # a value of the wrong kind somewhere, nested ones included
        data = json.loads(rng.choice(encoded))
        wrong_somewhere(data, rng)
        lines.append(json.dumps(data).encode())
    for _ in range(20):  # a field nobody knows
        data = json.loads(rng.choice(encoded))
        rng.choice(list(objects_in(data)))[f"extra{rng.randint(0, 99)}"] = 1
        lines.append(json.dumps(data).encode())
    lines += [
        b'{"type": "load_model"}',
        b'{"type": "generate", "request_id": "r"}',
        b'{"type": "generate", "request_id": "r", "messages": [{"content": "x"}]}',
        b'{"type": "generate", "request_id": "r", "messages": [{"role": "user", "content": "x", '
        b'"attachments": [{"kind": "image"}]}]}',
        b'{"type": "generate", "request_id": "r", "messages": [], "settings": {"max_tokens": 1e400}}',
        b'{"type": "generate", "request_id": "r", "messages": [], "settings": {"top_k": 1'
        + b"0" * 30
        + b"}}",
        b'{"type": "load_model", "model_path": "m", "context_length": 999999999999999999999999999}',
        b'{"type": "cancel", "request_id": ' + b"9" * 5000 + b"}",
        b"[" * 100_000,
        b'{"a":' * 5_000,
        b'{"type": "generate", "request_id": "r", "messages": ' + b"[" * 500 + b"]" * 500 + b"}",
        b'{"type": "generate", "request_id": "r", "messages": [{"role": "user", "content": "caf\xe9"}]}',
        b"\xef\xbb\xbf" + encoded[3],  # a byte-order mark first
        b"a" * 1_000_000,
        b"42",
        b'"unload_model"',
        b"null",
        b'{"type": null}',
        # Well-formed, but what the worker says, not what it is told.
        p.Hello(protocol=p.PROTOCOL_VERSION, app_version="x", pid=1).encode().rstrip(),
        p.Done(request_id="r", stop_reason=p.StopReason.END).encode().rstrip(),
        p.Error(message="echo").encode().rstrip(),
    ]
    return lines


WRONG = {
    str: [0, 1.5, True, None, [], {}],
    bool: [0, 1, "true", None],
    int: ["1", 1.5, True, None, []],
    float: ["0.5", True, None, {}],
    list: ["x", 3, {}, None],
    dict: ["x", 3, [], None],
}


# Fields that hold any JSON (a tool's arguments, a schema): nothing inside them is wrong or unknown.
FREE_FORM = {"arguments", "parameters", "response", "response_schema"}


def objects_in(data):
    """Every JSON object within ``data`` that is a record of the protocol, itself included."""
    if isinstance(data, dict):
        yield data
        for key, value in data.items():
            if key not in FREE_FORM:
                yield from objects_in(value)
    elif isinstance(data, list):
        for value in data:
            yield from objects_in(value)


def wrong_somewhere(data: dict, rng: random.Random) -> None:
    """Replace one value (at any depth) with one of another JSON kind: never valid in this protocol."""
    places = [(obj, key) for obj in objects_in(data) for key in obj]
    obj, key = rng.choice(places)
    obj[key] = rng.choice(WRONG[type(obj[key])])


def test_the_worker_answers_every_bad_line_with_one_error_and_keeps_serving():
    lines = bad_lines(random.Random(2026))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    worker = subprocess.Popen(
        [sys.executable, "-m", "app", "--worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    requests = b"".join(line + b"\n" for line in lines) + p.UnloadModel().encode()
    output, _ = worker.communicate(requests, timeout=120)  # stdin then closes: the worker ends
    answers = [p.decode(line) for line in output.splitlines()]  # all of them readable
    assert isinstance(answers[0], p.Hello)
    errors = answers[1:-1]
    assert len(errors) == len(lines) and all(isinstance(a, p.Error) for a in errors)
    assert isinstance(answers[-1], p.ModelUnloaded)  # still serving after all that
    assert worker.returncode == 0  # and it ended because it was told, not because it broke


def test_the_worker_gives_up_a_thread_while_another_program_keeps_a_core_busy(
    qtbot, supervisor, smollm2_path
):
    from app.core.cpu_cores import detect_topology

    cores = detect_topology().performance
    load(qtbot, supervisor, smollm2_path)
    idle, _ = ask(qtbot, supervisor, "idle", "Say hello.", max_tokens=8)
    assert idle.threads == cores
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(2.5)  # the worker reads the load once a second
        busy, _ = ask(qtbot, supervisor, "busy", "Say hello.", max_tokens=8)
    finally:
        burner.kill()
        burner.wait()
    assert busy.threads == max(1, cores - 1)
    time.sleep(2.5)
    again, _ = ask(qtbot, supervisor, "again", "Say hello.", max_tokens=8)
    assert again.threads == cores
