"""Dataclass records from JSON, checked field by field against their type annotations.

Strict, as a wire format should be: bools are not ints, ints are fine where floats are expected
(but not infinities), enums take their values only, unknown and missing fields are errors.
Supported annotations: ``str``, ``int``, ``float``, ``bool``, ``StrEnum`` subclasses, nested
dataclasses, ``list[X]``, ``dict[str, X]`` and ``Any`` (any JSON value). A record may give
the ranges of its numbers in a ``LIMITS`` class variable (``GenerationSettings`` does).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import MISSING, fields, is_dataclass
from enum import Enum
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

T = TypeVar("T")


class RecordError(ValueError):
    """JSON that does not fit the record; the message starts with the path of the field at fault."""


_EXPECTED = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def from_json(cls: type[T], data: Any, path: str) -> T:
    """Build the dataclass ``cls`` from JSON ``data``, checking every field against its type;
    ``path`` names ``data`` in error messages."""
    record: Any = cls  # a dataclass, which the type system cannot say of a type variable
    if not isinstance(data, dict):
        raise RecordError(f"{path}: expected an object, got {describe(data)}")
    known = {f.name: f for f in fields(record) if f.init}
    for name in data:
        if name not in known:
            raise RecordError(f"{path}.{name}: unknown field")
    types = _field_types(record)
    values = {}
    for name, spec in known.items():
        if name in data:
            values[name] = _value(types[name], data[name], f"{path}.{name}")
        elif spec.default is MISSING and spec.default_factory is MISSING:
            raise RecordError(f"{path}.{name}: missing")
    limits: dict[str, tuple[float, float]] = getattr(record, "LIMITS", {})
    for name, (low, high) in limits.items():
        if name in values and not low <= values[name] <= high:
            raise RecordError(f"{path}.{name}: {describe(values[name])} is outside {low:g} to {high:g}")
    return record(**values)


def _value(hint: Any, value: Any, path: str) -> Any:
    origin = get_origin(hint)
    if hint is Any:
        return value
    if origin is list:
        if not isinstance(value, list):
            raise RecordError(f"{path}: expected a list, got {describe(value)}")
        (item,) = get_args(hint)
        return [_value(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise RecordError(f"{path}: expected an object, got {describe(value)}")
        _key, item = get_args(hint)
        return {k: _value(item, v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, Enum):
        if isinstance(value, str) and value in hint._value2member_map_:
            return hint(value)
        choices = ", ".join(describe(member.value) for member in hint)
        raise RecordError(f"{path}: expected one of {choices}, got {describe(value)}")
    if isinstance(hint, type) and is_dataclass(hint):
        return from_json(hint, value, path)
    return _scalar(hint, value, path)


def _scalar(hint: Any, value: Any, path: str) -> Any:
    if hint not in _EXPECTED:
        raise TypeError(f"{path}: a record cannot carry {hint!r}")  # a mistake in its annotations
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if hint is float and is_number:
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if math.isfinite(number):
            return number
        raise RecordError(f"{path}: expected a finite number, got {describe(value)}")
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint in (bool, str) and isinstance(value, hint):
        return value
    raise RecordError(f"{path}: expected {_EXPECTED[hint]}, got {describe(value)}")


def describe(value: Any) -> str:
    """A short rendering of a received value, for error messages (a value may be huge)."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "…"
