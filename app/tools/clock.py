"""date_time: the current date and time here or in another time zone, and date arithmetic. The
model cannot know what day it is; this computer does."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.tools.registry import Tool, ToolError


def date_time(zone: str = "", date_from: str = "", add_days: int = 0, date_to: str = "") -> dict[str, Any]:
    """Now (in ``zone`` or the local zone); or ``date_from`` plus ``add_days``; or the days
    between ``date_from`` and ``date_to``."""
    if date_from:
        start = _date(date_from)
        if date_to:
            end = _date(date_to)
            return {"from": start.isoformat(), "to": end.isoformat(), "days": (end - start).days}
        result = start + timedelta(days=add_days)
        return {"date": result.isoformat(), "weekday": result.strftime("%A")}
    tz = _zone(zone) if zone else None
    now = datetime.now(tz) if tz else datetime.now().astimezone()
    if add_days:
        now += timedelta(days=add_days)
    return {
        "date": now.date().isoformat(),
        "time": now.strftime("%H:%M"),
        "weekday": now.strftime("%A"),
        "zone": zone or now.tzname() or "local",
        "utc_offset": now.strftime("%z"),
    }


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(f"unknown time zone “{name}” (use a name like Europe/Paris)") from None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ToolError(f"“{text}” is not a date written as YYYY-MM-DD") from None


DATE_TIME = Tool(
    name="date_time",
    description="The current date, time and weekday (here, or in a time zone such as "
    "America/New_York); a date plus or minus some days; or the number of days between two dates.",
    parameters={
        "type": "object",
        "properties": {
            "zone": {"type": "string", "description": "an IANA time zone; empty for this computer's"},
            "date_from": {"type": "string", "description": "a date, YYYY-MM-DD"},
            "add_days": {"type": "integer", "description": "days to add (negative: before)"},
            "date_to": {"type": "string", "description": "a second date, YYYY-MM-DD: count the days"},
        },
    },
    function=date_time,
)
