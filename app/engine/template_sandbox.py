"""A chat template is foreign code from the model file: run it with a time, memory and size budget.

Jinja's sandbox already stops a template from touching anything outside it. What it does not stop
is a template that never finishes (three nested loops of 100,000) or builds gigantic values
(``'x' * 10**12``, a string doubled 60 times). Three guards, each for what the others cannot see:

- **Sizes, before the fact.** Every operation that can make a big value from small ones in a
  single step (``*``, ``**``, ``+``, ``%``, ``~``, the string methods and filters that pad,
  repeat, replace or join, turning a list into text) is checked first and refused if its result
  would pass the output budget; so is the rendered text, piece by piece. This is the only guard
  that works inside one C call: once ``'x' * 10**12`` has started, nothing can stop it.
- **Time, during.** A watchdog thread raises an exception inside the rendering thread
  (``PyThreadState_SetAsyncExc``) when the budget runs out. Python delivers it between two
  bytecodes, and Jinja compiles templates to Python, so every loop and every recursion stops.
- **Memory, during.** The same watchdog stops a render that makes the process grow by more than
  its budget: many steps each within the size budget can still add up.

What stays possible is one long C call on values that passed the size checks; the bounds make
these short (a sort or a search over a few megabytes). Rendering in a child process with OS
limits would close that gap too, at the price of a process per worker and a round trip per
prompt; these guards keep rendering in-process and cost microseconds.
"""

from __future__ import annotations

import ctypes
import functools
import inspect
import os
import re
import sys
import threading
import time
from collections.abc import Callable, ItemsView, Iterable, KeysView, Mapping, ValuesView
from typing import Any

from jinja2.compiler import CodeGenerator, Frame
from jinja2.ext import loopcontrols
from jinja2.nodes import Concat
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

RENDER_SECONDS = 5.0
RENDER_MEMORY_BYTES = 512 * 2**20
MIN_OUTPUT_CHARS = 4 * 2**20  # four times the longest context of any Gemma 4 model, in characters
OUTPUT_PER_INPUT_CHAR = 8  # a template repeats what it is given a few times at most
MAX_NUMBER_BITS = 1 << 16
_POLL_SECONDS = 0.02


class TemplateRunaway(Exception):
    """The template went past its budget; the message says which, in words."""


class _TimeUp(BaseException):
    """Raised inside the rendering thread by the watchdog. A BaseException, so that no
    ``except Exception`` in Jinja or in a caller swallows it."""


def run_with_budget(work: Callable[[], Any], seconds: float, memory_bytes: int) -> Any:
    """``work()``, stopped with ``TemplateRunaway`` if it runs longer than ``seconds`` or makes
    the process grow by more than ``memory_bytes``."""
    target = threading.get_ident()
    finished = threading.Event()
    lock = threading.Lock()
    fired: list[str] = []
    baseline = _resident_bytes()

    def watch() -> None:
        deadline = time.monotonic() + seconds
        while not finished.wait(_POLL_SECONDS):
            if time.monotonic() > deadline:
                reason = f"it was stopped after {round(seconds, 1):g} seconds"
            elif baseline and _resident_bytes() - baseline > memory_bytes:
                reason = f"it was stopped after taking more than {memory_bytes // 2**20} MB of memory"
            else:
                continue
            with lock:  # again at each poll, should something have swallowed the last one
                if not finished.is_set():
                    fired.append(reason)
                    _raise_in_thread(target, _TimeUp)

    watchdog = threading.Thread(target=watch, name="template-watchdog", daemon=True)
    watchdog.start()
    try:
        try:
            return work()
        finally:
            with lock:
                finished.set()
            if fired:
                # It may not have been delivered yet: it must not go off later, elsewhere.
                _raise_in_thread(target, None)
    except _TimeUp:
        raise TemplateRunaway(fired[0] if fired else "it was stopped") from None


def _raise_in_thread(thread_id: int, exception: type[BaseException] | None) -> None:
    # None clears an exception set earlier that has not been raised yet.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception else None
    )


