"""The tools Hearth offers, all offline. Adding one is a module with a ``Tool`` and a line here."""

from __future__ import annotations

from app.tools.calculator import CALCULATOR
from app.tools.chat_search import SEARCH_CHATS
from app.tools.clock import DATE_TIME
from app.tools.files import FIND_IN_FILES, LIST_FOLDER, READ_FILE
from app.tools.registry import ToolRegistry
from app.tools.units import CONVERT_UNITS


def builtin_tools() -> ToolRegistry:
    registry = ToolRegistry()
    for tool in (CALCULATOR, DATE_TIME, CONVERT_UNITS, SEARCH_CHATS, READ_FILE, LIST_FOLDER, FIND_IN_FILES):
        registry.register(tool)
    return registry
