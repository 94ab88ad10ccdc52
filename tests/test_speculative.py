"""Speculative decoding through the real worker: a drafter guesses tokens, the model checks them,
and the answer is the one the model gives alone, token for token. SmolLM2 drafting for itself
guesses almost every token right, which shows the checking, not a speed-up; the tiny Gemma 4
drafting for itself takes a picture and a sound on the way. The tiny Gemma 4 assistant goes
through llama.cpp's real multi-token-prediction path, reading the model's own cache; its random
weights guess little, but every guess is checked the same way."""

from __future__ import annotations

import time
from pathlib import Path

from app.core.generation import GenerationSettings
from app.engine.protocol import ChatTurn, Done, ModelLoaded, Role, StopReason
from app.engine.speculative import DRAFT_MAX
from tests.test_multimodal import FIXTURES, MODEL, PROJECTOR, audio, image
from tests.test_unified_projector import drawing, tone

TIMEOUT = 120_000
ASSISTANT = FIXTURES / "tiny-gemma4-assistant.gguf"
STORY = "Write a long story about a lighthouse keeper who finds a message in a bottle after a storm."


def load(
    qtbot, supervisor, model: Path, draft: Path | str, projector: Path | None = None, context: int = 2048
) -> ModelLoaded:
    with qtbot.waitSignal(supervisor.model_loaded, timeout=TIMEOUT) as blocker:
        supervisor.load_model(str(model), context, str(projector or ""), draft_path=str(draft))
    return blocker.args[0]


def answer(qtbot, supervisor, request_id: str, turns: list[ChatTurn], **settings) -> tuple[Done, str]:
    finished: list[Done] = []
    failures: list[str] = []
    pieces: list[str] = []
    supervisor.finished.connect(lambda done: finished.append(done) if done.request_id == request_id else None)
    supervisor.generation_failed.connect(
        lambda rid, words: failures.append(words) if rid == request_id else None
    )
    supervisor.delta.connect(lambda rid, text, _reasoning: pieces.append(text) if rid == request_id else None)
    chosen = {"temperature": 0.0, "max_tokens": 96, **settings}
    supervisor.generate(request_id, turns, GenerationSettings(**chosen))
    qtbot.waitUntil(lambda: bool(finished or failures), timeout=TIMEOUT)
    assert not failures, failures
    return finished[0], "".join(pieces)


def test_a_model_drafting_for_itself_answers_exactly_as_it_does_alone(qtbot, supervisor, smollm2_path):
    loaded = load(qtbot, supervisor, smollm2_path, smollm2_path)
    assert loaded.drafter == "draft model" and not loaded.draft_problem
    turns = [ChatTurn(Role.USER, STORY)]
    alone, alone_text = answer(qtbot, supervisor, "alone", turns, speculative=False)
    drafted, drafted_text = answer(qtbot, supervisor, "drafted", turns)
    assert alone.draft_steps == 0  # the setting turns drafting off
    assert drafted_text == alone_text and drafted.completion_tokens == alone.completion_tokens == 96
    # Its own guesses are all right (a greedy answer), so nearly every step keeps all of them.
    assert drafted.draft_steps < 96 / 3
    assert drafted.draft_accepted / drafted.draft_steps > DRAFT_MAX - 0.5


def test_sampling_with_drafts_draws_what_the_model_draws_alone(qtbot, supervisor, smollm2_path):
    """Each kept token is drawn by the model's own sampler from its own logits, one draw per
    token as without a draft: from the same seed, the same answer, at any temperature."""
    load(qtbot, supervisor, smollm2_path, smollm2_path)
    turns = [ChatTurn(Role.USER, STORY)]
    for seed in (3, 11):
        settings = {"temperature": 1.0, "seed": seed}
        alone, alone_text = answer(qtbot, supervisor, f"alone{seed}", turns, speculative=False, **settings)
        drafted, drafted_text = answer(qtbot, supervisor, f"drafted{seed}", turns, **settings)
        assert drafted_text == alone_text and drafted.completion_tokens == alone.completion_tokens
        assert drafted.draft_steps > 0


def test_a_draft_of_another_vocabulary_is_refused_in_words(qtbot, supervisor, smollm2_path, gemma3_path):
    loaded = load(qtbot, supervisor, smollm2_path, gemma3_path)
    assert loaded.drafter == ""
    assert "“gemma-3-270m-q4_k_m.gguf” cannot draft for this model" in loaded.draft_problem
    done, text = answer(qtbot, supervisor, "a1", [ChatTurn(Role.USER, "Say hello.")], max_tokens=12)
    assert done.completion_tokens > 0 and text.strip() and done.draft_steps == 0


