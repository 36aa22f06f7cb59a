"""SLA clocks (escalation/core/sla.py) and business-hours arithmetic (escalation/core/hours.py),
table-driven: calendar and business hours, weekends, a clock change, a customer who writes several
messages before the agent answers, at risk at 80%."""

from datetime import datetime, timedelta, timezone

import pytest
from zoneinfo import ZoneInfo

from escalation.core.hours import add_business_seconds, business_seconds
from escalation.core.sla import (
    AT_RISK,
    BREACHED,
    FIRST_RESPONSE,
    MET,
    NEXT_RESPONSE,
    RESOLUTION,
    RUNNING,
    SlaTargets,
    Timeline,
    closest_to_breach,
    response_cycles,
    sla_clocks,
    targets_for,
)
from escalation.rules_file import SHIPPED_RULES_FILE, load_rules

RULES = load_rules(SHIPPED_RULES_FILE)  # Amsterdam; Mon-Fri 08:00-20:00, Sat 09:00-17:00, Sun closed
AMS = ZoneInfo("Europe/Amsterdam")


def at(text: str) -> datetime:
    """A local Amsterdam time, "2026-11-27 19:50" (a Friday), in UTC."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=AMS).astimezone(timezone.utc)


@pytest.mark.parametrize(
    "start, end, hours",
    [
        ("2026-11-24 10:00", "2026-11-24 12:30", 2.5),  # a Tuesday morning
        ("2026-11-24 19:00", "2026-11-25 09:00", 2.0),  # over the night: 19-20 and 08-09
        ("2026-11-27 19:00", "2026-11-30 09:00", 1 + 8 + 1),  # Friday evening to Monday: Saturday 09-17, no Sunday
        ("2026-11-29 10:00", "2026-11-29 16:00", 0.0),  # all of it on a Sunday
        ("2026-11-24 21:00", "2026-11-24 23:00", 0.0),  # after closing
        ("2026-03-28 16:00", "2026-03-30 09:00", 1 + 1),  # over the spring clock change: real hours
    ],
)
def test_business_seconds(start, end, hours):
    assert business_seconds(RULES, at(start), at(end)) == pytest.approx(hours * 3600)


@pytest.mark.parametrize(
    "start, seconds, due",
    [
        ("2026-11-24 10:00", 3600, "2026-11-24 11:00"),
        ("2026-11-24 19:30", 3600, "2026-11-25 08:30"),  # half an hour today, the rest tomorrow morning
        ("2026-11-28 16:30", 3600, "2026-11-30 08:30"),  # Saturday afternoon: Sunday is closed
        ("2026-11-29 12:00", 60, "2026-11-30 08:01"),  # queued on a Sunday: the clock starts on Monday
    ],
)
def test_add_business_seconds(start, seconds, due):
    assert add_business_seconds(RULES, at(start), seconds) == at(due)


TARGETS = SlaTargets(first_response_seconds=600, next_response_seconds=300, resolution_seconds=3600)


def states(clocks):
    return {c.name: c.state for c in clocks}


@pytest.mark.parametrize(
    "minutes_now, agent_at, expected",
    [
        (5, None, RUNNING),
        (8, None, AT_RISK),  # 80% of 10 minutes
        (11, None, BREACHED),
        (30, 9, MET),  # answered after 9 minutes: met, whenever asked
        (30, 12, BREACHED),
    ],
)
def test_first_response(minutes_now, agent_at, expected):
    queued = at("2026-11-24 10:00")
    agents = [] if agent_at is None else [queued + timedelta(minutes=agent_at)]
    clocks = sla_clocks(
        Timeline(queued, agent_messages=agents), TARGETS, queued + timedelta(minutes=minutes_now), RULES
    )
    assert states(clocks)[FIRST_RESPONSE] == expected


def test_several_customer_messages_before_an_answer_start_the_clock_at_the_first():
    queued = at("2026-11-24 10:00")
    agent = [queued + timedelta(minutes=1)]  # first response
    customer = [queued + timedelta(minutes=m) for m in (2, 4, 6)]  # three messages, no answer yet
    timeline = Timeline(queued, customer, agent)
    assert response_cycles(timeline) == [(customer[0], None)]
    clocks = {c.name: c for c in sla_clocks(timeline, TARGETS, queued + timedelta(minutes=6), RULES)}
    assert clocks[NEXT_RESPONSE].started_at == customer[0] and clocks[NEXT_RESPONSE].state == AT_RISK  # 4 of 5 min
    answered = Timeline(queued, customer, agent + [queued + timedelta(minutes=8)])
    clocks = {c.name: c for c in sla_clocks(answered, TARGETS, queued + timedelta(minutes=9), RULES)}
    assert clocks[NEXT_RESPONSE].state == BREACHED and clocks[NEXT_RESPONSE].breaches == 1  # 6 > 5 minutes


def test_the_running_next_response_cycle_is_shown_and_earlier_breaches_counted():
    queued = at("2026-11-24 10:00")
    agent = [queued + timedelta(minutes=m) for m in (1, 10, 12)]
    customer = [queued + timedelta(minutes=m) for m in (2, 11, 13)]  # 2->10 breached, 11->12 met, 13 running
    clocks = {
        c.name: c for c in sla_clocks(Timeline(queued, customer, agent), TARGETS, queued + timedelta(minutes=14), RULES)
    }
    assert clocks[NEXT_RESPONSE].started_at == customer[2] and clocks[NEXT_RESPONSE].state == RUNNING
    assert clocks[NEXT_RESPONSE].breaches == 1


def test_no_next_response_clock_before_the_first_answer_and_resolution_stops_everything():
    queued = at("2026-11-24 10:00")
    clocks = sla_clocks(
        Timeline(queued, [queued + timedelta(minutes=1)]), TARGETS, queued + timedelta(minutes=2), RULES
    )
    assert [c.name for c in clocks] == [FIRST_RESPONSE, RESOLUTION]
    done = Timeline(queued, [], [queued + timedelta(minutes=3)], resolved_at=queued + timedelta(minutes=50))
    clocks = {c.name: c for c in sla_clocks(done, TARGETS, queued + timedelta(days=3), RULES)}
    assert clocks[RESOLUTION].state == MET and clocks[RESOLUTION].elapsed_seconds == 50 * 60
    assert closest_to_breach(list(clocks.values())) == float("inf")  # nothing running


def test_business_hours_clocks_pause_overnight_and_at_the_weekend():
    targets = SlaTargets(first_response_seconds=2 * 3600, business_hours=True)
    queued = at("2026-11-27 19:30")  # Friday: 30 minutes left today
    monday = at("2026-11-30 08:00")
    (clock,) = sla_clocks(Timeline(queued), targets, monday, RULES)
    assert clock.elapsed_seconds == pytest.approx(30 * 60 + 8 * 3600)  # Friday's half hour and Saturday
    assert clock.state == BREACHED and clock.due_at == at("2026-11-28 10:30")
    (later,) = sla_clocks(
        Timeline(queued), SlaTargets(first_response_seconds=10 * 3600, business_hours=True), monday, RULES
    )
    assert later.state == AT_RISK  # 8.5 of 10 business hours
    (calendar,) = sla_clocks(
        Timeline(queued), SlaTargets(first_response_seconds=2 * 3600), queued + timedelta(hours=1), RULES
    )
    assert calendar.elapsed_seconds == 3600 and calendar.state == RUNNING  # the same wait in calendar time


def test_targets_come_from_the_segment_and_the_queue_sorts_by_the_least_time_left():
    vip, free = targets_for(RULES, "vip"), targets_for(RULES, "free")
    assert (vip.first_response_seconds, vip.next_response_seconds, vip.business_hours) == (120, 120, False)
    assert free.business_hours and targets_for(RULES, "no-such-tier") == targets_for(RULES, "anonymous")
    queued = at("2026-11-24 10:00")
    now = queued + timedelta(minutes=5)
    relaxed = sla_clocks(Timeline(queued), TARGETS, now, RULES)  # 5 of 10 minutes left on first response
    urgent = sla_clocks(Timeline(queued), SlaTargets(360), now, RULES)  # 1 minute left
    late = sla_clocks(Timeline(queued), SlaTargets(60), now, RULES)  # 4 minutes past
    ordered = sorted([("relaxed", relaxed), ("urgent", urgent), ("late", late)], key=lambda p: closest_to_breach(p[1]))
    assert [name for name, _ in ordered] == ["late", "urgent", "relaxed"]
