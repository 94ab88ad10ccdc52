"""Damaged and hostile model files, loaded through the real worker process and its real supervisor:
each one ends, in words and within seconds, and the window's event loop never waits on it."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer

from app.ui.supervisor import WorkerState, WorkerSupervisor
from tests.gguf_mutants import GARBAGE_TEMPLATES, Mutant, map_header, mutants, with_string_value

pytestmark = pytest.mark.slow

TINY_GEMMA4 = Path(__file__).parent / "fixtures" / "tiny-gemma4.gguf"
SEED = 20260603
TINY_MUTATIONS = 220  # plus one per garbage template
SMOLLM2_MUTATIONS = 8
SMOLLM2_TEMPLATES = {name: GARBAGE_TEMPLATES[name] for name in ("runaway loop", "syntax error")}
LOAD_LIMIT_S = 10.0
# The worker does all the work; the window only reads its messages. A 10 ms timer shows how long
# the event loop was kept from running.
TICK_MS = 10
MAX_TICK_GAP_S = 0.2
WORKER_READY_MS = 30_000  # a fresh worker, and after a crash the supervisor's restart delay
CONTEXT = 512
TRACEBACK_SIGNS = ("Traceback (most recent call last)", 'File "', "Error:", "<module>")


@dataclass
class Outcome:
    kind: str  # "loaded" or "failed"
    reason: str = ""
    message: str = ""


@dataclass
class TickGaps:
    """The longest time between two ticks of a timer, counted only while armed (the test's own
    work between loads, such as writing a 98 MB file, is not the window's)."""

    armed: bool = False
    last: float = 0.0
    longest: float = 0.0
    gaps: list[float] = field(default_factory=list)

    def arm(self) -> None:
        self.armed, self.last = True, time.perf_counter()

    def disarm(self) -> None:
        self.armed = False

    def tick(self) -> None:
        now = time.perf_counter()
        if self.armed:
            self.longest = max(self.longest, now - self.last)
        self.last = now


def load_each(
    qtbot, sup: WorkerSupervisor, folder: Path, batch: list[Mutant], gaps: TickGaps
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    latest: list[Outcome] = []
    sup.model_loaded.connect(lambda _loaded: latest.append(Outcome("loaded")))
    sup.load_failed.connect(lambda reason, message: latest.append(Outcome("failed", reason, message)))
    errors: list[str] = []
    sup.worker_error.connect(errors.append)
    sup.start()
    for index, mutant in enumerate(batch):
        path = folder / f"mutant-{index:03d}.gguf"
        path.write_bytes(mutant.data)
        # Timed from the moment the worker can take it: a restart after a crash is not the load's.
        qtbot.waitUntil(lambda: sup.state is WorkerState.IDLE, timeout=WORKER_READY_MS)
        latest.clear()
        gaps.arm()
        started = time.perf_counter()
        sup.load_model(str(path), CONTEXT)  # the projector that belongs to it, as the window asks
        try:
            qtbot.waitUntil(lambda: bool(latest), timeout=int(LOAD_LIMIT_S * 1000))
        except AssertionError:
            pytest.fail(
                f"{mutant.name}: still {sup.state.value} after {LOAD_LIMIT_S} s; worker said {errors}"
            )
        elapsed = time.perf_counter() - started
        gaps.disarm()
        outcome = latest[0]
        assert elapsed < LOAD_LIMIT_S, mutant.name
        assert sup.state is not WorkerState.LOADING, mutant.name
        if outcome.kind == "failed":
            assert outcome.reason and outcome.message.strip(), mutant.name
            assert not any(sign in outcome.message for sign in TRACEBACK_SIGNS), (
                mutant.name,
                outcome.message,
            )
            assert len(outcome.message) < 600, mutant.name
        outcomes.append(outcome)
        path.unlink()
    return outcomes


def test_no_damaged_model_file_leaves_the_engine_loading(qtbot, supervisor, smollm2_path, tmp_path):
    tiny = list(mutants(TINY_GEMMA4.read_bytes(), TINY_MUTATIONS, SEED))
    smollm2 = list(mutants(smollm2_path.read_bytes(), SMOLLM2_MUTATIONS, SEED, SMOLLM2_TEMPLATES))
    assert len(tiny) + len(smollm2) >= 200
    gaps = TickGaps()
    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(gaps.tick)
    timer.start()
    outcomes = load_each(qtbot, supervisor, tmp_path, tiny + smollm2, gaps)
    timer.stop()

    reasons = Counter(o.reason or o.kind for o in outcomes)
    longest_ms = gaps.longest * 1000
    print(f"\n{len(outcomes)} damaged files: {dict(reasons)}; longest event-loop gap {longest_ms:.0f} ms")
    assert gaps.longest < MAX_TICK_GAP_S
    # The mutations reach every check, not only the first: each of these is common.
    for reason in ("truncated", "damaged", "broken_chat_template", "load_failed"):
        assert reasons[reason] >= 2, reasons
    assert reasons["loaded"] >= 1  # harmless changes (a name, an unused number) still load
    # A template that never finishes is stopped by its time budget, not by the test's patience.
    runaway = [o for m, o in zip(tiny + smollm2, outcomes, strict=True) if m.name == "template: runaway loop"]
    assert [o.reason for o in runaway] == ["broken_chat_template"] * 2
    assert all("does not finish" in o.message for o in runaway)


def test_a_template_that_runs_away_on_a_longer_chat_ends_that_answer_in_words(qtbot, supervisor, tmp_path):
    # Fine on the one-line check at load; endless once the chat has an earlier exchange.
    template = (
        "{% if messages | length > 1 %}{% for a in range(100000) %}{% for b in range(100000) %}"
        "{% endfor %}{% endfor %}{% endif %}"
        "{% for m in messages %}<|turn>{{ m.role }}\n{{ m.content }}<turn|>\n{% endfor %}<|turn>model\n"
    )
    data = TINY_GEMMA4.read_bytes()
    path = tmp_path / "slow-template.gguf"
    path.write_bytes(with_string_value(data, map_header(data), "tokenizer.chat_template", template))
    with qtbot.waitSignal(supervisor.model_loaded, timeout=30_000):
        supervisor.load_model(str(path), CONTEXT, projector_path="")

    chat = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "And now?"},
    ]
    with qtbot.waitSignal(supervisor.generation_failed, timeout=15_000) as failed:
        supervisor.generate("long", chat, {"max_tokens": 4})
    request_id, message = failed.args
    assert request_id == "long" and "chat template does not finish" in message
    assert "stopped after 5 seconds" in message

    # The worker is free again: a chat the template can handle is answered.
    with qtbot.waitSignal(supervisor.finished, timeout=15_000) as done:
        supervisor.generate("short", chat[:1], {"max_tokens": 4, "temperature": 0.0})
    assert done.args[0].request_id == "short" and supervisor.state is WorkerState.IDLE


