"""Dates and times: now in a time zone, parse, format, convert, add ISO 8601 durations, diff.

Values are ISO 8601 text (``2024-05-01T12:00:00+02:00``, ``2024-05-01``, ``20240501``,
``...Z``), Unix timestamps (digits that are not an ISO date), or text in a given
``strptime`` format. Values without an offset are read in
``tz`` (default UTC). Durations are ISO 8601 (``P1Y2M3DT4H5M6S``, ``-P2W``): years, months,
weeks and days move the calendar (wall clock, month ends clamped: Jan 31 + P1M = Feb 29 in a
leap year); hours, minutes and seconds are elapsed time (DST shifts count).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal, assert_never
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plait.tools.errors import ToolArgumentError
from plait.tools.tool import Tool

__all__ = ["DateTimeTool", "format_duration", "parse_duration"]

_NUMBER = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"^(?P<sign>[-+])?P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>{_NUMBER})W)?"
    rf"(?:(?P<days>{_NUMBER})D)?(?:T(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?"
    rf"(?:(?P<seconds>{_NUMBER})S)?)?$")
_TIMESTAMP = re.compile(r"^-?\d{1,12}(?:\.\d+)?$")


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolArgumentError.single("tz", f"unknown time zone {tz!r}; use an IANA name such"
                                       " as 'Europe/Paris' or 'UTC'") from None


def parse_duration(text: str) -> tuple[int, int, timedelta, timedelta]:
    """(sign, months, calendar days, elapsed time) of an ISO 8601 duration."""
    match = _DURATION.match(text.strip().upper())
    if match is None or text.strip().upper().rstrip("T") in ("P", "-P", "+P") or \
            text.strip().upper().endswith("T"):
        raise ToolArgumentError.single(
            "duration", f"{text!r} is not an ISO 8601 duration such as 'P1DT2H' or '-PT30M'")
    part = {k: float(v.replace(",", ".")) if v else 0.0 for k, v in match.groupdict().items()
            if k != "sign"}
    sign = -1 if match.group("sign") == "-" else 1
    months = int(part["years"]) * 12 + int(part["months"])
    days = timedelta(weeks=part["weeks"], days=part["days"])
    elapsed = timedelta(hours=part["hours"], minutes=part["minutes"], seconds=part["seconds"])
    return sign, months, days, elapsed


def format_duration(delta: timedelta) -> str:
    """``delta`` as an ISO 8601 duration of days, hours, minutes and seconds."""
    total = delta.total_seconds()
    sign = "-" if total < 0 else ""
    days, rest = divmod(abs(total), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}P{int(days)}D" if days else f"{sign}P"
    clock = "".join(f"{int(v)}{u}" for v, u in ((hours, "H"), (minutes, "M")) if v)
    if seconds:
        clock += f"{seconds:g}S" if seconds != int(seconds) else f"{int(seconds)}S"
    if clock:
        text += "T" + clock
    return text if text not in ("P", "-P") else "PT0S"


def _add_months(value: datetime, months: int) -> datetime:
    year, month = divmod(value.month - 1 + months, 12)
    year += value.year
    if not 1 <= year <= 9999:
        raise OverflowError("the date leaves the years 1-9999")
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)


def _describe(value: datetime) -> dict[str, object]:
    offset = value.strftime("%z")
    return {"iso": value.isoformat(), "date": value.date().isoformat(),
            "time": value.time().isoformat(), "timezone": str(value.tzinfo),
            "utc_offset": f"{offset[:3]}:{offset[3:]}" if offset else "",
            "weekday": value.strftime("%A"), "timestamp": value.timestamp()}


class DateTimeTool(Tool):
    """Work with dates and times: the current time in a time zone, parse, format, convert
    between zones, add ISO 8601 durations (e.g. P1DT2H), and the difference of two times."""

    name = "datetime"

    def __init__(self, *, clock: Callable[[], datetime] | None = None,
                 name: str | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        super().__init__(name=name)

    def _parse(self, value: str | None, where: str, fmt: str | None, zone: ZoneInfo
               ) -> datetime:
        if value is None:
            raise ToolArgumentError.single(where, "this operation needs it")
        text = value.strip()
        try:
            if text.lower() == "now":
                return self.clock().astimezone(zone)
            if fmt:
                parsed = datetime.strptime(text, fmt)
            else:
                try:
                    parsed = datetime.fromisoformat(text)
                except ValueError:
                    if not _TIMESTAMP.match(text):
                        raise
                    return datetime.fromtimestamp(float(text), UTC).astimezone(zone)
        except (ValueError, OverflowError, OSError) as exc:
            raise ToolArgumentError.single(where, f"cannot read {value!r} as a time: {exc}"
                                           ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)

    def run(self, operation: Literal["now", "parse", "format", "convert", "add", "diff"],
            value: str | None = None, other: str | None = None, format: str | None = None,
            tz: str = "UTC", duration: str | None = None) -> dict[str, object]:
        """Do one date-time operation.

        Args:
            operation: "now" (the current time in tz), "parse" (describe value), "format"
                (value with a strftime format), "convert" (value in time zone tz), "add"
                (value plus duration), "diff" (other minus value).
            value: A time: ISO 8601 text, a Unix timestamp, "now", or text in the given
                format.
            other: The second time, for "diff".
            format: For "format", a strftime format such as "%Y-%m-%d %H:%M"; for the other
                operations, a strptime format to read value and other with.
            tz: IANA time zone (e.g. "Europe/Paris") for "now", "convert" and for values
                without an offset.
            duration: An ISO 8601 duration for "add", e.g. "P1DT2H30M" or "-P1M".
        """
        zone = _zone(tz)
        read_format = None if operation == "format" else format
        match operation:
            case "now":
                return _describe(self.clock().astimezone(zone))
            case "parse":
                return _describe(self._parse(value, "value", read_format, zone))
            case "convert":
                return _describe(self._parse(value, "value", read_format, zone).astimezone(zone))
            case "format":
                if not format:
                    raise ToolArgumentError.single("format", "'format' needs a strftime format")
                moment = self._parse(value, "value", None, zone)
                return {"text": moment.strftime(format), "iso": moment.isoformat()}
            case "add":
                if duration is None:
                    raise ToolArgumentError.single("duration", "'add' needs a duration")
                moment = self._parse(value, "value", read_format, zone)
                sign, months, days, elapsed = parse_duration(duration)
                try:
                    moment = _add_months(moment, sign * months) + sign * days
                    moment = (moment.astimezone(UTC) + sign * elapsed).astimezone(moment.tzinfo)
                except OverflowError as exc:
                    raise ToolArgumentError.single("duration", str(exc)) from None
                return _describe(moment)
            case "diff":
                start = self._parse(value, "value", read_format, zone).astimezone(UTC)
                end = self._parse(other, "other", read_format, zone).astimezone(UTC)
                delta = end - start
                seconds = delta.total_seconds()
                return {"seconds": seconds, "minutes": seconds / 60, "hours": seconds / 3600,
                        "days": seconds / 86400, "iso_duration": format_duration(delta)}
            case _:
                assert_never(operation)
