"""The layout of a Hearth chats archive, shared by export and import.

One ``.zip`` holds ``hearth.json`` (every conversation, every message of its tree, lossless),
``chats/<n>-<title>.md`` (the branch on show of each chat, to read) and ``attachments/<sha256><suffix>``
(each picture or sound once). Only ``hearth.json`` and the attachments are read back.
"""

from __future__ import annotations

import re

FORMAT = "hearth-chats"
VERSION = 1
JSON_ENTRY = "hearth.json"
CHATS_FOLDER = "chats/"
ATTACHMENTS_FOLDER = "attachments/"

# The suffix rule of AttachmentFiles: lower-case letters and digits after one dot.
ATTACHMENT_ENTRY = re.compile(r"attachments/(?P<sha256>[0-9a-f]{64})(?P<suffix>\.[a-z0-9]{1,16})?")


class ArchiveError(ValueError):
    """Chats could not be exported or imported; the message says why in words for the user."""


def attachment_entry(sha256: str, suffix: str) -> str:
    """The archive entry of an attachment; ``suffix`` is its stored file's, e.g. ``".png"``, and
    left out if it is not one an import accepts."""
    entry = f"{ATTACHMENTS_FOLDER}{sha256}{suffix.lower()}"
    return entry if ATTACHMENT_ENTRY.fullmatch(entry) else f"{ATTACHMENTS_FOLDER}{sha256}"
