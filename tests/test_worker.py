"""The real worker process, driven through its real supervisor, with real GGUF weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app.engine.runner import FLUSH_INTERVAL_S
from app.ui.supervisor import WorkerState, WorkerSupervisor

LONG_PROMPT = "Write a long story about a lighthouse keeper. Use many paragraphs."
TIMEOUT = 60_000


@pytest.fixture
def supervisor(qtbot):
    sup = WorkerSupervisor()
    yield sup
    sup.stop()


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
        sup.generate(request_id, [{"role": "user", "content": text}], {"temperature": 0.0, **settings})
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
    supervisor.generate("c1", [{"role": "user", "content": LONG_PROMPT}], {"max_tokens": 2000})
    qtbot.waitUntil(lambda: len("".join(deltas)) > 20, timeout=TIMEOUT)
    with qtbot.waitSignal(supervisor.finished, timeout=2000) as blocker:
        started = time.monotonic()
        supervisor.cancel("c1")
    assert blocker.args[0].stop_reason == "cancelled"
    assert time.monotonic() - started < 1.0
    assert blocker.args[0].completion_tokens < 2000
    assert "".join(deltas).strip()


def test_worker_killed_mid_answer_is_restarted_and_reloads_the_model(qtbot, supervisor, smollm2_path):
    load(qtbot, supervisor, smollm2_path)
    first_pid = supervisor.worker_pid
    deltas: list[str] = []
    supervisor.delta.connect(lambda _rid, t, _r: deltas.append(t))
    supervisor.generate("k1", [{"role": "user", "content": LONG_PROMPT}], {"max_tokens": 2000})
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
        supervisor.generate("n1", [{"role": "user", "content": "hi"}], {})
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


def conversation_of(turns: int, words: int) -> list[dict]:
    """A long chat: numbered questions and answers of about ``words`` words each."""
    messages = []
    for turn in range(turns):
        filler = " ".join(f"detail{turn}_{i}" for i in range(words))
        messages.append({"role": "user", "content": f"Question {turn}: {filler}"})
        messages.append({"role": "assistant", "content": f"Answer {turn}: noted."})
    messages.append({"role": "user", "content": "What is the capital of France?"})
    return messages


def test_a_conversation_longer_than_the_context_drops_its_oldest_turns(qtbot, supervisor, smollm2_path):
    load(qtbot, supervisor, smollm2_path, context=512)
    messages = [{"role": "system", "content": "You are terse."}, *conversation_of(12, 40)]
    deltas: list[str] = []
    supervisor.delta.connect(lambda _rid, t, _r: deltas.append(t))
    with qtbot.waitSignal(supervisor.finished, timeout=TIMEOUT) as blocker:
        supervisor.generate("o1", messages, {"temperature": 0.0, "max_tokens": 32, "context_length": 512})
    done = blocker.args[0]
    # Whole exchanges went, oldest first; the prompt and the answer fit the context.
    assert done.dropped_turns >= 2 and done.dropped_turns % 2 == 0
    assert done.prompt_tokens + done.completion_tokens <= 512
    assert done.completion_tokens > 0 and "Paris" in "".join(deltas)


def test_a_message_too_long_for_the_context_alone_is_refused_in_words(qtbot, supervisor, smollm2_path):
    load(qtbot, supervisor, smollm2_path, context=512)
    text = " ".join(f"word{i}" for i in range(2000))
    with qtbot.waitSignal(supervisor.generation_failed, timeout=TIMEOUT) as blocker:
        supervisor.generate("o2", [{"role": "user", "content": text}], {"max_tokens": 32})
    assert "too long for the model's context" in blocker.args[1]


def test_stop_also_interrupts_a_long_prompt_evaluation(qtbot, supervisor, gemma3_path):
    load(qtbot, supervisor, gemma3_path, context=8192)
    long_question = " ".join(f"fact{i} is true." for i in range(800))  # ~6,000 tokens: seconds to read
    messages = [{"role": "user", "content": long_question}]
    supervisor.generate("a1", messages, {"temperature": 0.0, "max_tokens": 8})
    qtbot.wait(300)  # well into the evaluation of the prompt
    with qtbot.waitSignal(supervisor.finished, timeout=2000) as blocker:
        started = time.monotonic()
        supervisor.cancel("a1")
    stopped_after = time.monotonic() - started
    done = blocker.args[0]
    assert done.stop_reason == "cancelled" and done.completion_tokens == 0
    assert stopped_after < 0.5
    # Nothing half-evaluated stays in the cache: the next question is answered from scratch.
    done, _deltas = ask(qtbot, supervisor, "a2", "Tell me about the sea.", max_tokens=8)
    assert done.prompt_tokens_evaluated == done.prompt_tokens and done.completion_tokens > 0
