"""The offline tools and their registry: a call is checked against the tool's schema, a tool's
refusal or bug comes back as words, results are bounded; the calculator never runs Python."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from app.tools.builtin import builtin_tools
from app.tools.registry import MAX_RESULT_CHARS, Tool, ToolRegistry

TOOLS = builtin_tools()


def call(name, **arguments):
    return TOOLS.call(name, arguments)


def test_every_tool_is_described_as_chat_templates_take_it():
    schemas = TOOLS.schemas()
    assert [s["function"]["name"] for s in schemas] == [
        "calculator",
        "date_time",
        "convert_units",
        "search_chats",
        "read_file",
        "list_folder",
        "find_in_files",
    ]
    for schema in schemas:
        assert schema["type"] == "function" and schema["function"]["description"]
        assert schema["function"]["parameters"]["type"] == "object"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("(17.5 * 4) / 3", 70 / 3), ("2^10", 1024), ("sqrt(2) * pi", 2**0.5 * 3.141592653589793), ("7 // 2", 3)],
)
def test_the_calculator_calculates(expression, expected):
    result = call("calculator", expression=expression)
    assert result.ok and f'"result": {expected}' in result.text


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("__import__('os').system('true')", "cannot calculate"),
        ("(1).__class__", "cannot calculate"),
        ("open('/etc/passwd')", "cannot calculate"),
        ("10 ** 10 ** 9", "too large"),
        ("factorial(10 ** 7)", "too large"),
        ("(10 ** 100) ** 10000", "too large"),
        ("1 / 0", "division by zero"),
        ("'a' * 3", "not a number"),
        ("1 +", "cannot calculate"),
    ],
)
def test_the_calculator_refuses_what_is_not_arithmetic_in_words(expression, words):
    result = call("calculator", expression=expression)
    assert not result.ok and words in result.text


def test_date_time_knows_today_other_zones_and_date_arithmetic():
    today = call("date_time")
    assert today.ok and datetime.now().astimezone().date().isoformat() in today.text
    tokyo = call("date_time", zone="Asia/Tokyo")
    assert tokyo.ok and '"utc_offset": "+0900"' in tokyo.text
    later = call("date_time", date_from="2026-12-02", add_days=30)
    assert later.ok and '"date": "2027-01-01"' in later.text and "Friday" in later.text
    between = call("date_time", date_from="2026-01-01", date_to="2026-12-25")
    assert between.ok and f'"days": {(date(2026, 12, 25) - date(2026, 1, 1)).days}' in between.text
    assert "unknown time zone" in call("date_time", zone="Mars/Olympus").text
    assert "YYYY-MM-DD" in call("date_time", date_from="next Tuesday").text


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (5, "mi", "km", 8.04672),
        (350, "F", "C", 176.6666666667),
        (2, "GiB", "MB", 2147.483648),
        (1, "cup", "ml", 236.5882365),
        (100, "km/h", "mph", 62.1371192237),
        (0, "celsius", "kelvin", 273.15),
    ],
)
def test_units_convert(value, source, target, expected):
    result = call("convert_units", value=value, from_unit=source, to_unit=target)
    assert result.ok and f'"result": {expected}' in result.text


def test_units_that_do_not_match_are_refused():
    assert "cannot convert" in call("convert_units", value=1, from_unit="kg", to_unit="km").text
    assert "cannot convert" in call("convert_units", value=1, from_unit="C", to_unit="m").text
    assert "unknown unit" in call("convert_units", value=1, from_unit="furlong", to_unit="m").text


def test_bad_calls_are_answered_in_words_the_model_can_correct():
    assert "no tool named “weather”" in call("weather", city="Oslo").text
    assert "missing expression" in call("calculator").text
    assert "must be a string" in call("calculator", expression=42).text
    assert "must be a number" in call("convert_units", value="five", from_unit="m", to_unit="km").text
    assert "must be an integer" in call("date_time", date_from="2026-01-01", add_days=True).text
    assert "unknown argument “precision”" in call("calculator", expression="1", precision=3).text
    assert "must be an object" in TOOLS.call("calculator", ["1 + 1"]).text


def test_a_tool_that_fails_or_floods_never_breaks_the_chat():
    registry = ToolRegistry()
    no_parameters = {"type": "object", "properties": {}}
    registry.register(Tool("broken", "always fails", no_parameters, lambda: 1 / 0))
    registry.register(Tool("chatty", "says too much", no_parameters, lambda: "x" * (MAX_RESULT_CHARS * 3)))
    broken = registry.call("broken", {})
    assert not broken.ok and "ZeroDivisionError" in broken.text
    chatty = registry.call("chatty", {})
    assert chatty.ok and len(chatty.text) < MAX_RESULT_CHARS + 100 and "cut" in chatty.text
    with pytest.raises(ValueError):
        registry.register(Tool("broken", "again", no_parameters, lambda: 0))
