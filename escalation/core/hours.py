"""Business hours: whether agents work now, and when they are next back. Pure functions of the rules
and the clock."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator, Optional, Tuple

from escalation.core.rules import DAYS, Rules

MAX_BUSINESS_DAYS_AHEAD = 400  # an SLA due time is looked for this far ahead at most


def is_open(rules: Rules, now: datetime) -> bool:
    local = now.astimezone(rules.timezone)
    span = rules.hours[DAYS[local.weekday()]]
    return span is not None and span[0] <= local.time() < span[1]


def next_opening(rules: Rules, now: datetime) -> Optional[datetime]:
    local = now.astimezone(rules.timezone)
    for offset in range(0, 8):
        day = local.date() + timedelta(days=offset)
        span = rules.hours[DAYS[day.weekday()]]
        if span is None:
            continue
        opening = datetime.combine(day, span[0], tzinfo=rules.timezone)
        if opening > local:
            return opening
    return None


def _open_spans(rules: Rules, first_day: date, days: int) -> Iterator[Tuple[datetime, datetime]]:
    """The opening hours of `days` days from `first_day` (local dates), as UTC datetimes."""
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        span = rules.hours[DAYS[day.weekday()]]
        if span is None:
            continue
        opens = datetime.combine(day, span[0], tzinfo=rules.timezone)
        closes = (
            datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=rules.timezone)
            if span[1] == time.max
            else datetime.combine(day, span[1], tzinfo=rules.timezone)
        )
        # In UTC, so that a day with a clock change has its real length.
        yield opens.astimezone(timezone.utc), closes.astimezone(timezone.utc)


def business_seconds(rules: Rules, start: datetime, end: datetime) -> float:
    """Seconds between `start` and `end` that fall in business hours (an SLA counted in business hours)."""
    if end <= start:
        return 0.0
    first = start.astimezone(rules.timezone).date() - timedelta(days=1)
    days = (end.astimezone(rules.timezone).date() - first).days + 2
    total = 0.0
    for opens, closes in _open_spans(rules, first, days):
        overlap = (min(end, closes) - max(start, opens)).total_seconds()
        total += max(0.0, overlap)
    return total


def add_business_seconds(rules: Rules, start: datetime, seconds: float) -> Optional[datetime]:
    """The moment `seconds` of business hours after `start` have passed (None: never open)."""
    remaining = seconds
    first = start.astimezone(rules.timezone).date() - timedelta(days=1)
    for opens, closes in _open_spans(rules, first, MAX_BUSINESS_DAYS_AHEAD):
        if closes <= start:
            continue
        available = (closes - max(start, opens)).total_seconds()
        if remaining <= available:
            return max(start, opens) + timedelta(seconds=remaining)
        remaining -= available
    return None
