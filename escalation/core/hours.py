"""Business hours: whether agents work now, and when they are next back. Pure functions of the rules
and the clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from escalation.core.rules import DAYS, Rules


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
