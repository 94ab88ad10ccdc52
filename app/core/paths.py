"""Where Hearth keeps its files: one place, built on platformdirs, with a single override.

Setting ``HEARTH_HOME`` (or passing ``--data-dir``) puts every folder under one base
directory, so tests and portable installs each get a home of their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from app import APP_NAME

HOME_ENV = "HEARTH_HOME"


@dataclass(frozen=True)
class AppPaths:
    data: Path
    config: Path
    cache: Path
    logs: Path
    models: Path

    @property
    def database(self) -> Path:
        return self.data / "hearth.sqlite3"

    @property
    def backups(self) -> Path:
        """Copies of the database, beside it (``app.storage.backup.backups_folder``). Not created
        by ``ensure``: a folder that cannot be made must not stop Hearth from starting."""
        return self.database.parent / "backups"

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.json"

    @property
    def saved_chats(self) -> Path:
        """Chats' saved KV states (``app.engine.saved_chats``): a cache, made again by reading."""
        return self.cache / "chats"

    @property
    def attachments(self) -> Path:
        return self.data / "attachments"

    def ensure(self) -> AppPaths:
        for folder in (self.data, self.config, self.cache, self.logs, self.models, self.attachments):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def resolve_paths(base_dir: str | os.PathLike[str] | None = None) -> AppPaths:
    """Return the app's folders: under ``base_dir`` or ``$HEARTH_HOME`` if given, else the OS's own."""
    base = base_dir if base_dir is not None else os.environ.get(HOME_ENV) or None
    if base is not None:
        root = Path(base).expanduser().resolve()
        return AppPaths(
            data=root / "data",
            config=root / "config",
            cache=root / "cache",
            logs=root / "logs",
            models=root / "data" / "models",
        )
    import platformdirs

    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    data = Path(dirs.user_data_dir)
    return AppPaths(
        data=data,
        config=Path(dirs.user_config_dir),
        cache=Path(dirs.user_cache_dir),
        logs=Path(dirs.user_log_dir),
        models=data / "models",
    )
