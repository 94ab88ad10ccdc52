"""The About box: Hearth's version and licence, the parts it is built on with theirs, and the
trademark note Gemma's name asks for."""

from __future__ import annotations

import html
import platform
from importlib import metadata

from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from app import APP_NAME, __version__

# (what is shown, with {v} for the version; the distribution that has it; the licence)
BUILT_ON = (
    ("llama.cpp, through llama-cpp-python {v}", "llama-cpp-python", "MIT"),
    ("PySide6 {v}", "PySide6-Essentials", "LGPL-3.0"),
    ("huggingface_hub {v}", "huggingface_hub", "Apache-2.0"),
    ("Pillow {v}", "pillow", "MIT-CMU"),
    ("NumPy {v}", "numpy", "BSD-3-Clause"),
    ("sounddevice {v}, with PortAudio", "sounddevice", "MIT"),
    ("platformdirs {v}", "platformdirs", "MIT"),
    ("keyring {v}", "keyring", "MIT"),
)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return ""


def about_text() -> str:
    parts = [
        f"Python {platform.python_version()} (PSF License)",
        f"Qt {qVersion()} (LGPL-3.0)",
        *(
            f"{shown.format(v=_version(distribution)).replace(' ,', ',').strip()} ({licence})"
            for shown, distribution, licence in BUILT_ON
        ),
    ]
    items = "".join(f"<li>{html.escape(part)}</li>" for part in parts)
    return (
        f"<b>{APP_NAME} {__version__}</b> (Apache License 2.0)"
        "<p>A private, offline assistant: models run on this computer and nothing you write "
        "leaves it.</p>"
        f"<p>Built on:</p><ul>{items}</ul>"
        "<p>Models are not part of Hearth: each comes with its own licence.</p>"
        "<p>Gemma is a trademark of Google LLC. Hearth is an independent application that runs "
        "Gemma models; it is not made or endorsed by Google.</p>"
    )


def show_about(parent: QWidget) -> None:
    QMessageBox.about(parent, f"About {APP_NAME}", about_text())
