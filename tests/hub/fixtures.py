"""pytest fixtures for the stand-in hub. Test modules load them with
``pytest_plugins = ["tests.hub.fixtures"]``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hub.server import HubServer


@pytest.fixture
def hub(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    """A running stand-in hub with no repos yet; ``HF_ENDPOINT`` points at it for this test.

    huggingface_hub reads ``HF_ENDPOINT`` once, at import, so code under test must also pass
    ``endpoint=hub.url`` explicitly; the variable covers anything that reads it later."""
    server = HubServer(tmp_path_factory.mktemp("hub")).start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield server
    finally:
        server.stop()
