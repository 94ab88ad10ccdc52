"""Linux desktop integration: the menu entry passes freedesktop's checker, and the per-user
install puts Hearth, its menu entry ("Open with Hearth" for pictures and sounds) and its icons
under ~/.local, and takes them all away again. The bundle here is a stand-in executable: what is
tested is where the files go (the real bundle is built and run by packaging/build)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.media.attachments import AUDIO_SUFFIXES, IMAGE_SUFFIXES

ROOT = Path(__file__).resolve().parents[1]
LINUX = ROOT / "packaging" / "linux"
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="freedesktop integration is Linux's")


def validate(desktop_file: Path) -> None:
    done = subprocess.run(["desktop-file-validate", str(desktop_file)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_the_menu_entry_is_valid_and_opens_what_hearth_takes():
    validate(LINUX / "hearth.desktop")
    entry = (LINUX / "hearth.desktop").read_text(encoding="utf-8")
    mime_types = next(line for line in entry.splitlines() if line.startswith("MimeType="))
    pictures = ("png", "jpeg", "webp", "gif", "bmp", "tiff", "avif", "heic", "heif")
    sounds = ("wav", "mpeg", "flac", "ogg", "opus", "mp4", "x-m4a", "aac", "webm")
    documents = ("application/pdf", "text/html", "text/markdown", "text/plain")
    for wanted in (*(f"image/{t}" for t in pictures), *(f"audio/{t}" for t in sounds), *documents):
        assert wanted in mime_types
    assert "wordprocessingml.document" in mime_types
    # A new kind of file needs its type above.
    assert (len(IMAGE_SUFFIXES), len(AUDIO_SUFFIXES)) == (11, 10)
    assert "Exec=hearth %F" in entry  # files, several at once, as local paths


def test_install_and_uninstall_for_one_user(tmp_path):
    # The layout of an unpacked bundle archive, as packaging/build makes it.
    bundle = tmp_path / "Hearth"
    (bundle / "share" / "icons").mkdir(parents=True)
    (bundle / "Hearth").write_text("#!/bin/sh\necho Hearth 0.1.0\n", encoding="utf-8")
    (bundle / "Hearth").chmod(0o755)
    shutil.copy2(LINUX / "install", bundle / "install")
    shutil.copy2(LINUX / "hearth.desktop", bundle / "share" / "hearth.desktop")
    shutil.copytree(ROOT / "packaging" / "icons" / "hicolor", bundle / "share" / "icons" / "hicolor")
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("XDG_DATA_HOME", "XDG_BIN_HOME")}
    env["HOME"] = str(home)

    subprocess.run([bundle / "install"], env=env, check=True, capture_output=True)
    installed = home / ".local" / "lib" / "hearth" / "Hearth"
    assert installed.is_file() and os.access(installed, os.X_OK)
    launcher = home / ".local" / "bin" / "hearth"
    assert launcher.resolve() == installed.resolve()
    assert subprocess.run([launcher], capture_output=True, text=True).stdout.strip() == "Hearth 0.1.0"
    entry = home / ".local" / "share" / "applications" / "hearth.desktop"
    validate(entry)
    assert f'Exec="{installed}" %F' in entry.read_text(encoding="utf-8")
    icons = home / ".local" / "share" / "icons" / "hicolor"
    assert {p.parent.parent.name for p in icons.glob("*/apps/hearth.png")} >= {"16x16", "48x48", "256x256"}

    subprocess.run([bundle / "install", "--uninstall"], env=env, check=True, capture_output=True)
    assert not installed.exists() and not launcher.exists() and not launcher.is_symlink()
    assert not entry.exists() and not list(icons.glob("*/apps/hearth.png"))
