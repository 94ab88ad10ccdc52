"""The access token for gated repos: kept in the OS keyring when there is one, else only in memory,
never in the settings file."""

from __future__ import annotations

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from app.core.paths import resolve_paths
from app.core.settings import load_settings, save_settings
from app.library.access_token import ACCOUNT, SERVICE, AccessToken


class DictKeyring(KeyringBackend):
    """Stands in for the OS's secret store, which this headless machine does not run (no Secret
    Service on its session bus). Everything above the backend is the real ``keyring`` library."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


@pytest.fixture
def os_keyring():
    before = keyring.get_keyring()
    store = DictKeyring()
    keyring.set_keyring(store)
    yield store
    keyring.set_keyring(before)


@pytest.fixture
def no_keyring():
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


def wait_for_store(qtbot, store: DictKeyring, expected: str | None) -> None:
    qtbot.waitUntil(lambda: store.secrets.get((SERVICE, ACCOUNT)) == expected, timeout=5000)


def test_a_token_is_kept_in_the_keyring_and_read_back_next_time(qtbot, os_keyring):
    token = AccessToken()
    assert token.get() is None and token.persistent
    token.set("  hf_secret \n")
    assert token.get() == "hf_secret"
    wait_for_store(qtbot, os_keyring, "hf_secret")
    assert AccessToken().get() == "hf_secret"  # the next run of the app

    token.set("")
    wait_for_store(qtbot, os_keyring, None)
    assert AccessToken().get() is None


def test_without_a_keyring_the_token_lives_in_memory_only(hearth_home, no_keyring):
    token = AccessToken()
    assert token.get() is None
    assert not token.persistent and "only until Hearth closes" in token.note
    token.set("hf_secret")
    assert token.get() == "hf_secret"
    assert AccessToken().get() is None

    paths = resolve_paths()
    save_settings(paths.settings_file, load_settings(paths.settings_file))
    written = "".join(p.read_text(errors="replace") for p in hearth_home.rglob("*") if p.is_file())
    assert "hf_secret" not in written
