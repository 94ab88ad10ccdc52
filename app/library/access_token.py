"""The Hugging Face access token for gated models: in the OS keyring when this computer has one
(macOS Keychain, Windows Credential Locker, the Secret Service on Linux), otherwise only in memory
until Hearth closes. Never in the settings file.

Qt-free; finding the keyring takes ~0.1 s and its calls can block (a locked keychain asks its
owner), so ``get`` runs on background threads and ``set`` writes on a thread of its own.
"""

from __future__ import annotations

import logging
import threading
from types import ModuleType

log = logging.getLogger(__name__)

SERVICE = "Hearth"
ACCOUNT = "huggingface-access-token"


def _keyring() -> ModuleType | None:
    """The ``keyring`` module if it has a working backend here, else None."""
    try:
        import keyring
        from keyring.backends import fail

        if isinstance(keyring.get_keyring(), fail.Keyring):
            return None  # e.g. a Linux desktop without a Secret Service
    except Exception as exc:  # a broken keyring set-up means no keyring, not a crash
        log.info("No usable keyring: %s", exc)
        return None
    return keyring


class AccessToken:
    """Holds a secret (the Hugging Face token, or a server's API key: ``account`` tells which);
    ``use_keyring=False`` keeps it in memory only (tests, portable installs)."""

    def __init__(self, use_keyring: bool = True, account: str = ACCOUNT) -> None:
        self._use_keyring = use_keyring
        self._account = account
        self._keyring: ModuleType | None = None  # found by the first ``get`` (off the UI thread)
        self._lock = threading.Lock()
        self._store_lock = threading.Lock()
        self._version = 0
        self._token: str | None = None
        self._loaded = not use_keyring

    @property
    def persistent(self) -> bool:
        """Whether the token outlives the app (known once ``get`` has run)."""
        return self._keyring is not None

    @property
    def note(self) -> str:
        if self.persistent:
            return "The token is kept in this computer's keyring."
        return (
            "No system keyring is available, so the token is kept only until Hearth closes; "
            "it is never written to disk."
        )

    def get(self) -> str | None:
        """The token, or None; may read the keyring (call it off the UI thread)."""
        with self._lock:
            if self._loaded:
                return self._token
        stored: str | None = None
        try:
            self._keyring = self._keyring or _keyring()
            if self._keyring is not None:
                stored = self._keyring.get_password(SERVICE, self._account)
        except Exception as exc:  # a broken or locked keyring must not stop a download
            log.warning("Could not read the access token from the keyring: %s", exc)
        with self._lock:
            if not self._loaded:
                self._token, self._loaded = stored or None, True
            return self._token

    def known(self) -> bool:
        """Whether a token is set, without touching the keyring (False until ``get`` has read it)."""
        with self._lock:
            return bool(self._token)

    def set(self, token: str | None) -> None:
        """Use ``token`` from now on (None or "" forgets it); the keyring is updated in the background."""
        token = (token or "").strip() or None
        with self._lock:
            self._token, self._loaded = token, True
            self._version += 1
            version = self._version
        if self._use_keyring:
            threading.Thread(
                target=self._store, args=(token, version), name="token-store", daemon=True
            ).start()

    def _store(self, token: str | None, version: int) -> None:
        # One writer at a time, and only the newest token: a clear right after a set must not be
        # overtaken by the set's slower thread.
        with self._store_lock:
            if version == self._version:
                self._write(token)

    def _write(self, token: str | None) -> None:
        try:
            self._keyring = self._keyring or _keyring()
            if self._keyring is None:
                return
            if token:
                self._keyring.set_password(SERVICE, self._account, token)
            else:
                self._keyring.delete_password(SERVICE, self._account)
        except Exception as exc:
            log.warning("Could not update the access token in the keyring: %s", exc)
