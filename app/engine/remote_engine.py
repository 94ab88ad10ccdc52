"""Remote engines: an OpenAI-compatible server (llama.cpp's llama-server, vLLM, Ollama, LM Studio)
answers instead of the local model.

It runs in the worker process, in place of ``ModelRunner``, so the UI treats it like any model:
answers stream as deltas, Stop cancels, a failure is a message in words, and nothing network-bound
ever runs on the UI thread. Connections go to the address the user entered and nowhere else: no
proxy from the environment, no redirect followed, and TLS certificates verified by the system's
authorities, with no way to turn that off.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import json
import logging
import socket
import ssl
import threading
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.core.generation import GenerationSettings
from app.engine.protocol import ChatTurn, MediaEncoding, MediaKind, MediaRef, StopReason

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
# A large model on a busy server may read a long prompt for minutes before its first token.
READ_TIMEOUT_S = 600.0
FLUSH_INTERVAL_S = 0.04  # as the local engine: the UI repaints at most ~25 times a second
PCM_RATE = 16_000  # the microphone's raw samples (MediaEncoding.PCM) are at Gemma 4's rate
AUDIO_FORMATS = {".wav": "wav", ".mp3": "mp3"}
PICTURE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


class RemoteError(Exception):
    """Words for the user about what went wrong with a server."""


@dataclass(frozen=True)
class ServerAddress:
    """An OpenAI-compatible API's base address, such as ``http://127.0.0.1:8080/v1``."""

    scheme: str
    host: str
    port: int
    path: str  # the API's base path, without a trailing slash ("/v1")

    @classmethod
    def parse(cls, url: str) -> ServerAddress:
        text = url.strip()
        if "://" not in text:
            text = "http://" + text
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteError(f"“{url}” is not a server address: write it like http://127.0.0.1:8080/v1.")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise RemoteError("Write the server's address alone: the API key has its own field.")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise RemoteError(f"The port in “{url}” is not a number from 1 to 65535.") from None
        path = parts.path.rstrip("/")
        return cls(parts.scheme, parts.hostname, port, path if path else "/v1")

    @property
    def url(self) -> str:
        default = 443 if self.scheme == "https" else 80
        port = "" if self.port == default else f":{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{port}{self.path}"

    def connect(self, timeout: float = CONNECT_TIMEOUT_S) -> http.client.HTTPConnection:
        if self.scheme == "https":
            # The system's authorities, hostname checked: there is no switch to skip either.
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


@dataclass(frozen=True)
class ServerModel:
    """What the server says of one model it serves."""

    name: str
    context_length: int = 0  # 0: the server does not say
    vision: bool = False
    audio: bool = False


