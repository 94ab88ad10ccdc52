"""Typed application settings, stored as versioned JSON and migrated on load."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from app.core.generation import GenerationSettings
from app.core.presets import STARTING_PRESETS, Preset

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
THEMES = ("system", "light", "dark")
MAX_RECENT = 8


@dataclass(frozen=True)
class RecentModel:
    """A model loaded before, with the projector it was loaded with ("auto": the one that belongs
    to it; "": none) and the name it was shown under."""

    path: str
    projector: str = "auto"
    name: str = ""


@dataclass(frozen=True)
class ServerEntry:
    """An OpenAI-compatible server the user added (app.engine.remote_engine); its API key is in
    the keyring, never here."""

    url: str
    models: tuple[str, ...] = ()  # as it listed them when last asked
    vision: bool = False  # the user says its models take pictures (where the server does not say)
    audio: bool = False


@dataclass(frozen=True)
class WindowState:
    """Where the main window was and how it was arranged, to open it the same way next time."""

    geometry: str = ""  # Qt's saveGeometry(), base64
    splitter: tuple[int, ...] = ()  # the widths of the chat list, the chat and the settings panel
    settings_panel: bool = False


@dataclass(frozen=True)
class Settings:
    theme: str = "system"
    last_model_path: str = ""
    recent_models: tuple[RecentModel, ...] = ()
    defaults: GenerationSettings = field(default_factory=GenerationSettings)
    presets: tuple[Preset, ...] = STARTING_PRESETS
    default_preset: str = ""  # the preset new chats start with; "": the defaults above
    window: WindowState = field(default_factory=WindowState)
    push_to_talk: str = "Ctrl+Space"  # held to record, released to attach (a Qt key sequence)
    microphone: str = ""  # the sound input to record from, by name; "": the system's default
    silence_stop_s: float = 0.0  # stop recording after this long without speech; 0: never
    dictate: bool = False  # the microphone writes into the message box even for a model that hears
    threads: int = 0  # the engine's threads; 0: automatic (app.core.cpu_cores)
    # The most chats' saved KV states may take on disk, so they resume instantly
    # (app.engine.saved_chats); 0: none are kept.
    saved_chats_gb: int = 4
    # The local API (app.ui.local_api): off unless turned on; its port and bearer token.
    api_enabled: bool = False
    api_port: int = 39281
    api_token: str = ""
    servers: tuple[ServerEntry, ...] = ()  # remote engines, added in the Models window
    # GPU offload per model file: app.library.offload's AUTOMATIC (-1, the default), OFF (0) or
    # a number of layers.
    gpu_offload: dict[str, int] = field(default_factory=dict)
    # The drafter per model file (app.engine.speculative): "auto" (the default: its MTP assistant,
    # when one is installed next to it), "" (none) or a draft model's path.
    drafts: dict[str, str] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["defaults"] = self.defaults.to_dict()
        data["presets"] = [preset.to_dict() for preset in self.presets]
        return data

    def recent(self, path: str) -> RecentModel | None:
        return next((m for m in self.recent_models if m.path == path), None)


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring settings written by an older version up to ``SCHEMA_VERSION``."""
    version = int(data.get("schema_version", 0))
    if version < 1:
        # Before versioning existed nothing else was stored; start from the defaults.
        data = {"theme": data.get("theme", "system")}
    if version < 2:
        # Recent models were paths alone; their projectors were found again at each load.
        data["recent_models"] = [{"path": m} for m in data.get("recent_models", []) if isinstance(m, str)]
    if version < 3:
        # Presets arrived: start with the ones Hearth comes with.
        data["presets"] = [preset.to_dict() for preset in STARTING_PRESETS]
    data["schema_version"] = SCHEMA_VERSION
    return data


def _recent_models(items: Any) -> tuple[RecentModel, ...]:
    recent = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("path"), str) and item["path"]:
            projector, name = item.get("projector", "auto"), item.get("name", "")
            recent.append(
                RecentModel(
                    item["path"],
                    projector if isinstance(projector, str) else "auto",
                    name if isinstance(name, str) else "",
                )
            )
    return tuple(recent[:MAX_RECENT])


