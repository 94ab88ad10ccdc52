"""The tools Hearth offers, all offline. Adding one is a module with a ``Tool`` and a line here."""

from __future__ import annotations

from app.tools.calculator import CALCULATOR
from app.tools.clock import DATE_TIME
from app.tools.registry import ToolRegistry
from app.tools.units import CONVERT_UNITS


def builtin_tools() -> ToolRegistry:
    registry = ToolRegistry()
    for tool in (CALCULATOR, DATE_TIME, CONVERT_UNITS):
        registry.register(tool)
    return registry