def test_stop_and_follow_ups_keep_the_cache_right(qtbot, supervisor, smollm2_path):
    load(qtbot, supervisor, smollm2_path, smollm2_path)
    pieces: list[str] = []
    supervisor.delta.connect(lambda rid, text, _r: pieces.append(text) if rid == "long" else None)
    turns = [ChatTurn(Role.USER, STORY)]
    supervisor.generate("long", turns, GenerationSettings(temperature=0.0, max_tokens=2000))
    qtbot.waitUntil(lambda: len("".join(pieces)) > 40, timeout=TIMEOUT)
    with qtbot.waitSignal(supervisor.finished, timeout=5000) as blocker:
        started = time.monotonic()
        supervisor.cancel("long")
    stopped: Done = blocker.args[0]
    assert stopped.stop_reason is StopReason.CANCELLED and time.monotonic() - started < 1.0
    assert stopped.draft_steps > 0
    # The follow-up carries the stopped answer: the cache holds it exactly, guesses left out.
    turns += [ChatTurn(Role.ASSISTANT, "".join(pieces)), ChatTurn(Role.USER, "Go on.")]
    follow_up, _text = answer(qtbot, supervisor, "go-on", turns, max_tokens=24)
    assert follow_up.prompt_tokens_evaluated < 24
    # And a whole answer, read back in the next prompt, is reused the same way.
    _done, text = answer(
        qtbot, supervisor, "whole", [ChatTurn(Role.USER, "Name three birds.")], max_tokens=40
    )
    turns = [
        ChatTurn(Role.USER, "Name three birds."),
        ChatTurn(Role.ASSISTANT, text),
        ChatTurn(Role.USER, "Why?"),
    ]
    follow_up, drafted_text = answer(qtbot, supervisor, "why", turns, max_tokens=8)
    assert follow_up.prompt_tokens_evaluated < 16
    _alone, alone_text = answer(qtbot, supervisor, "why-alone", turns, max_tokens=8, speculative=False)
    assert drafted_text == alone_text


def test_stop_interrupts_a_draft_model_reading_a_long_prompt(qtbot, supervisor, smollm2_path):
    """A draft model reads the prompt at its first guess, after the answer's first token: Stop
    must not wait for that read."""
    load(qtbot, supervisor, smollm2_path, smollm2_path, context=8192)
    pieces: list[str] = []
    supervisor.delta.connect(lambda rid, text, _r: pieces.append(text) if rid == "long" else None)
    question = " ".join(f"Note {number}: the lighthouse keeper counted the ships." for number in range(150))
    turns = [ChatTurn(Role.USER, question + " Now tell me a story.")]
    supervisor.generate("long", turns, GenerationSettings(temperature=0.0, max_tokens=500))
    qtbot.waitUntil(lambda: bool(pieces), timeout=TIMEOUT)  # the model read it; the draft starts now
    with qtbot.waitSignal(supervisor.finished, timeout=5000) as blocker:
        started = time.monotonic()
        supervisor.cancel("long")
    assert blocker.args[0].stop_reason is StopReason.CANCELLED
    assert time.monotonic() - started < 0.5
    follow_up, _text = answer(qtbot, supervisor, "again", turns, max_tokens=16)
    assert follow_up.draft_steps > 0  # the draft caught up with what it had not read


def test_pictures_and_sound_go_with_a_draft(qtbot, supervisor, tmp_path):
    """The drafter sees the text only; the model, which sees all, checks every guess."""
    load(qtbot, supervisor, MODEL, MODEL, PROJECTOR)
    picture = image(drawing(tmp_path, "circle.png", (320, 240)))
    turns = [
        ChatTurn(Role.USER, "What is this, and what is that sound?", [picture, audio(tone(tmp_path, 1.0))])
    ]
    alone, alone_text = answer(qtbot, supervisor, "alone", turns, speculative=False, max_tokens=48)
    drafted, drafted_text = answer(qtbot, supervisor, "drafted", turns, max_tokens=48)
    assert drafted.media_encodes == 0  # both kept in the cache from the first answer
    assert drafted_text == alone_text and drafted.completion_tokens == alone.completion_tokens
    assert drafted.draft_steps > 0 and drafted.draft_accepted > 0


def test_the_window_loads_a_chosen_draft_and_shows_the_guesses_kept(qtbot, hearth_home, smollm2_path):
    from dataclasses import replace

    from app.core.paths import resolve_paths
    from app.ui.application import build
    from app.ui.chat.message_layout import describe_stats

    paths = resolve_paths(hearth_home).ensure()
    hearth = build(paths, model=str(smollm2_path), theme="light")
    window = hearth.window
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: hearth.supervisor.loaded_model is not None, timeout=TIMEOUT)
        assert hearth.supervisor.loaded_model.drafter == ""  # no assistant next to it: none by default
        menu = window.menus.drafter_menu  # File › Drafter, filled as it opens
        menu.aboutToShow.emit()
        labels = [action.text() for action in menu.actions()]
        assert labels[0] == "No drafter: the model writes every token itself"
        assert any(action.text().startswith("Automatic") and action.isChecked() for action in menu.actions())
        # The user picks a draft model (here the model itself): it loads again with it.
        window.replace_settings(replace(window.settings, drafts={str(smollm2_path): str(smollm2_path)}))
        with qtbot.waitSignal(hearth.supervisor.model_loaded, timeout=TIMEOUT) as blocker:
            window.reload_model()
        assert blocker.args[0].drafter == "draft model"
        assert window.settings_panel.speculative.isChecked()  # on by default
        window.composer.set_text("Name three rivers.")
        window.composer.submit()
        qtbot.waitUntil(lambda: not window.controller.busy, timeout=TIMEOUT)
        answer = window.conversation.row_at(window.conversation.rowCount() - 1).message
        assert answer.stats["accepted_per_step"] > 0
        assert "drafted tokens kept per step" in describe_stats(answer.stats)
    finally:
        hearth.shutdown()