def request_json(
    address: ServerAddress, key: str, method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    """One request, its JSON answer; ``RemoteError`` in words otherwise."""
    connection = address.connect()
    try:
        response = _send(connection, address, key, method, path, body)
        data = response.read()
        if response.status >= 400:
            raise RemoteError(_refusal(address, response.status, data, ""))
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise RemoteError(
            f"The server at {address.url} does not answer like an OpenAI-compatible API."
        ) from None
    finally:
        connection.close()


def list_models(address: ServerAddress, key: str) -> list[ServerModel]:
    """The models ``/v1/models`` lists, with what llama-server's ``/props`` or vLLM's listing
    adds about their context and senses."""
    listing = request_json(address, key, "GET", "/models")
    entries = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(entries, list):
        raise RemoteError(f"The server at {address.url} did not list its models.")
    senses = _llama_server_senses(address, key)
    models = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        meta = entry["meta"] if isinstance(entry.get("meta"), dict) else {}
        length = entry.get("max_model_len") or senses.get("n_ctx") or meta.get("n_ctx_train") or 0
        models.append(
            ServerModel(
                entry["id"],
                int(length) if isinstance(length, int) else 0,
                bool(senses.get("vision")),
                bool(senses.get("audio")),
            )
        )
    return models


def _llama_server_senses(address: ServerAddress, key: str) -> dict[str, Any]:
    """llama-server says at ``/props`` whether its model sees and hears; other servers have no
    such page, and then nothing is assumed."""
    root = address.path.removesuffix("/v1")
    try:
        props = request_json(
            ServerAddress(address.scheme, address.host, address.port, root), key, "GET", "/props"
        )
    except RemoteError:
        return {}
    if not isinstance(props, dict):
        return {}
    modalities = props["modalities"] if isinstance(props.get("modalities"), dict) else {}
    settings = props.get("default_generation_settings")
    n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
    return {"vision": modalities.get("vision"), "audio": modalities.get("audio"), "n_ctx": n_ctx}


@dataclass
class RemoteResult:
    stop_reason: StopReason
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: float
    tokens_per_s: float
    total_ms: float


class RemoteRunner:
    """Answers through a server, as ``ModelRunner`` does through the local model."""

    def __init__(self) -> None:
        self.address: ServerAddress | None = None
        self.model: ServerModel | None = None
        self._key = ""
        self._live: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def loaded(self) -> bool:
        return self.model is not None

    def load(self, url: str, model: str, key: str, vision: bool, audio: bool) -> ServerModel:
        """Check that the server answers and serves ``model``; its senses are what the server says,
        or what the user said of it."""
        address = ServerAddress.parse(url)
        served = {entry.name: entry for entry in list_models(address, key)}
        if model not in served:
            names = ", ".join(sorted(served)) or "none"
            raise RemoteError(f"The server at {address.url} does not serve “{model}” (it serves: {names}).")
        found = served[model]
        self.address, self._key = address, key
        self.model = ServerModel(
            found.name, found.context_length, found.vision or vision, found.audio or audio
        )
        return self.model

    def unload(self) -> None:
        self.request_stop()
        self.address, self.model, self._key = None, None, ""

    def request_stop(self) -> None:
        """Close the request under way at once (from the worker's reader thread)."""
        with self._lock:
            self._stopped = True
            live = self._live
        if live is not None and live.sock is not None:
            with contextlib.suppress(OSError):
                live.sock.shutdown(socket.SHUT_RDWR)

    def generate(
        self,
        messages: list[ChatTurn],
        settings: GenerationSettings,
        should_stop: Callable[[], bool],
        on_text: Callable[[str, str], None],
    ) -> RemoteResult:
        address, model = self.address, self.model
        if address is None or model is None:
            raise RuntimeError("No model is loaded.")
        body = self._request_body(messages, settings, model)
        started = time.perf_counter()
        connection = address.connect()
        connection.timeout = READ_TIMEOUT_S
        with self._lock:
            self._stopped = False
            self._live = connection
        first_at, count, stop_reason = 0.0, 0, StopReason.END
        usage: dict[str, Any] = {}
        answer: list[str] = []
        reasoning: list[str] = []
        next_flush = 0.0
        try:
            response = _send(connection, address, self._key, "POST", "/chat/completions", body)
            if response.status >= 400:
                raise RemoteError(_refusal(address, response.status, response.read(), model.name))
            for event in _events(response):
                if should_stop() or self._stopped:
                    stop_reason = StopReason.CANCELLED
                    break
                if isinstance(event.get("error"), dict | str):
                    error = event["error"]
                    raise RemoteError(f"The server stopped the answer: {_message_of(error)}")
                usage = event["usage"] if isinstance(event.get("usage"), dict) else usage
                for choice in _records(event.get("choices")):
                    delta: dict[str, Any] = choice["delta"] if isinstance(choice.get("delta"), dict) else {}
                    text = _text(delta.get("content"))
                    thought = _text(delta.get("reasoning_content")) or _text(delta.get("reasoning"))
                    if text or thought:
                        count += 1
                        first_at = first_at or time.perf_counter()
                        answer.append(text)
                        reasoning.append(thought)
                    if choice.get("finish_reason") == "length":
                        stop_reason = StopReason.LENGTH
                now = time.perf_counter()
                if (answer or reasoning) and now >= next_flush:
                    on_text("".join(answer), "".join(reasoning))
                    answer.clear()
                    reasoning.clear()
                    next_flush = now + FLUSH_INTERVAL_S
            else:
                if self._stopped or should_stop():  # closed by Stop while waiting for the server
                    stop_reason = StopReason.CANCELLED
                elif not _ended(response):
                    raise RemoteError(f"The server at {address.url} went away in the middle of the answer.")
        except (OSError, http.client.HTTPException) as exc:
            if self._stopped or should_stop():
                stop_reason = StopReason.CANCELLED
            else:
                raise RemoteError(_unreachable(address, exc)) from None
        finally:
            with self._lock:
                self._live = None
            connection.close()
        if answer or reasoning:
            on_text("".join(answer), "".join(reasoning))
        ended = time.perf_counter()
        completion = _count(usage.get("completion_tokens")) or count
        decode_s = ended - first_at if first_at else 0.0
        return RemoteResult(
            stop_reason=stop_reason,
            prompt_tokens=_count(usage.get("prompt_tokens")),
            completion_tokens=completion,
            ttft_ms=(first_at - started) * 1000 if first_at else 0.0,
            tokens_per_s=(completion - 1) / decode_s if completion > 1 and decode_s > 0 else 0.0,
            total_ms=(ended - started) * 1000,
        )

    def _request_body(
        self, messages: list[ChatTurn], settings: GenerationSettings, model: ServerModel
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model.name,
            "messages": [_message(turn, model) for turn in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "max_tokens": settings.max_tokens,
        }
        if settings.seed >= 0:
            body["seed"] = settings.seed
        if settings.think:
            body["chat_template_kwargs"] = {"enable_thinking": True}
        return body


def _message(turn: ChatTurn, model: ServerModel) -> dict[str, Any]:
    if not turn.attachments:
        return {"role": str(turn.role), "content": turn.content}
    parts: list[dict[str, Any]] = [_media_part(media, model) for media in turn.attachments]
    if turn.content:
        parts.append({"type": "text", "text": turn.content})
    return {"role": str(turn.role), "content": parts}


def _media_part(media: MediaRef, model: ServerModel) -> dict[str, Any]:
    path = Path(media.path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RemoteError(f"The {media.kind} “{path.name}” could not be read ({exc.strerror}).") from None
    if media.kind is MediaKind.IMAGE:
        if not model.vision:
            raise RemoteError(f"“{model.name}” on this server does not take pictures.")
        mime = PICTURE_TYPES.get(path.suffix.lower(), "image/png")
        url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        return {"type": "image_url", "image_url": {"url": url}}
    if not model.audio:
        raise RemoteError(f"“{model.name}” on this server does not take sound.")
    if media.encoding is MediaEncoding.PCM:
        data, audio_format = _wav_from_pcm(data), "wav"
    else:
        audio_format = AUDIO_FORMATS.get(path.suffix.lower(), "")
        if not audio_format:
            raise RemoteError(f"Servers take sound as WAV or MP3; “{path.name}” is neither.")
    return {
        "type": "input_audio",
        "input_audio": {"data": base64.b64encode(data).decode(), "format": audio_format},
    }


def _wav_from_pcm(data: bytes) -> bytes:
    """The microphone's float32 samples as a 16-bit WAV file."""
    import array

    samples = array.array("f")
    samples.frombytes(data[: len(data) - len(data) % 4])
    pcm = array.array("h", (int(max(-1.0, min(1.0, value)) * 32767) for value in samples))
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(PCM_RATE)
        file.writeframes(pcm.tobytes())
    return out.getvalue()


def _send(
    connection: http.client.HTTPConnection,
    address: ServerAddress,
    key: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> http.client.HTTPResponse:
    headers = {"Accept": "application/json, text/event-stream", "User-Agent": "Hearth"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, address.path + path, payload, headers)
        return connection.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        raise RemoteError(_unreachable(address, exc)) from None


def _events(response: http.client.HTTPResponse) -> Iterator[dict[str, Any]]:
    """The JSON records of a server-sent event stream, up to ``[DONE]``."""
    for raw in response:
        line = raw.decode("utf-8", errors="replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            response.done = True  # type: ignore[attr-defined]
            return
        try:
            record = json.loads(data)
        except ValueError:
            continue
        if isinstance(record, dict):
            yield record


def _records(value: Any) -> list[dict[str, Any]]:
    """The objects in a list a server sent (anything else in it, or no list, is skipped)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _count(value: Any) -> int:
    """A token count a server reported; 0 if it sent none, or something that is not one."""
    return value if type(value) is int and value >= 0 else 0


def _ended(response: http.client.HTTPResponse) -> bool:
    return bool(getattr(response, "done", False))


def _refusal(address: ServerAddress, status: int, data: bytes, model: str) -> str:
    said = ""
    try:
        said = _message_of(json.loads(data).get("error") or json.loads(data).get("detail") or "")
    except (ValueError, AttributeError):
        said = data.decode("utf-8", errors="replace")[:200]
    said = f" It said: {said}" if said else ""
    if status in (401, 403):
        return f"The server at {address.url} refused the API key (HTTP {status}).{said}"
    if status == 404 and model:
        return f"The server at {address.url} does not serve “{model}” (HTTP 404).{said}"
    return f"The server at {address.url} refused the request (HTTP {status}).{said}"


def _message_of(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)[:300]
    return str(error)[:300]


def _unreachable(address: ServerAddress, exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"The certificate of {address.host} could not be verified ({exc.verify_message}). Hearth "
            "connects only to servers whose certificate it can verify."
        )
    if isinstance(exc, ConnectionRefusedError):
        return f"Nothing answers at {address.url}: is the server running?"
    if isinstance(exc, socket.gaierror):
        return f"The server name “{address.host}” cannot be found."
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"The server at {address.url} did not answer in time."
    if isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError | http.client.IncompleteRead):
        return f"The server at {address.url} went away in the middle of the answer."
    return f"The server at {address.url} cannot be reached ({exc})."
