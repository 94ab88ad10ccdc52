"""A threaded HTTP server that answers like the Hugging Face Hub for the calls huggingface_hub makes
to download files and list repos, with network faults that tests switch on: dropped connections,
stalls, a corrupted byte and 503s."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.hub import api
from tests.hub.faults import Faults, Request
from tests.hub.repos import Repo, RepoStore, StoredFile

RESOLVE_RE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
TREE_RE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$")
INFO_RE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?$")
CDN_RE = re.compile(r"^/cdn/(?P<sha>[0-9a-f]{64})$")
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024
FILE_FAULTS = ("hold", "stall", "drop_after")  # the queued faults each file GET uses up


class HubServer:
    """Serves the repos in ``root``; ``url`` is the endpoint to give huggingface_hub.

    With ``redirect_to_cdn`` LFS files are answered with a 302 to ``cdn_url`` (another origin, as
    the real Hub's CDN is), so the metadata comes from the redirect's ``X-Linked-*`` headers.

    ``port`` 0 picks a free one; a given port lets a test bring "Hugging Face" back where a client
    has been failing to reach it. ``stop()`` also cuts the connections still open, as a network
    that goes away does."""

    def __init__(self, root: Path, port: int = 0) -> None:
        self.store = RepoStore(root)
        self.store.scan()
        self.faults = Faults()
        self.redirect_to_cdn = False
        self.requests: list[Request] = []
        self.body_bytes_sent = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.hub = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="hub-server", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cdn_url(self) -> str:
        return f"http://localhost:{self.port}"

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def add_file(
        self, repo_id: str, filename: str, content: bytes | Path, *, gated_token: str | None = None
    ) -> StoredFile:
        return self.store.add(repo_id, filename, content, gated_token=gated_token)

    def repo(self, repo_id: str) -> Repo:
        return self.store.repos[repo_id]

    def file_requests(self, filename: str, method: str = "GET") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.endswith("/" + filename)]

    def _track(self, connection: socket.socket, *, is_open: bool) -> None:
        with self._lock:
            if is_open:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _take(self, name: str) -> Any:
        """Use up one queued fault: a 503 (bool), or the next drop/stall value (or None)."""
        with self._lock:
            if name == "fail":
                if self.faults.fail_next > 0:
                    self.faults.fail_next -= 1
                    return True
                return False
            queue = getattr(self.faults, name)
            return queue.pop(0) if queue else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hub: HubServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hang up mid-body on purpose in these tests (pause, timeouts)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.hub._track(self.connection, is_open=True)

    def finish(self) -> None:
        self.server.hub._track(self.connection, is_open=False)
        super().finish()

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def _dispatch(self, *, head: bool) -> None:
        self._hub, self._head = self.server.hub, head
        try:
            self._route(urlsplit(self.path))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, url: Any) -> None:
        if self._hub._take("fail"):
            return self._error(503, None, "Service Unavailable")
        if match := CDN_RE.match(url.path):
            stored = self._hub.store.by_sha256(match["sha"])
            return self._send_file(stored) if stored else self._error(404, None, "Not found")
        query = parse_qs(url.query)
        for pattern in (RESOLVE_RE, TREE_RE, INFO_RE):
            if match := pattern.match(url.path):
                break
        else:
            return self._error(404, None, "Not found")
        repo = self._hub.store.repos.get(unquote(match["repo"]))
        if repo is None:
            return self._error(404, "RepoNotFound", "Repository not found")
        if repo.gated_token and self.headers.get("Authorization") != f"Bearer {repo.gated_token}":
            message = (
                f"Access to model {repo.repo_id} is restricted. You must have access to it and be "
                "authenticated to access it. Please log in."
            )
            return self._error(401, "GatedRepo", message)
        revision = unquote(match["rev"] or "main")
        if revision not in ("main", repo.commit):
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        if pattern is INFO_RE:
            return self._json(api.model_info(repo, blobs=query.get("blobs", ["false"])[0].lower() == "true"))
        if pattern is TREE_RE:
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            listing = api.tree(repo, unquote(match["path"] or ""), recursive=recursive)
            if listing is None:
                return self._error(404, "EntryNotFound", "Not found")
            return self._json(listing)
        stored = repo.files.get(unquote(match["file"]))
        if stored is None:
            return self._error(404, "EntryNotFound", "Entry not found")
        self._send_file(stored, repo)

    def _send_file(self, stored: StoredFile, repo: Repo | None = None) -> None:
        headers = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if repo is not None:
            headers |= {"X-Repo-Commit": repo.commit, "ETag": f'"{stored.etag}"'}
            if stored.lfs:
                headers |= {"X-Linked-Etag": f'"{stored.sha256}"', "X-Linked-Size": str(stored.size)}
                if self._hub.redirect_to_cdn:
                    headers["Location"] = f"{self._hub.cdn_url}/cdn/{stored.sha256}"
                    return self._respond(302, headers, b"")
        start, end = 0, stored.size
        requested = self.headers.get("Range")
        status = 200
        if requested and not self._hub.faults.ignore_range:
            bounds = _parse_range(requested, stored.size)
            if bounds is None:
                return self._respond(416, headers | {"Content-Range": f"bytes */{stored.size}"}, b"")
            start, end = bounds
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{stored.size}"
        # A GET takes its faults as it arrives, so a retry that overtakes a held request gets the next.
        hold, stall, drop_after = (None, None, None) if self._head else map(self._hub._take, FILE_FAULTS)
        if hold and self._hub._closing.wait(hold):
            return None
        self._start(status, headers | {"Content-Length": str(end - start)})
        if self._head:
            return
        if stall:
            self._hub._closing.wait(stall)
        self._body(stored, start, end, drop_after)

    def _body(self, stored: StoredFile, start: int, end: int, drop_after: int | None) -> None:
        corrupt, sent = self._hub.faults.corrupt_offset, 0
        with stored.location.open("rb") as source:
            source.seek(start)
            position = start
            while position < end:
                size = min(CHUNK, end - position)
                if drop_after is not None:
                    size = min(size, drop_after - sent)
                data = bytearray(source.read(size))
                if corrupt is not None and position <= corrupt < position + len(data):
                    data[corrupt - position] ^= 0xFF
                with self._hub._lock:
                    self._hub.body_bytes_sent += len(data)
                self.wfile.write(data)
                sent, position = sent + len(data), position + len(data)
                rate = self._hub.faults.bytes_per_second
                if rate and self._hub._closing.wait(len(data) / rate):
                    return None
                if drop_after is not None and sent >= drop_after:
                    return self._drop()

    def _drop(self) -> None:
        """Cut the connection mid-body, the way a lost network or a killed proxy does."""
        self.close_connection = True
        if self._hub.faults.reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()

    def _error(self, status: int, code: str | None, message: str) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._respond(status, headers, json.dumps({"error": message}).encode())

    def _json(self, data: Any) -> None:
        self._respond(200, {"Content-Type": "application/json"}, json.dumps(data).encode())

    def _respond(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self._start(status, headers | {"Content-Length": str(len(body))})
        if not self._head:
            self.wfile.write(body)

    def _start(self, status: int, headers: dict[str, str]) -> None:
        # Recorded before answering, so a test that has its answer also sees the record.
        self._hub._record(
            Request(
                self.command,
                unquote(urlsplit(self.path).path),
                self.headers.get("Host", ""),
                self.headers.get("Range"),
                "authorization" in {k.lower() for k in self.headers},
                status,
            )
        )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` as a half-open interval; None if unsatisfiable."""
    match = RANGE_RE.match(value.strip())
    if not match or not (match[1] or match[2]):
        return None
    if not match[1]:
        start, end = max(size - int(match[2]), 0), size
    else:
        start = int(match[1])
        end = min(int(match[2]) + 1, size) if match[2] else size
    return (start, end) if start < end else None
