"""What the Hub says about one file (size, sha256, commit), and its failures in words users understand."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
from huggingface_hub import constants, errors, get_hf_file_metadata, hf_hub_url
from huggingface_hub.utils import build_hf_headers

from app import __version__
from app.library.errors import (
    ChecksumError,
    DownloadError,
    GatedError,
    NetworkError,
    NoConnectionError,
    NotAnsweringError,
    NotFoundError,
    OfflineError,
)
from app.library.hub_file import HubFile
from app.library.partial import PartialRecord
from app.library.verify import ExpectedDigest

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
OFFLINE_MESSAGE = "Hearth is set to work offline (HF_HUB_OFFLINE), so it cannot download models."


@dataclass(frozen=True)
class ResolvedFile:
    """A file as the Hub serves it right now, with the URL pinned to that exact commit so every
    ranged request of a download reads the same bytes even if the branch moves meanwhile."""

    file: HubFile
    commit: str
    etag: str
    size: int
    digest: ExpectedDigest
    url: str

    def record(self) -> PartialRecord:
        return PartialRecord(
            repo_id=self.file.repo_id,
            filename=self.file.filename,
            revision=self.file.revision,
            commit=self.commit,
            etag=self.etag,
            size=self.size,
            sha256=self.digest.value if self.digest.algorithm == "sha256" else None,
        )


def offline_mode() -> bool:
    # huggingface_hub reads HF_HUB_OFFLINE once, at import; the environment is checked again so the
    # switch also works when it is flipped while Hearth runs.
    value = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return constants.is_offline_mode() or value in {"1", "ON", "YES", "TRUE"}


def request_headers(token: str | None) -> dict[str, str]:
    # token=False keeps huggingface_hub from sending a token it finds on the machine: Hearth only
    # sends the token the user gave it.
    headers = build_hf_headers(token=token or False, library_name="hearth", library_version=__version__)
    headers["Accept-Encoding"] = "identity"  # byte offsets must be offsets in the file itself
    return headers


def resolve(file: HubFile, *, endpoint: str | None, token: str | None, timeout: float) -> ResolvedFile:
    """Ask the Hub for the file's commit, size and digest (one HEAD request, no retries)."""
    if offline_mode():
        raise OfflineError(OFFLINE_MESSAGE)
    try:
        url = hf_hub_url(file.repo_id, file.filename, revision=file.revision, endpoint=endpoint)
        meta = get_hf_file_metadata(
            url,
            token=token or False,
            timeout=timeout,
            library_name="hearth",
            library_version=__version__,
            endpoint=endpoint,
        )
    except Exception as exc:
        raise translate(exc, file, token=token) from exc
    if not meta.commit_hash or not meta.etag or meta.size is None:
        raise NetworkError(
            "The download server did not answer like Hugging Face does, so the file cannot be checked.",
            detail=f"HEAD {url}: commit={meta.commit_hash!r} etag={meta.etag!r} size={meta.size!r}",
        )
    digest = _expected_digest(file, meta.etag, meta.size)
    pinned = hf_hub_url(file.repo_id, file.filename, revision=meta.commit_hash, endpoint=endpoint)
    return ResolvedFile(file, meta.commit_hash, meta.etag, meta.size, digest, pinned)


def _expected_digest(file: HubFile, etag: str, size: int) -> ExpectedDigest:
    upstream = ExpectedDigest.from_etag(etag)
    changed = (
        "The file on Hugging Face has changed since Hearth's catalog was made, so it cannot be verified."
    )
    if file.size is not None and file.size != size:
        raise ChecksumError(changed, detail=f"{file.filename}: catalog size {file.size}, Hub size {size}")
    if file.sha256:
        expected = file.sha256.lower()
        if upstream is not None and upstream.algorithm == "sha256" and upstream.value != expected:
            raise ChecksumError(changed, detail=f"{file.filename}: catalog {expected}, Hub {upstream.value}")
        return ExpectedDigest("sha256", expected)
    if upstream is None:
        raise NetworkError(
            "The download server did not say what the file should contain, so it cannot be checked.",
            detail=f"{file.filename}: unusable etag {etag!r}",
        )
    return upstream


