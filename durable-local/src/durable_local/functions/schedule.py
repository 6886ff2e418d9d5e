"""Timer-trigger schedules as the Functions host reads them: six-field NCRONTAB expressions
(``{second} {minute} {hour} {day} {month} {day-of-week}``) and TimeSpan intervals (``hh:mm:ss``).

NCRONTAB's rules, which differ from Vixie cron in places: lists (``1,5``), ranges (``1-5``),
steps (``*/5``, ``10-40/10``, and ``5/15`` = from 5 to the field's maximum), names for months and
days of the week matched by case-insensitive prefix (``Jan``, ``mon``), days of the week 0-6 with
Sunday 0, and a day must match **both** the day-of-month and the day-of-week fields (AND, where
cron uses OR). Occurrences are computed in the app's time zone (``WEBSITE_TIME_ZONE``, an IANA
name; UTC by default) and returned in UTC; the next occurrence is strictly after the base time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
# (name, lowest, highest, value names)
_FIELDS: tuple[tuple[str, int, int, list[str] | None], ...] = (
    ("second", 0, 59, None),
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
)
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2}))?$")
# Far enough for any satisfiable expression (Feb 29 on a given weekday recurs within 28 years).
_SEARCH_DAYS = 366 * 30


class ScheduleError(ValueError):
    """A schedule the host would refuse; the message names the expression and the field."""


def _value(text: str, lowest: int, highest: int, names: list[str] | None, field: str) -> int:
    if text.isdigit():
        number = int(text)
    elif names is not None and text.isalpha():
        matches = [i for i, name in enumerate(names) if name.startswith(text.lower())]
        if not matches:
            raise ScheduleError(f"'{text}' is not a known {field} name")
        number = matches[0] + lowest
    else:
        raise ScheduleError(f"'{text}' is not a valid {field} value")
    if not lowest <= number <= highest:
        raise ScheduleError(f"{field} value {number} is outside {lowest}-{highest}")
    return number


def _parse_field(text: str, index: int) -> frozenset[int]:
    field, lowest, highest, names = _FIELDS[index]
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ScheduleError(f"the {field} field has an empty list item")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"'{step_text}' is not a valid {field} step")
            step = int(step_text)
        if base == "*":
            first, last = lowest, highest
        elif "-" in base:
            low, _, high = base.partition("-")
            first = _value(low, lowest, highest, names, field)
            last = _value(high, lowest, highest, names, field)
            if last < first:
                raise ScheduleError(f"the {field} range '{base}' runs backwards")
        else:
            first = _value(base, lowest, highest, names, field)
            last = highest if slash else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: either cron fields or a fixed interval."""

    expression: str
    fields: tuple[frozenset[int], ...] | None = None
    interval: timedelta | None = None

    @property
    def kind(self) -> str:
        """``Cron`` or ``TimeSpan``, as the host's start-up log names them."""
        return "Cron" if self.fields is not None else "TimeSpan"

    def next_after(self, base: datetime, zone: tzinfo = UTC) -> datetime:
        """The first occurrence strictly after ``base`` (aware), in UTC."""
        if self.interval is not None:
            return (base + self.interval).astimezone(UTC)
        assert self.fields is not None
        seconds, minutes, hours, days, months, weekdays = self.fields
        local = base.astimezone(zone).replace(microsecond=0)
        start_day = local.date()
        after = local.time()
        for offset in range(_SEARCH_DAYS):
            day = start_day + timedelta(days=offset)
            if day.day not in days or day.month not in months:
                continue
            if (day.isoweekday() % 7) not in weekdays:
                continue
            moment = _first_time(day, seconds, minutes, hours, after if offset == 0 else None)
            if moment is not None:
                return datetime.combine(day, moment, zone).astimezone(UTC)
        raise ScheduleError(f"the schedule '{self.expression}' never occurs")

    def occurrences(self, base: datetime, count: int, zone: tzinfo = UTC) -> Iterator[datetime]:
        """The next ``count`` occurrences after ``base``."""
        current = base
        for _ in range(count):
            current = self.next_after(current, zone)
            yield current


def _first_time(
    day: date,
    seconds: frozenset[int],
    minutes: frozenset[int],
    hours: frozenset[int],
    after: time | None,
) -> time | None:
    for hour in sorted(hours):
        if after is not None and hour < after.hour:
            continue
        for minute in sorted(minutes):
            if after is not None and (hour, minute) < (after.hour, after.minute):
                continue
            for second in sorted(seconds):
                candidate = time(hour, minute, second)
                if after is None or candidate > after:
                    return candidate
    return None


def parse_schedule(expression: str) -> Schedule:
    """Parse a timer trigger's ``schedule`` (after ``%SETTING%`` resolution)."""
    text = expression.strip()
    match = _TIMESPAN.match(text)
    if match:
        days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
        interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if interval <= timedelta(0):
            raise ScheduleError(f"the TimeSpan schedule '{expression}' must be positive")
        return Schedule(expression=text, interval=interval)
    parts = text.split()
    if len(parts) != 6:
        raise ScheduleError(
            f"'{expression}' is not a valid schedule: an NCRONTAB expression has six fields "
            "({second} {minute} {hour} {day} {month} {day-of-week}), or give a TimeSpan "
            "(hh:mm:ss)"
        )
    try:
        fields = tuple(_parse_field(part, index) for index, part in enumerate(parts))
    except ScheduleError as exc:
        raise ScheduleError(f"'{expression}' is not a valid schedule: {exc}") from None
    return Schedule(expression=text, fields=fields)


def time_zone(name: str | None) -> tzinfo:
    """The app's time zone from ``WEBSITE_TIME_ZONE`` (an IANA name); UTC when unset."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"WEBSITE_TIME_ZONE '{name}' is not a known time zone (use an IANA name such as "
            "'Europe/London')"
        ) from None