def test_an_mtp_assistant_drafts_and_the_answers_stay_the_model_s_own(qtbot, supervisor, tmp_path):
    loaded = load(qtbot, supervisor, MODEL, ASSISTANT, PROJECTOR)
    assert loaded.drafter == "mtp" and Path(loaded.draft_path) == ASSISTANT
    steps = guesses = 0
    questions = ["Hello there.", "Write a poem.", "Why is the sky blue?", "hi"]
    for number, question in enumerate(questions):
        turns = [ChatTurn(Role.USER, question)]
        alone, alone_text = answer(
            qtbot, supervisor, f"alone{number}", turns, speculative=False, max_tokens=64
        )
        drafted, drafted_text = answer(qtbot, supervisor, f"mtp{number}", turns, max_tokens=64)
        assert drafted_text == alone_text and drafted.completion_tokens == alone.completion_tokens
        assert drafted.draft_accepted <= drafted.draft_guesses
        steps, guesses = steps + drafted.draft_steps, guesses + drafted.draft_guesses
    # Random weights guess right about once in thirty steps (when the model repeats a token, which
    # this assistant guesses again): what is kept is counted as for any drafter, whose test above
    # keeps nearly everything.
    assert steps > 0 and guesses >= steps
    # A picture and a sound: the second answer reads them from the cache the first one left.
    turns = [ChatTurn(Role.USER, "What is this, and that?", [image(drawing(tmp_path, "c.png", (320, 240)))])]
    turns[0].attachments.append(audio(tone(tmp_path, 1.0)))
    alone, alone_text = answer(qtbot, supervisor, "media-alone", turns, speculative=False, max_tokens=32)
    drafted, drafted_text = answer(qtbot, supervisor, "media-mtp", turns, max_tokens=32)
    assert drafted_text == alone_text and drafted.media_encodes == 0 and drafted.draft_steps > 0


def test_an_assistant_installed_next_to_its_model_is_found(qtbot, supervisor, tmp_path):
    import shutil

    folder = tmp_path / "models"
    folder.mkdir()
    model = folder / "tiny-gemma4-Q8_0.gguf"
    shutil.copy(MODEL, model)
    shutil.copy(ASSISTANT, folder / "tiny-gemma4-assistant-Q8_0.gguf")
    loaded = load(qtbot, supervisor, model, "auto")
    assert loaded.drafter == "mtp" and loaded.draft_path == str(folder / "tiny-gemma4-assistant-Q8_0.gguf")
    (folder / "tiny-gemma4-assistant-Q8_0.gguf").unlink()
    assert load(qtbot, supervisor, model, "auto").drafter == ""


def test_an_assistant_for_another_model_is_refused_in_words(qtbot, supervisor, smollm2_path):
    loaded = load(qtbot, supervisor, smollm2_path, ASSISTANT)
    assert loaded.drafter == ""
    assert "Gemma 4 assistants draft for Gemma 4 models" in loaded.draft_problem
    done, text = answer(qtbot, supervisor, "a1", [ChatTurn(Role.USER, "Say hello.")], max_tokens=12)
    assert done.completion_tokens > 0 and text.strip()


def test_an_engine_that_stops_while_loading_a_drafter_loads_the_model_alone(qtbot, supervisor):
    import os
    import signal

    supervisor.start()
    qtbot.waitUntil(lambda: supervisor.worker_pid != 0, timeout=TIMEOUT)
    with qtbot.waitSignal(supervisor.model_loaded, timeout=TIMEOUT) as blocker:
        supervisor.load_model(str(MODEL), 2048, "", draft_path=str(ASSISTANT))
        # What a bad pointer in llama.cpp's assistant loading would do, before the load can end.
        os.kill(supervisor.worker_pid, signal.SIGSEGV)
    loaded = blocker.args[0]
    assert loaded.drafter == "" and loaded.model_path == str(MODEL)
    assert loaded.draft_problem.startswith(
        "The engine stopped while loading a drafter for “tiny-gemma4.gguf”"
    )
    # For the rest of this run, the model loads without one, and says why.
    again = load(qtbot, supervisor, MODEL, "auto")
    assert again.drafter == "" and again.draft_problem == loaded.draft_problem