def translate(
    exc: BaseException, file: HubFile, *, token: str | None, answered: bool = False
) -> DownloadError:
    """Turn an exception from huggingface_hub or httpx2 into one of ours. ``answered`` says whether the
    server had already sent its response headers, which makes a silence a stall rather than no answer.

    huggingface_hub passes transport failures on as they are (``get_hf_file_metadata`` does not retry
    unless asked to), so they arrive here as httpx2's own types: ``ConnectError`` (no name lookup,
    refused, unreachable, a failed TLS handshake) and ``ConnectTimeout`` mean no connection was made
    at all, while ``ReadTimeout`` and ``ReadError`` mean one was made and then went quiet or broke.
    """
    repo, detail = file.repo_id, f"{type(exc).__name__}: {exc}{_where(exc)}"
    if isinstance(exc, DownloadError):
        return exc
    if isinstance(exc, errors.HFValidationError):
        return NotFoundError(f"{repo!r} is not a valid Hugging Face model name.", detail=detail)
    if isinstance(exc, errors.OfflineModeIsEnabled):
        return OfflineError(OFFLINE_MESSAGE, detail=detail)
    if isinstance(exc, errors.GatedRepoError):
        return _gated(repo, token, detail)
    if isinstance(exc, errors.RevisionNotFoundError):
        return NotFoundError(
            f"The version {file.revision!r} of {repo} does not exist on Hugging Face.", detail=detail
        )
    if isinstance(exc, errors.RemoteEntryNotFoundError):
        return NotFoundError(f"{repo} on Hugging Face has no file named {file.filename}.", detail=detail)
    if isinstance(exc, errors.RepositoryNotFoundError):
        return NotFoundError(
            f"The model {repo} was not found on Hugging Face. Check its name; a private model also needs "
            "an access token.",
            detail=detail,
        )
    status = _status(exc)
    if status in (401, 403):
        return _gated(repo, token, detail)
    if status is not None:
        retryable = status in RETRYABLE_STATUS
        return NetworkError(
            f"Hugging Face answered with an error (HTTP {status}).", detail=detail, retryable=retryable
        )
    if isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout):
        if any(isinstance(cause, ssl.SSLError) for cause in _causes(exc)):
            return NoConnectionError(
                "Hugging Face could not be reached securely. If this network asks you to sign in first "
                "(hotel or plane Wi-Fi), do that in a browser.",
                detail=detail,
            )
        return NoConnectionError(detail=detail)
    if isinstance(exc, httpx2.TimeoutException):
        if not answered:
            return NotAnsweringError(detail=detail)
        return NetworkError("Hugging Face stopped sending the file.", detail=detail, retryable=True)
    if isinstance(exc, httpx2.UnsupportedProtocol | httpx2.LocalProtocolError):
        return NetworkError("The download address is not valid.", detail=detail)
    if isinstance(exc, httpx2.TransportError):
        return NetworkError("The connection to Hugging Face was lost.", detail=detail, retryable=True)
    return NetworkError("The download failed unexpectedly.", detail=detail)


def _gated(repo: str, token: str | None, detail: str) -> GatedError:
    if token:
        message = (
            f"Your access token does not give access to {repo}. Accept the model's license on Hugging Face "
            "with the same account, or check the token."
        )
    else:
        message = f"This model ({repo}) requires accepting its license on Hugging Face and an access token."
    return GatedError(message, detail=detail)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it wraps and what caused it (httpx2 wraps httpcore2, which wraps OSError)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [c for c in (current.__cause__, current.__context__) if c is not None]
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]


def _where(exc: BaseException) -> str:
    """The address a failed request went to, for the log (an httpx2 error knows its request)."""
    try:
        request = exc.request if isinstance(exc, httpx2.RequestError) else None
    except RuntimeError:  # raised when the error was made without a request
        return ""
    return f"; {request.method} {request.url}" if request is not None else ""


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) if response is not None else None
