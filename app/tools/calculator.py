"""calculator: arithmetic the model should not do in its head. Evaluated by simpleeval, which
parses the expression and allows only operators, numbers and the functions below (never
``eval``: no names, attributes, imports or calls beyond these)."""

from __future__ import annotations

import ast
import math
from typing import Any

import simpleeval

from app.tools.registry import Tool, ToolError

MAX_EXPRESSION = 500  # characters
MAX_POWER = 10_000  # a larger exponent is refused: 10**10**9 would freeze the machine

FUNCTIONS = {
    name: getattr(math, name)
    for name in (
        "sqrt", "exp", "log", "log10", "log2", "sin", "cos", "tan", "asin", "acos", "atan",
        "atan2", "degrees", "radians", "floor", "ceil", "factorial", "hypot", "gcd", "lcm",
    )
} | {"abs": abs, "round": round, "min": min, "max": max}  # fmt: skip
MAX_FACTORIAL = 1_000  # factorial(10**7) alone would take the machine for minutes
NAMES = {"pi": math.pi, "e": math.e, "tau": math.tau}


def calculate(expression: str) -> dict[str, Any]:
    if len(expression) > MAX_EXPRESSION:
        raise ToolError(f"the expression is longer than {MAX_EXPRESSION} characters")
    evaluator = simpleeval.SimpleEval(functions=FUNCTIONS, names=NAMES)
    evaluator.operators = dict(evaluator.operators)
    evaluator.operators[ast.Pow] = _power
    try:
        value = evaluator.eval(expression.replace("^", "**"))
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except (simpleeval.InvalidExpression, SyntaxError, TypeError, ValueError, OverflowError) as error:
        raise ToolError(f"cannot calculate “{expression}”: {error}") from None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ToolError(f"“{expression}” is not a number")
    if isinstance(value, int) and abs(value) > 10**100:
        try:
            value = float(value)
        except OverflowError:
            raise ToolError(f"the result of “{expression}” is too large") from None
    return {"expression": expression, "result": value}


def _factorial(n: Any) -> int:
    if isinstance(n, int) and n > MAX_FACTORIAL:
        raise ToolError(f"factorial above {MAX_FACTORIAL} is too large")
    return math.factorial(n)


FUNCTIONS["factorial"] = _factorial


def _power(base: Any, exponent: Any) -> Any:
    if abs(exponent) > MAX_POWER:
        raise ToolError(f"an exponent above {MAX_POWER} is too large")
    return base**exponent


CALCULATOR = Tool(
    name="calculator",
    description="Evaluate an arithmetic expression exactly, e.g. (17.5 * 4) / 3 or sqrt(2) * pi. "
    "Supports + - * / // % ** and sqrt, exp, log, log10, log2, sin, cos, tan, floor, ceil, round, "
    "abs, min, max, factorial, pi, e.",
    parameters={
        "type": "object",
        "properties": {"expression": {"type": "string", "description": "the expression to evaluate"}},
        "required": ["expression"],
    },
    function=calculate,
)
