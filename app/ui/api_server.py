"""The local API's HTTP side: an OpenAI-compatible ``/v1/chat/completions`` (streamed over SSE or
whole, pictures as base64 ``image_url`` parts) and ``/v1/models``, on 127.0.0.1 only, behind a
bearer token.

Each connection is served on a thread of its own; answers come from the engine through an
``ApiJob`` the ``submit`` callback takes (``app.ui.api_bridge`` runs it on the UI's worker, behind
the user's own chat). Nothing here is Qt, so it is tested as plain HTTP too.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import queue
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from app.core.generation import GenerationSettings
from app.engine import protocol as p

log = logging.getLogger(__name__)

HOST = "127.0.0.1"  # never another interface: the API is for programs on this computer
MAX_BODY = 64 * 2**20  # a request with pictures in it, not more
PICTURE_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}


class RequestError(ValueError):
    def __init__(self, status: HTTPStatus, message: str, code: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass
class ApiJob:
    """One request's answer: the engine's events arrive on ``events`` from the UI thread, as
    ("delta", text, reasoning), ("done", protocol.Done) or ("failed", message)."""

    messages: list[p.ChatTurn]
    settings: GenerationSettings
    id: str = field(default_factory=lambda: "api-" + uuid.uuid4().hex)
    events: queue.Queue[tuple[Any, ...]] = field(default_factory=queue.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)


class ApiServer:
    """Serves until ``close``; ``port`` 0 picks a free one (``address`` tells which)."""

    def __init__(
        self,
        port: int,
        token: str,
        model_name: Callable[[], str],
        submit: Callable[[ApiJob], None],
        cancel: Callable[[ApiJob], None],
        pictures: Path,
    ) -> None:
        self.token = token
        self.model_name = model_name
        self.submit = submit
        self.cancel = cancel
        self.pictures = pictures
        server = ThreadingHTTPServer((HOST, port), _Handler)
        server.daemon_threads = True
        server.api = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="local-api", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    server_version = "Hearth"
    protocol_version = "HTTP/1.1"

    @property
    def api(self) -> ApiServer:
        return self.server.api  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("local API: " + format, *args)

    def do_GET(self) -> None:
        try:
            self._authorize()
            if self.path.rstrip("/") != "/v1/models":
                raise RequestError(HTTPStatus.NOT_FOUND, f"There is no {self.path} here.", "not_found")
            name = self.api.model_name()
            models = [{"id": name, "object": "model", "created": 0, "owned_by": "hearth"}] if name else []
            self._send_json(HTTPStatus.OK, {"object": "list", "data": models})
        except RequestError as error:
            self._send_error(error)

    def do_POST(self) -> None:
        try:
            self._authorize()
            if self.path.rstrip("/") != "/v1/chat/completions":
                raise RequestError(HTTPStatus.NOT_FOUND, f"There is no {self.path} here.", "not_found")
            body = self._read_json()
            name = self.api.model_name()
            if not name:
                raise RequestError(
                    HTTPStatus.SERVICE_UNAVAILABLE, "No model is loaded in Hearth.", "model_not_loaded"
                )
            job = ApiJob(_messages(body, self.api.pictures), _settings(body))
        except RequestError as error:
            self._send_error(error)
            return
        self.api.submit(job)
        try:
            if body.get("stream"):
                self._stream(job, name)
            else:
                self._answer_whole(job, name)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            log.info("a local API client went away; its answer is stopped")
            self.close_connection = True
        finally:
            if not job.cancelled.is_set():
                job.cancelled.set()
                self.api.cancel(job)  # a no-op once the answer has ended
            for turn in job.messages:  # the pictures were the request's, not Hearth's to keep
                for media in turn.attachments:
                    Path(media.path).unlink(missing_ok=True)

    # --- answers ---------------------------------------------------------------------------

    def _answer_whole(self, job: ApiJob, name: str) -> None:
        text, reasoning, done = [], [], None
        while done is None:
            event = self._next_event(job)
            if event[0] == "delta":
                text.append(event[1])
                reasoning.append(event[2])
            elif event[0] == "failed":
                raise_for_failure(event[1])
            else:
                done = event[1]
        message: dict[str, Any] = {"role": "assistant", "content": "".join(text)}
        if any(reasoning):
            message["reasoning_content"] = "".join(reasoning)
        self._send_json(
            HTTPStatus.OK,
            {
                "id": "chatcmpl-" + job.id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": name,
                "choices": [{"index": 0, "message": message, "finish_reason": _finish(done)}],
                "usage": _usage(done),
            },
        )

    def _stream(self, job: ApiJob, name: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
            record = {
                "id": "chatcmpl-" + job.id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            self.wfile.write(b"data: " + json.dumps(record).encode() + b"\n\n")
            self.wfile.flush()

        chunk({"role": "assistant", "content": ""})
        while True:
            event = self._next_event(job)
            if event[0] == "delta":
                delta = {"content": event[1]} if event[1] else {}
                if event[2]:
                    delta["reasoning_content"] = event[2]
                chunk(delta)
            elif event[0] == "failed":
                error = {"error": {"message": event[1], "type": "server_error", "code": "generation_failed"}}
                self.wfile.write(b"data: " + json.dumps(error).encode() + b"\n\n")
                break
            else:
                chunk({}, _finish(event[1]), usage=_usage(event[1]))
                break
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _next_event(self, job: ApiJob) -> tuple[Any, ...]:
        """The engine's next event; while waiting, a client that hung up is noticed (and its answer
        stopped, by the caller)."""
        while True:
            try:
                return job.events.get(timeout=0.5)
            except queue.Empty:
                if self._client_gone():
                    raise ConnectionResetError("the client closed the connection") from None

    def _client_gone(self) -> bool:
        import select

        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        import socket

        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # --- plumbing --------------------------------------------------------------------------

    def _authorize(self) -> None:
        given = self.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.api.token.encode()
        ):
            raise RequestError(
                HTTPStatus.UNAUTHORIZED,
                "The API key is missing or wrong: use the token shown in Hearth's Local API window.",
                "invalid_api_key",
            )

    def _read_json(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "The request is too large.")
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"The request is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "The request must be a JSON object.")
        return body

    def _send_json(self, status: HTTPStatus, data: dict[str, Any], close: bool = False) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)

    def _send_error(self, error: RequestError) -> None:
        # A refused request's body may be unread: the connection cannot carry another request.
        kind = "authentication_error" if error.status == HTTPStatus.UNAUTHORIZED else "invalid_request_error"
        self._send_json(
            error.status, {"error": {"message": str(error), "type": kind, "code": error.code}}, close=True
        )


def raise_for_failure(message: str) -> None:
    raise RequestError(HTTPStatus.INTERNAL_SERVER_ERROR, message, "generation_failed")


def _finish(done: p.Done) -> str:
    return {p.StopReason.LENGTH: "length", p.StopReason.TOOL_CALL: "tool_calls"}.get(done.stop_reason, "stop")


def _usage(done: p.Done) -> dict[str, int]:
    return {
        "prompt_tokens": done.prompt_tokens,
        "completion_tokens": done.completion_tokens,
        "total_tokens": done.prompt_tokens + done.completion_tokens,
    }


def _settings(body: dict[str, Any]) -> GenerationSettings:
    """The request's sampling settings, within Hearth's own limits."""
    values: dict[str, Any] = {"tools": False, "think": False}
    for name, key in (("temperature", "temperature"), ("top_p", "top_p"), ("seed", "seed")):
        if body.get(name) is not None:
            values[key] = body[name]
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None:
        values["max_tokens"] = limit
    if isinstance(body.get("reasoning_effort"), str):
        values["think"] = body["reasoning_effort"] != "none"
    try:
        settings = GenerationSettings.from_dict(values)
    except (TypeError, ValueError) as exc:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"A setting is out of range: {exc}") from None
    return settings


def _messages(body: dict[str, Any], pictures: Path) -> list[p.ChatTurn]:
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise RequestError(HTTPStatus.BAD_REQUEST, "'messages' must be a list of messages.")
    turns = []
    for index, message in enumerate(raw):
        if not isinstance(message, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, f"messages[{index}] is not an object.")
        role = message.get("role")
        role = "system" if role == "developer" else role
        if role not in ("system", "user", "assistant"):
            raise RequestError(HTTPStatus.BAD_REQUEST, f"messages[{index}].role {role!r} is not supported.")
        text, media = _content(message.get("content"), index, pictures)
        turns.append(p.ChatTurn(p.Role(role), text, media))
    return turns


def _content(content: Any, index: int, pictures: Path) -> tuple[str, list[p.MediaRef]]:
    if content is None or isinstance(content, str):
        return content or "", []
    if not isinstance(content, list):
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f"messages[{index}].content must be text or a list of parts."
        )
    texts, media = [], []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            media.append(p.MediaRef(p.MediaKind.IMAGE, str(_save_picture(url, pictures))))
        else:
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                f"messages[{index}] has a part of type {kind!r}, which is not supported.",
            )
    return "\n".join(texts), media


def _save_picture(url: Any, folder: Path) -> Path:
    """A ``data:`` URL's picture, written to a file the engine reads. Hearth fetches nothing from
    the network, so a web address is refused."""
    if not isinstance(url, str) or not url.startswith("data:"):
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            "Pictures must be sent inline as base64 data: URLs; Hearth does not fetch web addresses.",
        )
    header, _, data = url.partition(",")
    mime = header[5:].split(";")[0].lower()
    if mime not in PICTURE_TYPES or ";base64" not in header:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"Pictures of type {mime or 'unknown'} are not supported.")
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(HTTPStatus.BAD_REQUEST, "A picture's base64 data is damaged.") from None
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=PICTURE_TYPES[mime], delete=False) as file:
        file.write(content)
    return Path(file.name)
