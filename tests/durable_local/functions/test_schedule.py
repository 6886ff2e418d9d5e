"""Timer schedules: NCRONTAB's six fields and TimeSpan intervals, as the Functions host reads
them (occurrences strictly after the base time, AND of day-of-month and day-of-week)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from durable_local.functions.schedule import ScheduleError, parse_schedule, time_zone

BASE = datetime(2026, 12, 4, 10, 7, 30, tzinfo=UTC)  # a Friday


def nexts(expression: str, count: int = 3, base: datetime = BASE) -> list[str]:
    schedule = parse_schedule(expression)
    return [t.strftime("%a %Y-%m-%d %H:%M:%S") for t in schedule.occurrences(base, count)]


def test_every_five_minutes() -> None:
    assert nexts("0 */5 * * * *") == [
        "Fri 2026-12-04 10:10:00",
        "Fri 2026-12-04 10:15:00",
        "Fri 2026-12-04 10:20:00",
    ]


def test_the_next_occurrence_is_strictly_after_the_base_time() -> None:
    on_the_dot = datetime(2026, 12, 4, 10, 10, 0, tzinfo=UTC)
    assert nexts("0 */5 * * * *", 1, on_the_dot) == ["Fri 2026-12-04 10:15:00"]


def test_nightly_at_half_past_one_rolls_to_the_next_day() -> None:
    assert nexts("0 30 1 * * *", 2) == ["Sat 2026-12-05 01:30:00", "Sun 2026-12-06 01:30:00"]


def test_weekdays_by_name_and_number() -> None:
    assert nexts("0 0 9 * * Mon-Fri") == nexts("0 0 9 * * 1-5")
    assert nexts("0 0 9 * * mon-fri") == [
        "Mon 2026-12-07 09:00:00",
        "Tue 2026-12-08 09:00:00",
        "Wed 2026-12-09 09:00:00",
    ]


def test_day_of_month_and_day_of_week_must_both_match() -> None:
    # The 13th that is a Friday (cron would run on every 13th and every Friday).
    assert nexts("0 0 0 13 * 5", 2) == ["Fri 2027-08-13 00:00:00", "Fri 2028-10-13 00:00:00"]


def test_month_names_lists_and_stepped_ranges() -> None:
    assert nexts("0 0 12 1 jan,JUL *", 2) == ["Fri 2027-01-01 12:00:00", "Thu 2027-07-01 12:00:00"]
    assert nexts("15/20 0 0 * * *", 3) == [
        "Sat 2026-12-05 00:00:15",
        "Sat 2026-12-05 00:00:35",
        "Sat 2026-12-05 00:00:55",
    ]
    assert nexts("0 10-40/10 10 * * *", 2) == ["Fri 2026-12-04 10:10:00", "Fri 2026-12-04 10:20:00"]


def test_the_31st_skips_short_months_and_feb_29_waits_for_a_leap_year() -> None:
    assert nexts("0 0 0 31 * *", 3) == [
        "Thu 2026-12-31 00:00:00",
        "Sun 2027-01-31 00:00:00",
        "Wed 2027-03-31 00:00:00",
    ]
    assert nexts("0 0 0 29 2 *", 1) == ["Tue 2028-02-29 00:00:00"]


def test_a_timespan_is_an_interval_from_the_base_time() -> None:
    schedule = parse_schedule("00:05:00")
    assert schedule.kind == "TimeSpan"
    assert schedule.next_after(BASE) == BASE + timedelta(minutes=5)
    assert parse_schedule("1.02:00:00").interval == timedelta(days=1, hours=2)


def test_occurrences_follow_the_app_time_zone() -> None:
    london = time_zone("Europe/London")
    assert isinstance(london, ZoneInfo)
    summer = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    [first] = parse_schedule("0 0 9 * * *").occurrences(summer, 1, london)
    assert first == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # 09:00 BST


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("*/5 * * * *", "six fields"),
        ("0 60 * * * *", "minute value 60 is outside 0-59"),
        ("0 0 0 0 * *", "day value 0 is outside 1-31"),
        ("0 0 0 * * 7", "day-of-week value 7 is outside 0-6"),
        ("0 0 0 * smarch *", "'smarch' is not a known month name"),
        ("0 0 12-1 * * *", "runs backwards"),
        ("0 */0 * * * *", "not a valid minute step"),
        ("0 0 0 30 2 *", "never occurs"),
        ("00:00:00", "must be positive"),
    ],
)
def test_bad_schedules_say_what_is_wrong(expression: str, problem: str) -> None:
    with pytest.raises(ScheduleError, match=problem):
        list(parse_schedule(expression).occurrences(BASE, 1))


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ScheduleError, match="not a known time zone"):
        time_zone("Mars/Olympus")
