from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from plait.tools import ToolArgumentError
from plait.tools.builtin import DateTimeTool
from plait.tools.builtin.dates import format_duration, parse_duration

FIXED = datetime(2024, 3, 30, 22, 30, tzinfo=UTC)
clock = DateTimeTool(clock=lambda: FIXED)


async def test_now_in_a_time_zone() -> None:
    result = await clock.call({"operation": "now", "tz": "Europe/Paris"})
    assert result == {"iso": "2024-03-30T23:30:00+01:00", "date": "2024-03-30",
                      "time": "23:30:00", "timezone": "Europe/Paris", "utc_offset": "+01:00",
                      "weekday": "Saturday", "timestamp": FIXED.timestamp()}


async def test_the_real_clock() -> None:
    result = await DateTimeTool().call({"operation": "now"})
    assert isinstance(result, dict)
    moment = datetime.fromisoformat(str(result["iso"]))
    assert abs(moment - datetime.now(UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize(("value", "fmt", "iso"), [
    ("2024-05-01T12:00:00+02:00", None, "2024-05-01T12:00:00+02:00"),
    ("2024-05-01T10:00:00Z", None, "2024-05-01T10:00:00+00:00"),
    ("2024-05-01", None, "2024-05-01T00:00:00+00:00"),
    ("2024-05-01 08:15", None, "2024-05-01T08:15:00+00:00"),
    ("0", None, "1970-01-01T00:00:00+00:00"),
    ("1700000000.5", None, "2023-11-14T22:13:20.500000+00:00"),
    ("20240501", None, "2024-05-01T00:00:00+00:00"),
    ("01/05/2024 7:05", "%d/%m/%Y %H:%M", "2024-05-01T07:05:00+00:00"),
    ("now", None, "2024-03-30T22:30:00+00:00"),
])
async def test_parse(value: str, fmt: str | None, iso: str) -> None:
    result = await clock.call({"operation": "parse", "value": value, "format": fmt})
    assert isinstance(result, dict)
    assert result["iso"] == iso


async def test_naive_values_are_read_in_tz_and_convert_moves_zones() -> None:
    parsed = await clock.call({"operation": "parse", "value": "2024-07-01T12:00",
                               "tz": "America/New_York"})
    assert parsed["iso"] == "2024-07-01T12:00:00-04:00"  # type: ignore[index]
    converted = await clock.call({"operation": "convert", "value": "2024-07-01T12:00:00Z",
                                  "tz": "Asia/Tokyo"})
    assert converted["iso"] == "2024-07-01T21:00:00+09:00"  # type: ignore[index]


async def test_format() -> None:
    result = await clock.call({"operation": "format", "value": "2024-05-01T07:05:00",
                               "format": "%A %d %B %Y, %H:%M"})
    assert result == {"text": "Wednesday 01 May 2024, 07:05",
                      "iso": "2024-05-01T07:05:00+00:00"}


@pytest.mark.parametrize(("value", "duration", "iso"), [
    ("2024-01-31", "P1M", "2024-02-29T00:00:00+00:00"),
    ("2023-01-31", "P1M", "2023-02-28T00:00:00+00:00"),
    ("2024-02-29", "P1Y", "2025-02-28T00:00:00+00:00"),
    ("2024-01-01T00:00:00", "P1DT2H30M", "2024-01-02T02:30:00+00:00"),
    ("2024-01-01T00:00:00", "-PT90M", "2023-12-31T22:30:00+00:00"),
    ("2024-01-01T00:00:00", "P2W", "2024-01-15T00:00:00+00:00"),
    ("2024-01-01T00:00:00", "PT0.5S", "2024-01-01T00:00:00.500000+00:00"),
])
async def test_add(value: str, duration: str, iso: str) -> None:
    result = await clock.call({"operation": "add", "value": value, "duration": duration})
    assert result["iso"] == iso  # type: ignore[index]


async def test_add_across_a_dst_change() -> None:
    # Paris springs forward on 2024-03-31 at 02:00: a day keeps the wall clock,
    # 24 hours of elapsed time does not
    base = {"operation": "add", "value": "2024-03-30T12:00:00", "tz": "Europe/Paris"}
    day = await clock.call({**base, "duration": "P1D"})
    hours = await clock.call({**base, "duration": "PT24H"})
    assert day["iso"] == "2024-03-31T12:00:00+02:00"  # type: ignore[index]
    assert hours["iso"] == "2024-03-31T13:00:00+02:00"  # type: ignore[index]


async def test_diff() -> None:
    result = await clock.call({"operation": "diff", "value": "2024-01-01T00:00:00Z",
                               "other": "2024-01-02T01:30:00+01:00"})
    assert result == {"seconds": 88200.0, "minutes": 1470.0, "hours": 24.5,
                      "days": 88200 / 86400, "iso_duration": "P1DT30M"}


@pytest.mark.parametrize(("arguments", "location"), [
    ({"operation": "now", "tz": "Mars/Olympus"}, "tz"),
    ({"operation": "parse"}, "value"),
    ({"operation": "parse", "value": "yesterday-ish"}, "value"),
    ({"operation": "add", "value": "2024-01-01"}, "duration"),
    ({"operation": "add", "value": "2024-01-01", "duration": "1 day"}, "duration"),
    ({"operation": "add", "value": "2024-01-01", "duration": "P"}, "duration"),
    ({"operation": "add", "value": "2024-01-01", "duration": "P10000Y"}, "duration"),
    ({"operation": "diff", "value": "2024-01-01"}, "other"),
    ({"operation": "format", "value": "2024-01-01"}, "format"),
    ({"operation": "explode"}, "operation"),
])
async def test_argument_errors(arguments: dict[str, str], location: str) -> None:
    with pytest.raises(ToolArgumentError) as info:
        await clock.call(arguments)
    assert info.value.problems[0].location == location


def test_durations_round_trip() -> None:
    assert parse_duration("P1Y2M3W4DT5H6M7.5S") == (
        1, 14, timedelta(weeks=3, days=4), timedelta(hours=5, minutes=6, seconds=7.5))
    assert format_duration(timedelta(days=1, hours=2, seconds=3)) == "P1DT2H3S"
    assert format_duration(-timedelta(minutes=90)) == "-PT1H30M"
    assert format_duration(timedelta(0)) == "PT0S"
    assert format_duration(timedelta(seconds=1.25)) == "PT1.25S"