def _presets(items: Any) -> tuple[Preset, ...]:
    if items is None:  # never saved: the ones Hearth comes with (an empty list stays empty)
        return STARTING_PRESETS
    presets: list[Preset] = []
    for item in items if isinstance(items, list) else []:
        preset = Preset.from_dict(item)
        if preset is not None and all(p.name != preset.name for p in presets):
            presets.append(preset)
    return tuple(presets)


def _window(data: Any) -> WindowState:
    if not isinstance(data, dict):
        return WindowState()
    geometry, splitter = data.get("geometry", ""), data.get("splitter", [])
    sizes = splitter if isinstance(splitter, list) and all(isinstance(n, int) for n in splitter) else []
    return WindowState(
        geometry if isinstance(geometry, str) else "",
        tuple(max(0, n) for n in sizes[:3]),
        data.get("settings_panel") is True,
    )


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and 0 <= value <= 60 else 0.0


def load_settings(path: Path) -> Settings:
    """Read settings; a missing or damaged file gives the defaults (and is kept aside, not lost)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("settings file is not a JSON object")
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("Settings file %s is unreadable (%s); using defaults", path, exc)
        with contextlib.suppress(OSError):
            path.replace(path.with_suffix(".damaged.json"))
        return Settings()
    data = _migrate(raw)
    theme = data.get("theme", "system")
    return Settings(
        theme=theme if theme in THEMES else "system",
        last_model_path=str(data.get("last_model_path", "")),
        recent_models=_recent_models(data.get("recent_models")),
        defaults=GenerationSettings.from_dict(data.get("defaults")),
        presets=_presets(data.get("presets")),
        default_preset=str(data.get("default_preset", "") or ""),
        window=_window(data.get("window")),
        push_to_talk=str(data.get("push_to_talk") or "Ctrl+Space"),
        microphone=str(data.get("microphone") or ""),
        silence_stop_s=_seconds(data.get("silence_stop_s")),
        dictate=data.get("dictate") is True,
        threads=_count(data.get("threads")),
        saved_chats_gb=_whole(data.get("saved_chats_gb"), Settings.saved_chats_gb, 0, 1 << 20),
        api_enabled=data.get("api_enabled") is True,
        api_port=_whole(data.get("api_port"), Settings.api_port, 1024, 65535),
        api_token=str(data.get("api_token") or ""),
        servers=_servers(data.get("servers")),
        gpu_offload=_offloads(data.get("gpu_offload")),
        drafts=_drafts(data.get("drafts")),
    )


def _drafts(items: Any) -> dict[str, str]:
    if not isinstance(items, dict):
        return {}
    return {path: value for path, value in items.items() if isinstance(path, str) and isinstance(value, str)}


def _offloads(items: Any) -> dict[str, int]:
    if not isinstance(items, dict):
        return {}
    return {path: _whole(value, -1, -1, 100_000) for path, value in items.items() if isinstance(path, str)}


def _whole(value: Any, default: int, low: int, high: int) -> int:
    """A whole number from the file within [low, high]; the default for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return default


def _servers(items: Any) -> tuple[ServerEntry, ...]:
    servers: list[ServerEntry] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"]:
            models = item.get("models")
            servers.append(
                ServerEntry(
                    item["url"],
                    tuple(m for m in models if isinstance(m, str)) if isinstance(models, list) else (),
                    item.get("vision") is True,
                    item.get("audio") is True,
                )
            )
    return tuple(servers)


def _count(value: Any) -> int:
    """A small whole number from the file (0 for anything else)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1024 else 0


def save_settings(path: Path, settings: Settings) -> None:
    """Write atomically so a crash mid-write never leaves a half file. Raises ``OSError`` when the
    folder refuses (disk full, read-only); the file then keeps its previous contents."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(settings.to_dict(), indent=2), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        # A half-written copy would only take space from a disk that is already full.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def with_changes(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, **changes)


def remember_model(settings: Settings, model: RecentModel) -> Settings:
    """Make ``model`` the last used one, at the top of the recent list."""
    recent = (model, *[m for m in settings.recent_models if m.path != model.path])[:MAX_RECENT]
    return replace(settings, last_model_path=model.path, recent_models=recent)
