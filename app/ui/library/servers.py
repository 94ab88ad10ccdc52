"""The remote engines the user added: their addresses and the models they serve (in the settings),
their API keys (in the keyring, or in memory only where there is none), and how a chosen server
model is named where a model file's path would be (recent models, the last model used)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from app.core.settings import ServerEntry, Settings
from app.engine import protocol as p
from app.engine.remote_engine import ServerAddress, ServerModel, list_models
from app.library.access_token import AccessToken

PREFIX = "remote+"


def remote_path(url: str, model: str) -> str:
    """Where a server's model is named as a model file would be: ``remote+http://host/v1#model``."""
    return f"{PREFIX}{url}#{model}"


def is_remote(path: str) -> bool:
    return path.startswith(PREFIX) and "#" in path


def split_remote(path: str) -> tuple[str, str]:
    """(address, model) of a ``remote_path``."""
    url, _, model = path[len(PREFIX) :].partition("#")
    return url, model


class ServerBook:
    """The servers in the settings, with their keys. Listing a server's models and reading a key
    can take a while (the network, a locked keyring): call those off the UI thread."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        save: Callable[[Settings], None],
        use_keyring: bool = True,
    ) -> None:
        self._settings, self._save = settings, save
        self._use_keyring = use_keyring
        self._keys: dict[str, AccessToken] = {}

    @property
    def servers(self) -> tuple[ServerEntry, ...]:
        return self._settings().servers

    def entry(self, url: str) -> ServerEntry | None:
        return next((server for server in self.servers if server.url == url), None)

    def key(self, url: str) -> AccessToken:
        if url not in self._keys:
            self._keys[url] = AccessToken(self._use_keyring, account=f"server {url}")
        return self._keys[url]

    def keep(self, server: ServerEntry, key: str | None = None) -> None:
        """Add or update a server (its key too, when given)."""
        others = tuple(s for s in self.servers if s.url != server.url)
        self._save(replace(self._settings(), servers=(*others, server)))
        if key is not None:
            self.key(server.url).set(key)

    def remove(self, url: str) -> None:
        self._save(replace(self._settings(), servers=tuple(s for s in self.servers if s.url != url)))
        self.key(url).set(None)

    def remote_server(self, path: str) -> p.RemoteServer:
        """What the engine needs to use the server model named by ``path`` (reads the keyring)."""
        url, model = split_remote(path)
        entry = self.entry(url) or ServerEntry(url)
        return p.RemoteServer(url, model, self.key(url).get() or "", entry.vision, entry.audio)


def fetch_models(url: str, key: str) -> tuple[str, list[ServerModel]]:
    """The address written the way Hearth keeps it, and the models served there (off the UI thread;
    raises ``RemoteError`` in words)."""
    address = ServerAddress.parse(url)
    return address.url, list_models(address, key)
