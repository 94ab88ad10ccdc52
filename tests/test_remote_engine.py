"""Remote engines against a real OpenAI-compatible server (llama-cpp-python's own, serving SmolLM2
on 127.0.0.1): models listed, answers streamed, Stop closing the request at once, and every failure
in words (a refused key, a model not served, nothing listening, a server gone mid-answer, a
certificate no authority signed). Then the same through the real worker, and through the app's
Models window."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import Qt

from app.core.generation import GenerationSettings
from app.engine import protocol as p
from app.engine.remote_engine import RemoteError, RemoteRunner, ServerAddress, list_models
from tests.remote_server import RemoteServer, free_port, self_signed

KEY = "s3cret-key"
SETTINGS = GenerationSettings(temperature=0.0, max_tokens=16, seed=1)
TIMEOUT = 120_000


@pytest.fixture(scope="module")
def server(smollm2_path):
    running = RemoteServer(smollm2_path, api_key=KEY)
    yield running
    running.stop()


def loaded(server: RemoteServer, key: str = KEY) -> RemoteRunner:
    runner = RemoteRunner()
    runner.load(server.url, server.model, key, vision=False, audio=False)
    return runner


def answer(
    runner: RemoteRunner, text: str, settings: GenerationSettings = SETTINGS, should_stop=lambda: False
):
    pieces: list[str] = []
    result = runner.generate(
        [p.ChatTurn(p.Role.USER, text)], settings, should_stop, lambda t, _r: pieces.append(t)
    )
    return "".join(pieces), result


def test_addresses_are_read_as_written_and_nothing_else():
    assert ServerAddress.parse("127.0.0.1:8080").url == "http://127.0.0.1:8080/v1"
    assert ServerAddress.parse("https://gpu.example.org/v1/").url == "https://gpu.example.org/v1"
    assert ServerAddress.parse("http://localhost:11434/v1").port == 11434
    for bad in ("ftp://x/v1", "http://user:pw@host/v1", "http://host:99999/v1", "http:///v1"):
        with pytest.raises(RemoteError):
            ServerAddress.parse(bad)


def test_models_are_listed_and_an_answer_streams(server):
    assert [model.name for model in list_models(ServerAddress.parse(server.url), KEY)] == [server.model]
    runner = loaded(server)
    text, result = answer(runner, "What is the capital of France?")
    assert text.strip()
    assert result.stop_reason in (p.StopReason.END, p.StopReason.LENGTH)
    # (this server sends no usage when streaming: the pieces are counted instead)
    assert result.completion_tokens > 0
    assert result.ttft_ms > 0


def test_failures_are_told_in_words(server):
    with pytest.raises(RemoteError, match="refused the API key"):
        loaded(server, key="wrong")
    with pytest.raises(RemoteError, match="refused the API key"):
        loaded(server, key="")
    with pytest.raises(RemoteError, match="does not serve “gemma-4-31b”"):
        RemoteRunner().load(server.url, "gemma-4-31b", KEY, False, False)
    with pytest.raises(RemoteError, match="Nothing answers at"):
        RemoteRunner().load(f"http://127.0.0.1:{free_port()}/v1", "m", "", False, False)
    runner = loaded(server)
    with pytest.raises(RemoteError, match="does not take pictures"):
        runner.generate(
            [p.ChatTurn(p.Role.USER, "What is this?", [p.MediaRef(p.MediaKind.IMAGE, __file__)])],
            SETTINGS,
            lambda: False,
            lambda _t, _r: None,
        )


def test_stop_closes_the_request_at_once(server):
    runner = loaded(server)
    long = GenerationSettings(temperature=0.0, max_tokens=2000)
    started: list[float] = []

    def stop_soon() -> None:
        time.sleep(0.5)
        started.append(time.perf_counter())
        runner.request_stop()

    threading.Thread(target=stop_soon).start()
    _text, result = answer(runner, "Count from 1 to 1000, separated by commas.", long)
    stopped_after = time.perf_counter() - started[0]
    assert result.stop_reason is p.StopReason.CANCELLED
    assert stopped_after < 0.2 and result.completion_tokens < 2000
    # The server is fine, and the next answer works.
    assert answer(runner, "Say yes.")[0].strip()


def test_a_server_that_goes_away_mid_answer_is_told(smollm2_path):
    server = RemoteServer(smollm2_path)
    runner = loaded(server, key="")
    threading.Timer(0.5, server.process.kill).start()
    try:
        with pytest.raises(RemoteError, match=r"went away in the middle of the answer|Nothing answers"):
            answer(
                runner,
                "Count from 1 to 1000, separated by commas.",
                GenerationSettings(temperature=0.0, max_tokens=2000),
            )
    finally:
        server.stop()


def test_a_certificate_no_authority_signed_is_refused(smollm2_path, tmp_path):
    server = RemoteServer(smollm2_path, tls=self_signed(tmp_path))
    try:
        with pytest.raises(RemoteError, match=r"could not be verified.*only to servers whose certificate"):
            RemoteRunner().load(server.url, server.model, "", False, False)
    finally:
        server.stop()


def test_the_worker_answers_through_the_server_and_stop_works(qtbot, server):
    from app.ui.supervisor import WorkerSupervisor

    supervisor = WorkerSupervisor()
    try:
        remote = p.RemoteServer(server.url, server.model, KEY)
        with qtbot.waitSignal(supervisor.model_loaded, timeout=TIMEOUT) as loaded_signal:
            supervisor.load_model("remote+test", 2048, "", "SmolLM2 on a server", remote=remote)
        ready = loaded_signal.args[0]
        assert ready.architecture == "remote" and ready.name == "SmolLM2 on a server"
        assert not ready.vision and not ready.tools
        texts: list[str] = []
        supervisor.delta.connect(lambda _rid, text, _reasoning: texts.append(text))
        with qtbot.waitSignal(supervisor.finished, timeout=TIMEOUT) as done:
            supervisor.generate("r1", [p.ChatTurn(p.Role.USER, "Name a colour.")], SETTINGS)
        assert done.args[0].completion_tokens > 0 and "".join(texts).strip()
        with qtbot.waitSignal(supervisor.finished, timeout=TIMEOUT) as done:
            supervisor.generate(
                "r2",
                [p.ChatTurn(p.Role.USER, "Count from 1 to 1000, separated by commas.")],
                GenerationSettings(temperature=0.0, max_tokens=2000),
            )
            qtbot.wait(400)
            supervisor.cancel("r2")
        assert done.args[0].stop_reason is p.StopReason.CANCELLED
        with qtbot.waitSignal(supervisor.load_failed, timeout=TIMEOUT) as failed:
            supervisor.load_model(
                "remote+test", 2048, "", "", remote=p.RemoteServer(server.url, server.model, "no")
            )
        assert "refused the API key" in failed.args[1]
    finally:
        supervisor.stop()


def test_a_server_is_added_in_the_models_window_and_its_model_answers_in_the_chat(
    qtbot, start_app, server, hearth_home
):
    from app.ui.library.models_window import SERVERS
    from app.ui.library.servers_tab import DIALOG_NAME, ServerDialog
    from tests.test_window import type_and_send, wait_idle

    hearth = start_app(server.model)  # a local model first; the server's replaces it
    models = hearth.models.show(tab=SERVERS)
    tab = models.servers_tab
    qtbot.mouseClick(tab.add_button, Qt.MouseButton.LeftButton)
    dialog = tab.findChild(ServerDialog, DIALOG_NAME)
    qtbot.keyClicks(dialog.url, server.url)
    qtbot.keyClicks(dialog.key, KEY)
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.ok.isEnabled, timeout=TIMEOUT)
    assert "serves 1 model" in dialog.outcome.text()
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    server_item = tab.tree.topLevelItem(0)
    assert server_item.text(0) == server.url and server_item.childCount() == 1
    tab.tree.setCurrentItem(server_item.child(0))
    qtbot.mouseClick(tab.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: (
            hearth.supervisor.loaded_model is not None
            and hearth.supervisor.loaded_model.architecture == "remote"
        ),
        timeout=TIMEOUT,
    )
    assert hearth.window.model_button.text().endswith(".gguf")
    type_and_send(qtbot, hearth, "What is the capital of France?")
    wait_idle(qtbot, hearth)
    assert hearth.store.messages(hearth.window.current_id)[-1].content.strip()
    settings_text = (hearth.paths.settings_file).read_text()
    assert server.url in settings_text and KEY not in settings_text  # the key is never in the file


class _Hostile:
    """A server on 127.0.0.1 that answers each request with the next reply given to it."""

    def __init__(self) -> None:
        import http.server

        replies = self.replies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                status, kind, body = replies.pop(0) if replies else (404, "application/json", b"{}")
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *_args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


ODD = [None, 5, -3, 2.5, "x", [], {}, [5], ["x"], [{}], {"a": 1}, True]


def test_no_server_reply_breaks_the_remote_engine_or_goes_unexplained():
    """Model listings and answer streams of every wrong shape: each ends in an answer or in a
    ``RemoteError`` in words, never another exception or a wait."""
    import json
    import random

    rng = random.Random(20261203)
    hostile = _Hostile()
    try:
        address = ServerAddress.parse(hostile.url)
        for odd in ODD:
            hostile.replies[:] = [(200, "application/json", json.dumps({"data": odd}).encode())]
            try:
                list_models(address, "")
            except RemoteError as error:
                assert str(error)
        runner = RemoteRunner()
        listing = json.dumps({"data": [{"id": "m"}]}).encode()
        hostile.replies[:] = [(200, "application/json", listing), (404, "application/json", b"{}")]
        runner.load(hostile.url, "m", "", vision=False, audio=False)
        for trial in range(60):
            event = {
                "choices": [{"delta": {"content": "hi"}, "finish_reason": None}],
                "usage": {"completion_tokens": 2},
            }
            path = rng.choice(["choices", "delta", "content", "reasoning", "usage", "finish", "error", "raw"])
            odd = rng.choice(ODD)
            if path == "choices":
                event["choices"] = odd
            elif path == "delta":
                event["choices"][0]["delta"] = odd
            elif path in ("content", "reasoning"):
                event["choices"][0]["delta"][
                    {"content": "content", "reasoning": "reasoning_content"}[path]
                ] = odd
            elif path == "usage":
                event["usage"] = odd if trial % 2 else {"completion_tokens": odd, "prompt_tokens": odd}
            elif path == "finish":
                event["choices"][0]["finish_reason"] = odd
            elif path == "error":
                event = {"error": odd}
            lines = [b"data: " + json.dumps(event).encode(), b"data: [DONE]"]
            if path == "raw":
                lines = [
                    rng.choice([b"data: {", b"data: \xff\xfe", b"event: x", b"data: []", b""]),
                    b"data: [DONE]",
                ]
            status = rng.choice([200, 200, 200, 500, 401, 404])
            hostile.replies[:] = [(status, "text/event-stream", b"\n\n".join(lines) + b"\n\n")]
            try:
                answer(runner, "Hello?", GenerationSettings(max_tokens=8))
            except RemoteError as error:
                assert str(error)
    finally:
        hostile.stop()