def _resident_bytes() -> int:
    """The process's resident memory where cheap to read (Linux), else its peak (other Unixes),
    else 0, which turns the memory guard off."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak) if sys.platform == "darwin" else int(peak) * 1024
    except (ImportError, OSError, ValueError):
        return 0


# --- sizes ------------------------------------------------------------------------------------


class _TooHeavy(Exception):
    pass


def text_weight(value: Any, limit: int) -> int:
    """About how many characters ``value`` makes as text (``str()``, ``tojson``), counting an item
    as often as it appears; anything past ``limit`` stops the count and raises ``TemplateRunaway``."""
    memo: dict[int, int] = {}

    def walk(item: Any, depth: int) -> int:
        if isinstance(item, str):
            return len(item)
        if isinstance(item, bool | float | None):
            return 8
        if isinstance(item, int):
            return item.bit_length() // 3 + 2
        key = id(item)
        if key in memo:
            return memo[key]
        if depth > 64:
            raise _TooHeavy
        memo[key] = 0  # a cycle counts once
        if isinstance(item, Namespace):
            item = object.__getattribute__(item, "_Namespace__attrs")
        if isinstance(item, Mapping):
            children: Iterable[Any] = (part for pair in item.items() for part in pair)
        elif isinstance(item, list | tuple | set | frozenset | KeysView | ValuesView | ItemsView):
            children = item  # collections and views of them, never an iterator it would use up
        else:
            return 32
        total = 2
        for child in children:
            total += walk(child, depth + 1) + 2
            if total > limit:
                raise _TooHeavy
        memo[key] = total
        return total

    try:
        return walk(value, 0)
    except (_TooHeavy, RecursionError):
        raise _too_big(limit) from None


def _too_big(limit: int) -> TemplateRunaway:
    return TemplateRunaway(f"it tried to build a text of more than {limit:,} characters")


def _within(size: int, limit: int) -> None:
    if size > limit:
        raise _too_big(limit)


# A width or precision in a %-format (``%9999999999d``, ``%*d``) or in a str.format field
# (``{:>9999999999}``, ``{:>{}}``): the one place where formatting makes a big text from small values.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?")
_FIELD_SPEC = re.compile(r"\{[^{}]*?:([^{}]*)\}")
_NESTED_FIELD = re.compile(r"\{[^{}]*\{")


def _formatting_within(fmt: str, values: Iterable[Any], limit: int, percent: bool) -> None:
    """Refuse a format whose widths, written in it or taken from ``values``, pass ``limit``."""
    if percent:
        sizes = [size for match in _PERCENT_SPEC.finditer(fmt) for size in match.groups() if size]
        from_values = "*" in sizes
    else:
        sizes = [run for spec in _FIELD_SPEC.findall(fmt) for run in re.findall(r"\d+", spec)]
        from_values = bool(_NESTED_FIELD.search(fmt))
    if from_values:
        sizes += [str(v) for v in values if _is_int(v) or (isinstance(v, str) and v.isdigit())]
    if any(size != "*" and (len(size) > 9 or int(size) > limit) for size in sizes):
        raise _too_big(limit)
    text_weight(list(values), limit)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` to the environment's bounded join instead of a plain one."""

    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        self.write("environment.concat(map(environment.as_text, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(")))")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with every value a template makes kept under ``output_limit``."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def __init__(self, **options: Any) -> None:
        super().__init__(extensions=[loopcontrols], finalize=self._finalize, **options)
        self.output_limit = MIN_OUTPUT_CHARS
        for name, check in _FILTER_CHECKS.items():
            self.filters[name] = _guarded(self.filters[name], check, self)

    def concat(self, pieces: Iterable[str]) -> str:
        """The rendered text (and that of blocks and macros), refused piece by piece once too long."""
        kept, total, limit = [], 0, self.output_limit
        for piece in pieces:
            total += len(piece)
            if total > limit:
                raise _too_big(limit)
            kept.append(piece)
        return "".join(kept)

    def as_text(self, value: Any) -> str:
        if not isinstance(value, str):
            text_weight(value, self.output_limit)
        return str(value)

    def _finalize(self, value: Any) -> Any:
        if not isinstance(value, str | int | float):
            text_weight(value, self.output_limit)
        return value

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        limit = self.output_limit
        if operator == "*":
            for many, times in ((left, right), (right, left)):
                if _is_int(times) and times > 0 and isinstance(many, str | list | tuple):
                    _within(text_weight(many, limit) * times, limit)
            if _is_int(left) and _is_int(right):
                _within(left.bit_length() + right.bit_length(), MAX_NUMBER_BITS)
        elif operator == "**" and _is_int(left) and _is_int(right) and right > 0:
            _within(left.bit_length() * right if abs(left) > 1 else 0, MAX_NUMBER_BITS)
        elif (
            operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple)
        ):
            _within(len(left) + len(right), limit)
        elif operator == "%" and isinstance(left, str):
            given = (
                right.values() if isinstance(right, dict) else right if isinstance(right, tuple) else (right,)
            )
            _formatting_within(left, list(given), limit, percent=True)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        method = getattr(__obj, "__wrapped__", __obj)  # str.format comes wrapped by the sandbox
        owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
        if isinstance(owner, str):
            args = __self._check_str_method(owner, name, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def _check_str_method(
        self, text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any, ...]:
        limit = self.output_limit
        values = [*args, *kwargs.values()]
        if name in ("center", "ljust", "rjust", "zfill") and values and _is_int(values[0]):
            _within(values[0], limit)
        elif name == "expandtabs":
            size = values[0] if values and _is_int(values[0]) else 8
            _within(len(text) + text.count("\t") * size, limit)
        elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
            hits = text.count(args[0]) if args[0] else len(text) + 1
            _within(len(text) + hits * max(len(args[1]) - len(args[0]), 0), limit)
        elif name == "join" and args:
            items = list(args[0])  # a generator is read once, here, then handed on
            _within(text_weight(items, limit) + len(text) * len(items), limit)
            return (items, *args[1:])
        elif name in ("format", "format_map"):
            if name == "format_map" and values and isinstance(values[0], dict):
                values = list(values[0].values())
            _formatting_within(text, values, limit, percent=False)
        elif name in ("translate", "maketrans"):
            raise TemplateRunaway("it used a text operation Hearth does not run")
        return args


def _guarded(
    original: Callable[..., Any], check: Callable[[dict[str, Any], int], None], env: BoundedEnvironment
) -> Callable[..., Any]:
    """``original`` (a Jinja filter), with ``check(arguments, output_limit)`` before each call; the
    check may replace an argument (a generator it had to read)."""
    signature = inspect.signature(original)

    @functools.wraps(original)  # keeps Jinja's pass_context/pass_environment marks
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return original(*args, **kwargs)  # let the filter complain in its own words
        bound.apply_defaults()
        check(bound.arguments, env.output_limit)
        return original(*bound.args, **bound.kwargs)

    return guarded


def _check_center(a: dict[str, Any], limit: int) -> None:
    if _is_int(a["width"]):
        _within(a["width"], limit)


def _check_indent(a: dict[str, Any], limit: int) -> None:
    width = a["width"]
    size = len(width) if isinstance(width, str) else width if _is_int(width) else 0
    _within((str(a["s"]).count("\n") + 1) * size, limit)


def _check_wordwrap(a: dict[str, Any], limit: int) -> None:
    width, glue = a["width"], a["wrapstring"]
    lines = len(str(a["s"])) // max(width if _is_int(width) else 1, 1) + 1
    _within(lines * len(str(glue or "\n")), limit)


def _check_format(a: dict[str, Any], limit: int) -> None:
    _formatting_within(str(a["value"]), [*a["args"], *a["kwargs"].values()], limit, percent=True)


def _check_replace(a: dict[str, Any], limit: int) -> None:
    text, old, new = str(a["s"]), str(a["old"]), str(a["new"])
    hits = text.count(old) if old else len(text) + 1
    _within(len(text) + hits * max(len(new) - len(old), 0), limit)


def _check_join(a: dict[str, Any], limit: int) -> None:
    a["value"] = items = list(a["value"])
    _within(text_weight(items, limit) + len(str(a["d"])) * len(items), limit)


def _check_batch(a: dict[str, Any], limit: int) -> None:
    if a["fill_with"] is not None and _is_int(a["linecount"]):
        _within(a["linecount"] * (text_weight(a["fill_with"], limit) + 1), limit)


def _check_tojson(a: dict[str, Any], limit: int) -> None:
    indent = a["indent"]
    width = len(indent) if isinstance(indent, str) else indent if _is_int(indent) else 0
    _within(text_weight(a["value"], limit) * (1 + max(width, 0)), limit)


def _check_text(a: dict[str, Any], limit: int) -> None:
    text_weight(a["s"] if "s" in a else a["value"], limit)


def _check_sum(a: dict[str, Any], limit: int) -> None:
    if not isinstance(a["start"], int | float):  # summing lists is quadratic, in one C call
        raise TemplateRunaway("it tried to add up values that are not numbers")


_FILTER_CHECKS: dict[str, Callable[[dict[str, Any], int], None]] = {
    "center": _check_center,
    "indent": _check_indent,
    "wordwrap": _check_wordwrap,
    "format": _check_format,
    "replace": _check_replace,
    "join": _check_join,
    "batch": _check_batch,
    "tojson": _check_tojson,
    "string": _check_text,
    "pprint": _check_text,
    "sum": _check_sum,
}
