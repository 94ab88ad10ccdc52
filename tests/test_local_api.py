"""The local API in the real app, used through the official ``openai`` client over real HTTP: the
model Hearth has loaded answers programs, streamed and whole, with pictures; a wrong token is
refused; ten programs at once each get their answer; the user's own chat goes first; a program
that hangs up mid-answer stops it."""

from __future__ import annotations

import base64
import json
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from app.engine import protocol as p
from tests.test_window import type_and_send, wait_idle

TINY_GEMMA4 = Path(__file__).resolve().parent / "fixtures" / "tiny-gemma4.gguf"
TIMEOUT = 120_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(hearth) -> tuple[str, str]:
    """Turn the API on as the panel does; returns (address, token)."""
    controls = hearth.window.local_api
    controls.turn(True, free_port())
    assert controls.api.serving, controls.problem
    return controls.api.address, hearth.window.settings.api_token


def in_background(qtbot, call, *args, **kwargs):
    """Run a blocking client call off the UI thread, keeping the event loop turning meanwhile."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(call(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    qtbot.waitUntil(future.done, timeout=TIMEOUT)
    return future.result()


def ask(client: openai.OpenAI, text: str, **options):
    return client.chat.completions.create(
        model="anything", messages=[{"role": "user", "content": text}], max_tokens=12, **options
    )


def test_the_api_is_off_until_turned_on_and_then_answers_like_openai(qtbot, start_app, smollm2_path):
    hearth = start_app(smollm2_path)
    controls = hearth.window.local_api
    assert not controls.api.serving and not hearth.window.settings.api_enabled
    address, token = serve(hearth)
    assert address.startswith("http://127.0.0.1:") and token.startswith("hearth-")
    client = openai.OpenAI(base_url=address, api_key=token, max_retries=0)

    models = in_background(qtbot, client.models.list)
    assert [model.id for model in models.data] == [hearth.supervisor.loaded_model.name]

    whole = in_background(qtbot, ask, client, "Name a colour.")
    assert whole.choices[0].message.content.strip()
    assert whole.usage.completion_tokens > 0 and whole.usage.prompt_tokens > 5
    assert whole.choices[0].finish_reason in ("stop", "length")

    def stream() -> tuple[str, list]:
        chunks = list(ask(client, "Name a fruit.", stream=True))
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks

    text, chunks = in_background(qtbot, stream)
    assert text.strip() and len(chunks) > 2
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")

    wrong = openai.OpenAI(base_url=address, api_key="hearth-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        in_background(qtbot, ask, wrong, "Hello?")
    with pytest.raises(openai.AuthenticationError):
        in_background(qtbot, wrong.models.list)
    # The setting stays on: the next start serves again, with the same token.
    assert hearth.window.settings.api_enabled and hearth.window.local_api.label.isVisible()


def test_a_picture_goes_to_the_model(qtbot, start_app, picture):
    hearth = start_app(TINY_GEMMA4)
    address, token = serve(hearth)
    client = openai.OpenAI(base_url=address, api_key=token, max_retries=0)
    encoded = base64.b64encode(picture().read_bytes()).decode()
    done: list[p.Done] = []
    hearth.supervisor.finished.connect(done.append)
    content = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{encoded}"}},
    ]
    answer = in_background(
        qtbot,
        client.chat.completions.create,
        model="tiny",
        messages=[{"role": "user", "content": content}],
        max_tokens=4,
        temperature=0,
    )
    assert answer.choices[0].message.content is not None
    assert done[-1].media_encodes == 1  # the picture went through the projector
    assert not list((hearth.paths.cache / "api-pictures").iterdir())  # and its copy is gone
    with pytest.raises(openai.BadRequestError, match="does not fetch web addresses"):
        in_background(
            qtbot,
            client.chat.completions.create,
            model="tiny",
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}
            ],
        )


def test_ten_programs_at_once_each_get_their_answer_one_after_the_other(qtbot, start_app, smollm2_path):
    hearth = start_app(smollm2_path)
    address, token = serve(hearth)
    client = openai.OpenAI(base_url=address, api_key=token, max_retries=0)
    most_waiting = [0]
    hearth.window.local_api.api.in_use_changed.connect(
        lambda: most_waiting.__setitem__(0, max(most_waiting[0], hearth.window.local_api.api.waiting))
    )

    def one(number: int) -> str:
        if number % 2:
            return "".join(
                c.choices[0].delta.content or "" for c in ask(client, f"Count to {number}.", stream=True)
            )
        return ask(client, f"Count to {number}.").choices[0].message.content

    with ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(one, number) for number in range(10)]
        qtbot.waitUntil(lambda: all(f.done() for f in futures), timeout=TIMEOUT)
    assert all(future.result().strip() for future in futures)
    assert most_waiting[0] >= 5  # they waited in line, not all at once in the engine
    assert not hearth.window.local_api.api.answering and hearth.window.local_api.api.waiting == 0


def test_the_users_chat_goes_before_programs_waiting(qtbot, start_app, smollm2_path):
    hearth = start_app(smollm2_path)
    address, token = serve(hearth)
    client = openai.OpenAI(base_url=address, api_key=token, max_retries=0)
    order: list[str] = []
    hearth.supervisor.finished.connect(
        lambda done: order.append("api" if done.request_id.startswith("api-") else "user")
    )
    api = hearth.window.local_api.api
    with ThreadPoolExecutor(3) as pool:
        futures = [
            pool.submit(
                client.chat.completions.create,
                model="m",
                messages=[{"role": "user", "content": "Write a long story."}],
                max_tokens=60,
            )
            for _ in range(3)
        ]
        qtbot.waitUntil(lambda: api.answering and api.waiting == 2, timeout=TIMEOUT)
        type_and_send(qtbot, hearth, "Hello there")
        wait_idle(qtbot, hearth)
        qtbot.waitUntil(lambda: all(f.done() for f in futures), timeout=TIMEOUT)
    # The program already answering finishes; then the user, then the programs waiting.
    assert order == ["api", "user", "api", "api"]
    assert "Program" not in hearth.window.state_label.text()


def test_a_program_that_hangs_up_mid_answer_stops_it(qtbot, start_app, smollm2_path):
    hearth = start_app(smollm2_path)
    address, token = serve(hearth)
    done: list[p.Done] = []
    hearth.supervisor.finished.connect(done.append)
    port = int(address.split(":")[2].split("/")[0])
    body = json.dumps(
        {
            "model": "m",
            "stream": True,
            "max_tokens": 2000,
            "messages": [{"role": "user", "content": "Write a long story."}],
        }
    )

    def first_chunk_then_hang_up() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as raw:
            head = (
                f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            raw.sendall(head.encode() + body.encode())
            received = b""
            while b"data: " not in received:
                received += raw.recv(4096)
            return received[received.index(b"data: ") :]  # then the program hangs up

    assert in_background(qtbot, first_chunk_then_hang_up).startswith(b"data: ")
    qtbot.waitUntil(lambda: bool(done), timeout=TIMEOUT)
    assert done[0].stop_reason is p.StopReason.CANCELLED and done[0].completion_tokens < 2000
    qtbot.waitUntil(lambda: not hearth.window.local_api.api.answering, timeout=TIMEOUT)


def test_turned_off_it_listens_no_more(qtbot, start_app, smollm2_path):
    hearth = start_app(smollm2_path)
    address, _token = serve(hearth)
    hearth.window.local_api.turn(False, 0)
    port = int(address.split(":")[2].split("/")[0])
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    assert not hearth.window.local_api.label.isVisible()


def post(address: str, token: str, body: bytes) -> tuple[int, dict]:
    """One raw request; the reply must be JSON whatever it says."""
    import http.client
    import urllib.parse

    where = urllib.parse.urlsplit(address)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    try:
        connection.request(
            "POST",
            where.path + "/chat/completions",
            body,
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        data = response.read()
        if response.getheader("Content-Type", "").startswith("text/event-stream"):
            events = [line[6:] for line in data.decode().splitlines() if line.startswith("data: ")]
            assert events[-1] == "[DONE]"
            return response.status, {"choices": [json.loads(event) for event in events[:-1]]}
        return response.status, json.loads(data)
    finally:
        connection.close()


ODD_VALUES = [None, -1, 0, 2.5, "x", "", [], {}, [{}], True, 1e308, -1e308, "NaN", [None], {"url": 5}]
RAW_BODIES = [b"", b"{", b"[]", b"null", b'"text"', b"5", b"\xff\xfe", b'{"messages": NaN}', b"{}" * 1000]


def test_no_request_body_breaks_the_server_or_goes_unanswered(qtbot, start_app, smollm2_path):
    """Bodies of every wrong shape, and a valid one with each field given odd values (Infinity and
    NaN included): each gets a JSON answer (an error in words, or an answer), and the server
    serves on."""
    import random

    hearth = start_app(smollm2_path)
    address, token = serve(hearth)
    rng = random.Random(20261203)
    valid = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
    bodies = list(RAW_BODIES)
    for number in range(60):
        body = json.loads(json.dumps(valid))
        field = rng.choice(
            ["model", "messages", "max_tokens", "temperature", "top_p", "seed", "stream", "role", "content"]
        )
        odd = rng.choice([*ODD_VALUES, float("inf"), float("nan")])
        if field == "role":
            body["messages"][0]["role"] = odd
        elif field == "content":
            body["messages"][0]["content"] = [{"type": "image_url", "image_url": odd}] if number % 2 else odd
        else:
            body[field] = odd
        if field == "max_tokens" and isinstance(odd, (int, float)) and not 0 <= odd <= 2:
            body["max_tokens"] = "many"  # (a huge number is clamped, not refused: it would run long)
        bodies.append(json.dumps(body).encode())  # Python writes NaN and Infinity, as some clients do

    def send_all() -> list[tuple[int, dict]]:
        return [post(address, token, body) for body in bodies]

    for status, reply in in_background(qtbot, send_all):
        if status == 200:
            assert reply["choices"], reply
        else:
            assert 400 <= status < 600 and reply["error"]["message"], (status, reply)
    status, reply = in_background(qtbot, post, address, token, json.dumps(valid).encode())
    assert status == 200 and reply["choices"][0]["message"]["content"] is not None
