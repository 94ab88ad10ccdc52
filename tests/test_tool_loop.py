"""The tool loop in the real window, with the real worker and the tiny Gemma 4: a call the answer
must make runs, its result goes back to the model, and the answer goes on; calls are stored and
sent again with the chat; a tool that raises or runs too long is answered in words; Stop during a
tool stops the answer; chats without tools, and models that cannot call them, are offered none.

The tiny model's random weights never call a tool unaided: "must use a tool" (the grammar
sampler) is what makes it call, as it is in the product."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.core.paths import resolve_paths
from app.engine import protocol as p
from app.storage.chats import MessageStatus
from app.storage.tool_records import CallState, ToolCallRecord
from app.tools.registry import Tool, ToolError, ToolRegistry
from app.ui.application import Hearth, build
from app.ui.chat.message_layout import Action, Hit
from app.ui.chat.tool_rounds import Approval, rounds_to_send

TINY_GEMMA4 = Path(__file__).resolve().parent / "fixtures" / "tiny-gemma4.gguf"
TIMEOUT = 60_000
NUMBERS = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
}


def add(a: int, b: int) -> int:
    return a + b


def refuse(a: int, b: int) -> int:
    raise ToolError(f"{a} and {b} are not welcome")


def slow(a: int, b: int) -> int:
    time.sleep(1.5)
    return a


def registry(*functions) -> ToolRegistry:
    tools = ToolRegistry()
    for function in functions:
        tools.register(Tool(function.__name__, f"{function.__name__} two numbers", NUMBERS, function))
    return tools


@pytest.fixture
def start_app(qtbot, hearth_home, short_answers):
    apps: list[Hearth] = []

    def start(model: Path = TINY_GEMMA4, *functions, **settings) -> Hearth:
        hearth = build(resolve_paths(hearth_home).ensure(), model=str(model), theme="light")
        qtbot.addWidget(hearth.window)
        apps.append(hearth)
        qtbot.waitUntil(lambda: hearth.supervisor.loaded_model is not None, timeout=TIMEOUT)
        controller = hearth.window.controller
        controller.tools.registry = registry(*functions)
        chat = hearth.window.current_id
        chosen = dataclasses.replace(
            controller.settings_for(chat), **{"seed": 7, "max_tokens": 80, "tools": True, **settings}
        )
        controller.set_chat_settings(chat, chosen, "")
        return hearth

    yield start
    for hearth in apps:
        hearth.shutdown()


@pytest.fixture
def sent(monkeypatch):
    """What each request offered the model (the real worker still gets it)."""
    requests: list[tuple[list[p.ChatTurn], list[p.ToolSpec], p.ToolChoice]] = []

    def spy(hearth: Hearth) -> None:
        real = hearth.supervisor.generate

        def generate(request_id, messages, settings, tools=None, tool_choice=p.ToolChoice.AUTO, chat=""):
            requests.append((messages, tools or [], tool_choice))
            real(request_id, messages, settings, tools, tool_choice, chat=chat)

        monkeypatch.setattr(hearth.supervisor, "generate", generate)

    return requests, spy


def ask(qtbot, hearth: Hearth, text: str, must_use_tool: bool = True):
    controller = hearth.window.controller
    assert controller.send(hearth.window.current_id, text, must_use_tool=must_use_tool)
    qtbot.waitUntil(lambda: not controller.busy, timeout=TIMEOUT)
    return hearth.store.messages(hearth.window.current_id)[-1]


def test_a_call_runs_its_result_reaches_the_model_and_the_answer_goes_on(qtbot, start_app, sent):
    hearth = start_app(TINY_GEMMA4, add)
    requests, spy = sent
    spy(hearth)
    answer = ask(qtbot, hearth, "What is 2 + 3?")
    assert answer.status is MessageStatus.COMPLETE
    first = answer.tool_calls[0]
    assert (first.round, first.name, first.state) == (0, "add", CallState.DONE)
    assert first.result == str(first.arguments["a"] + first.arguments["b"])
    assert answer.stats["tool_calls"] == len(answer.tool_calls)
    # Round 1 was forced; round 2 reads the result back and may call again or answer.
    assert [choice for _m, _t, choice in requests[:2]] == [p.ToolChoice.REQUIRED, p.ToolChoice.AUTO]
    (step, *_) = requests[1][0][-1].tool_steps
    assert step.responses == [p.ToolResponse("add", {"result": first.result})]
    assert [t.name for t in requests[0][1]] == ["add"]

    # A second question: the first answer's calls go back to the model with the chat.
    second = ask(qtbot, hearth, "And 4 + 4?")
    assert second.tool_calls[0].state is CallState.DONE
    earlier = next(t for t in requests[-1][0] if t.id == answer.id)
    assert earlier.tool_steps[0].calls == [p.ToolCall("add", first.arguments)]


def test_a_tool_that_fails_or_runs_too_long_is_answered_in_words(qtbot, start_app):
    hearth = start_app(TINY_GEMMA4, refuse)
    answer = ask(qtbot, hearth, "Try it.")
    assert answer.status is MessageStatus.COMPLETE
    assert answer.tool_calls[0].state is CallState.FAILED and "are not welcome" in answer.tool_calls[0].result

    hearth.window.controller.tools.registry = registry(slow)
    hearth.window.controller.tools.time_limit_s = 0.2
    answer = ask(qtbot, hearth, "Take your time.")
    assert answer.tool_calls[0].state is CallState.FAILED
    assert answer.tool_calls[0].result == "slow took longer than 0.2 s and was given up."


def test_stop_during_a_tool_stops_the_answer(qtbot, start_app, sent):
    hearth = start_app(TINY_GEMMA4, slow)
    requests, spy = sent
    spy(hearth)
    controller = hearth.window.controller
    running: list = []
    controller.tool_calls_changed.connect(running.append)
    assert controller.send(hearth.window.current_id, "Slowly.", must_use_tool=True)
    qtbot.waitUntil(lambda: bool(running), timeout=TIMEOUT)
    assert running[0].tool_calls[0].state is CallState.RUNNING
    controller.stop()
    assert not controller.busy
    answer = hearth.store.messages(hearth.window.current_id)[-1]
    assert answer.status is MessageStatus.STOPPED and answer.tool_calls[0].state is CallState.CANCELLED
    qtbot.wait(2000)  # the tool ends meanwhile: nothing more is asked of the model
    assert len(requests) == 1 and not controller.busy


def test_no_tools_when_the_chat_turns_them_off_or_the_model_cannot_call(qtbot, start_app, sent, smollm2_path):
    requests, spy = sent
    hearth = start_app(TINY_GEMMA4, add, tools=False)
    spy(hearth)
    answer = ask(qtbot, hearth, "Hi", must_use_tool=False)
    assert requests[-1][1] == [] and answer.tool_calls == ()
    hearth.shutdown()

    other = start_app(smollm2_path, add)
    spy(other)
    ask(qtbot, other, "Hi")
    assert requests[-1][1] == [] and not other.supervisor.loaded_model.tools


def test_ctrl_shift_enter_asks_for_a_tool_and_the_card_opens_with_a_click(qtbot, start_app):
    hearth = start_app(TINY_GEMMA4, add)
    window = hearth.window
    editor = window.composer.editor
    editor.setFocus()
    qtbot.keyClicks(editor, "Add 2 and 3")
    modifiers = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(editor, Qt.Key.Key_Return, modifiers)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=TIMEOUT)
    answer = hearth.store.messages(window.current_id)[-1]
    call = answer.tool_calls[0]
    view = window.chat_view
    shown = view.shown(answer.id)
    assert shown.tools[0].startswith(f"add · a = {call.arguments['a']}, b = {call.arguments['b']} · Done")
    assert shown.tool_details == ""
    point = view.button_point(answer.id, Hit(Action.TOOL_CARD, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert f"Result\n{call.result}" in view.shown(answer.id).tool_details

    # The chat's switch: off, and the next answer is offered no tools.
    window.set_tools(False)
    assert not window.controller.settings_for(window.current_id).tools
    assert not window.settings_panel.tools.isChecked()


def peek(a: int, b: int) -> str:
    return f"file {a} line {b}"


def test_a_tool_that_reads_files_asks_first(qtbot, start_app, tmp_path):
    hearth = start_app(TINY_GEMMA4)
    window, controller = hearth.window, hearth.window.controller
    controller.tools.registry = ToolRegistry()
    controller.tools.registry.register(Tool("peek", "Read a file", NUMBERS, peek, reads_files=True))
    window.settings_panel.shared_folders.share(str(tmp_path))
    assert hearth.store.tool_access(window.current_id).folders == (str(tmp_path),)
    bar = window.approval_bar

    assert controller.send(window.current_id, "Peek.", must_use_tool=True)
    qtbot.waitUntil(bar.isVisible, timeout=TIMEOUT)
    assert bar.details.text().startswith("peek(a=") and bar.details.text().endswith(
        f"Shared in this chat: {tmp_path}"
    )
    waiting = controller.as_shown(hearth.store.messages(window.current_id)[-1])
    assert waiting.tool_calls[0].state is CallState.WAITING
    qtbot.mouseClick(bar.buttons[Approval.DENY], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not controller.busy, timeout=TIMEOUT)
    denied = hearth.store.messages(window.current_id)[-1].tool_calls[0]
    assert denied.state is CallState.DENIED and not bar.isVisible()

    assert controller.send(window.current_id, "Peek again.", must_use_tool=True)
    qtbot.waitUntil(bar.isVisible, timeout=TIMEOUT)
    qtbot.mouseClick(bar.buttons[Approval.ALWAYS], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not controller.busy, timeout=TIMEOUT)
    call = hearth.store.messages(window.current_id)[-1].tool_calls[0]
    assert call.state is CallState.DONE and call.result == peek(**call.arguments)
    assert hearth.store.tool_access(window.current_id).always_read

    # Always: no question any more in this chat.
    assert controller.send(window.current_id, "And again.", must_use_tool=True)
    qtbot.waitUntil(lambda: not controller.busy, timeout=TIMEOUT)
    assert hearth.store.messages(window.current_id)[-1].tool_calls[0].state is CallState.DONE
    assert not bar.isVisible()


def test_calls_go_back_to_the_model_by_round_with_the_thought_before_them():
    calls = [
        ToolCallRecord(0, "add", {"a": 1, "b": 2}, CallState.DONE, "3"),
        ToolCallRecord(0, "now", {}, CallState.FAILED, "no clock"),
        ToolCallRecord(1, "add", {"a": 3, "b": 3}, CallState.DENIED, "not allowed"),
        ToolCallRecord(2, "add", {"a": 0, "b": 0}, CallState.RUNNING),  # not finished: not sent
        ToolCallRecord(1, "", {}, CallState.FAILED, "unreadable"),  # no call to answer
    ]
    first, second = rounds_to_send(calls, {0: "Two sums.", 1: ""})
    assert first.reasoning == "Two sums." and second.reasoning == ""
    assert [c.name for c in first.calls] == ["add", "now"]
    assert first.responses == [
        p.ToolResponse("add", {"result": "3"}),
        p.ToolResponse("now", {"error": "no clock"}),
    ]
    assert second.responses == [p.ToolResponse("add", {"error": "not allowed"})]


def test_the_last_round_a_chat_allows_forbids_more_calls(qtbot, start_app, sent):
    hearth = start_app(TINY_GEMMA4, add, max_tool_rounds=1)
    requests, spy = sent
    spy(hearth)
    answer = ask(qtbot, hearth, "Add, once.")
    assert [choice for _m, _t, choice in requests] == [p.ToolChoice.REQUIRED, p.ToolChoice.NONE]
    assert len(answer.tool_calls) == 1 and answer.status is MessageStatus.COMPLETE
