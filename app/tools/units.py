"""convert_units: lengths, masses, volumes, areas, speeds, times, data sizes, energies, pressures
and temperatures, by a table (exact factors where they are defined)."""

from __future__ import annotations

from typing import Any

from app.tools.registry import Tool, ToolError

# unit: (dimension, how many of the dimension's base unit one of it is)
FACTORS: dict[str, tuple[str, float]] = {
    # length, in metres
    "mm": ("length", 1e-3), "cm": ("length", 1e-2), "m": ("length", 1.0), "km": ("length", 1e3),
    "in": ("length", 0.0254), "ft": ("length", 0.3048), "yd": ("length", 0.9144),
    "mi": ("length", 1609.344), "nmi": ("length", 1852.0),
    # mass, in kilograms
    "mg": ("mass", 1e-6), "g": ("mass", 1e-3), "kg": ("mass", 1.0), "t": ("mass", 1e3),
    "oz": ("mass", 0.028349523125), "lb": ("mass", 0.45359237), "st": ("mass", 6.35029318),
    # volume, in litres
    "ml": ("volume", 1e-3), "cl": ("volume", 1e-2), "l": ("volume", 1.0), "m3": ("volume", 1e3),
    "tsp": ("volume", 0.00492892159375), "tbsp": ("volume", 0.01478676478125),
    "floz": ("volume", 0.0295735295625), "cup": ("volume", 0.2365882365),
    "pt": ("volume", 0.473176473), "qt": ("volume", 0.946352946), "gal": ("volume", 3.785411784),
    "ukgal": ("volume", 4.54609),
    # area, in square metres
    "m2": ("area", 1.0), "km2": ("area", 1e6), "ha": ("area", 1e4), "acre": ("area", 4046.8564224),
    "ft2": ("area", 0.09290304), "mi2": ("area", 2589988.110336),
    # speed, in metres per second
    "m/s": ("speed", 1.0), "km/h": ("speed", 1 / 3.6), "mph": ("speed", 0.44704),
    "kn": ("speed", 1852 / 3600),
    # time, in seconds
    "s": ("time", 1.0), "min": ("time", 60.0), "h": ("time", 3600.0), "day": ("time", 86400.0),
    "week": ("time", 604800.0), "year": ("time", 31557600.0),
    # data, in bytes
    "B": ("data", 1.0), "KB": ("data", 1e3), "MB": ("data", 1e6), "GB": ("data", 1e9), "TB": ("data", 1e12),
    "KiB": ("data", 1024.0), "MiB": ("data", 1024.0**2), "GiB": ("data", 1024.0**3),
    "TiB": ("data", 1024.0**4),
    # energy, in joules
    "J": ("energy", 1.0), "kJ": ("energy", 1e3), "cal": ("energy", 4.184), "kcal": ("energy", 4184.0),
    "Wh": ("energy", 3600.0), "kWh": ("energy", 3.6e6),
    # pressure, in pascals
    "Pa": ("pressure", 1.0), "kPa": ("pressure", 1e3), "bar": ("pressure", 1e5),
    "atm": ("pressure", 101325.0), "psi": ("pressure", 6894.757293168),
}  # fmt: skip
TEMPERATURES = ("C", "F", "K")
ALIASES = {
    "meter": "m", "metre": "m", "meters": "m", "metres": "m", "kilometer": "km", "kilometre": "km",
    "mile": "mi", "miles": "mi", "foot": "ft", "feet": "ft", "inch": "in", "inches": "in",
    "yard": "yd", "gram": "g", "grams": "g", "kilogram": "kg", "kilograms": "kg", "pound": "lb",
    "pounds": "lb", "lbs": "lb", "ounce": "oz", "ounces": "oz", "liter": "l", "litre": "l",
    "liters": "l", "litres": "l", "gallon": "gal", "gallons": "gal", "celsius": "C", "°c": "C",
    "fahrenheit": "F", "°f": "F", "kelvin": "K", "hour": "h", "hours": "h", "minute": "min",
    "minutes": "min", "second": "s", "seconds": "s", "days": "day", "kph": "km/h", "knots": "kn",
}  # fmt: skip


def convert_units(value: float, from_unit: str, to_unit: str) -> dict[str, Any]:
    source, target = _unit(from_unit), _unit(to_unit)
    if source in TEMPERATURES or target in TEMPERATURES:
        if not (source in TEMPERATURES and target in TEMPERATURES):
            raise ToolError(f"cannot convert {from_unit} to {to_unit}")
        kelvin = {"C": value + 273.15, "F": (value - 32) * 5 / 9 + 273.15, "K": value}[source]
        result = {"C": kelvin - 273.15, "F": (kelvin - 273.15) * 9 / 5 + 32, "K": kelvin}[target]
    else:
        (kind, factor), (target_kind, target_factor) = FACTORS[source], FACTORS[target]
        if kind != target_kind:
            raise ToolError(f"cannot convert {kind} ({from_unit}) to {target_kind} ({to_unit})")
        result = value * factor / target_factor
    return {"value": value, "from": source, "to": target, "result": round(result, 10)}


def _unit(name: str) -> str:
    key = name.strip()
    if key in FACTORS or key in TEMPERATURES:
        return key
    lowered = key.lower()
    for known in (*FACTORS, *TEMPERATURES):
        if known.lower() == lowered:
            return known
    if lowered in ALIASES:
        return ALIASES[lowered]
    raise ToolError(f"unknown unit “{name}”")


CONVERT_UNITS = Tool(
    name="convert_units",
    description="Convert a value between units of length, mass, volume, area, speed, time, data "
    "size, energy, pressure or temperature (e.g. 5 mi to km, 350 F to C, 2 GiB to MB).",
    parameters={
        "type": "object",
        "properties": {
            "value": {"type": "number"},
            "from_unit": {"type": "string", "description": "e.g. mi, kg, l, F, GiB, km/h"},
            "to_unit": {"type": "string"},
        },
        "required": ["value", "from_unit", "to_unit"],
    },
    function=convert_units,
)