# --- the runner itself, in this process ----------------------------------------------------------


def mappings_of(path: Path) -> int:
    """How many times this process maps ``path``: llama.cpp maps a model file while it holds it."""
    return Path("/proc/self/maps").read_text().count(str(path))


def test_a_failure_after_llama_cpp_has_the_model_frees_it(tmp_path):
    from app.engine.model_check import LoadProblem, ModelLoadError
    from app.engine.runner import ModelRunner

    data = TINY_GEMMA4.read_bytes()
    path = tmp_path / "broken-template.gguf"
    path.write_bytes(with_string_value(data, map_header(data), "tokenizer.chat_template", "{% for %}"))
    runner = ModelRunner()
    for _ in range(3):
        with pytest.raises(ModelLoadError) as caught:
            runner.load(str(path), CONTEXT, 1, lambda _f: None)
        assert caught.value.problem is LoadProblem.BROKEN_CHAT_TEMPLATE
        assert "chat template cannot be read" in caught.value.message
        assert not runner.loaded and mappings_of(path) == 0

    # The same for a projector that is not one: the model asked for with it is not kept either.
    runner.load(str(TINY_GEMMA4), CONTEXT, 1, lambda _f: None)
    assert runner.loaded
    with pytest.raises(ModelLoadError) as caught:
        runner.load(str(TINY_GEMMA4), CONTEXT, 1, lambda _f: None, projector_path=str(path))
    assert caught.value.problem is LoadProblem.PROJECTOR_MISMATCH
    assert caught.value.message == "The projector “broken-template.gguf” does not fit this model."
    assert not runner.loaded and mappings_of(TINY_GEMMA4) == 0
