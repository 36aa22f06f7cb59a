"""SLA clocks of a handoff, like the helpdesks' (Chatwoot's SLA policies, Zendesk's SLA targets): pure.

Three clocks per segment (escalation/rules.yml):
- first response: from the moment the conversation was queued to the first agent message;
- next response: from a customer message the agent has not answered yet (the first of several, when the
  customer writes several before the agent answers) to the agent's next message; every such cycle is
  a clock of its own, and the handoff shows the running one, or else the last one;
- resolution: from queued to resolved.
Each counts in business hours when the segment's rules say so (escalation/core/hours.py), else in
calendar time. A clock is "at risk" from 80% of its target and "breached" past it; a stopped clock is
"met" or "breached".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Sequence, Tuple

from escalation.core.hours import add_business_seconds, business_seconds
from escalation.core.rules import Rules

FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION = "first_response", "next_response", "resolution"
CLOCKS = (FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION)
RUNNING, AT_RISK, MET, BREACHED = "running", "at_risk", "met", "breached"
AT_RISK_SHARE = 0.8


@dataclass(frozen=True)
class SlaTargets:
    first_response_seconds: float
    next_response_seconds: Optional[float] = None  # None: no such clock for the segment
    resolution_seconds: Optional[float] = None
    business_hours: bool = False


@dataclass(frozen=True)
class Timeline:
    """What happened in a handoff, as the clocks need it (times in UTC)."""

    queued_at: datetime
    customer_messages: Sequence[datetime] = ()
    agent_messages: Sequence[datetime] = ()
    resolved_at: Optional[datetime] = None


@dataclass(frozen=True)
class SlaClock:
    name: str
    target_seconds: float
    started_at: datetime
    due_at: Optional[datetime]  # None: business hours never come (no opening hours in the rules)
    stopped_at: Optional[datetime]
    elapsed_seconds: float
    state: str
    business_hours: bool
    breaches: int = 0  # next response: how many of its cycles were breached so far

    @property
    def remaining_seconds(self) -> float:
        return self.target_seconds - self.elapsed_seconds

    def as_json(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "target_seconds": round(self.target_seconds),
            "started_at": self.started_at.isoformat(),
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
            "elapsed_seconds": round(self.elapsed_seconds),
            "remaining_seconds": round(self.remaining_seconds),
            "state": self.state,
            "business_hours": self.business_hours,
            "breaches": self.breaches,
        }


def targets_for(rules: Rules, tier: str) -> SlaTargets:
    """The SLA targets of a tier's segment (anonymous for an unknown tier)."""
    segment = rules.segments.get(tier) or rules.segments["anonymous"]
    minutes = (segment.next_response_minutes, segment.resolution_minutes)
    return SlaTargets(
        segment.sla_minutes * 60,
        None if minutes[0] is None else minutes[0] * 60,
        None if minutes[1] is None else minutes[1] * 60,
        segment.sla_business_hours,
    )


def _state(elapsed: float, target: float, stopped: bool) -> str:
    if stopped:
        return MET if elapsed <= target else BREACHED
    if elapsed > target:
        return BREACHED
    return AT_RISK if elapsed >= AT_RISK_SHARE * target else RUNNING


def _clock(
    name: str, target: float, start: datetime, stop: Optional[datetime], now: datetime, business: bool, rules: Rules
) -> SlaClock:
    end = stop or now
    if business:
        elapsed, due = business_seconds(rules, start, end), add_business_seconds(rules, start, target)
    else:
        elapsed, due = max(0.0, (end - start).total_seconds()), start + timedelta(seconds=target)
    return SlaClock(name, target, start, due, stop, elapsed, _state(elapsed, target, stop is not None), business)


def response_cycles(timeline: Timeline) -> List[Tuple[datetime, Optional[datetime]]]:
    """(customer message that started it, agent message that answered it or None), after the first
    response: the first of several unanswered customer messages starts a cycle, the agent's next
    message ends it."""
    agent = sorted(timeline.agent_messages)
    if not agent:
        return []
    cycles: List[Tuple[datetime, Optional[datetime]]] = []
    started: Optional[datetime] = None
    events = sorted(
        [(t, "customer") for t in timeline.customer_messages if t > agent[0]] + [(t, "agent") for t in agent[1:]]
    )
    for at, who in events:
        if who == "customer" and started is None:
            started = at
        elif who == "agent" and started is not None:
            cycles.append((started, at))
            started = None
    if started is not None:
        cycles.append((started, None))
    return cycles


def sla_clocks(timeline: Timeline, targets: SlaTargets, now: datetime, rules: Rules) -> List[SlaClock]:
    """The handoff's clocks at `now` (a resolved handoff's open next-response cycle stops at resolution)."""
    business = targets.business_hours
    first_agent = min((t for t in timeline.agent_messages if t >= timeline.queued_at), default=None)
    stop_first = first_agent or timeline.resolved_at
    clocks = [
        _clock(FIRST_RESPONSE, targets.first_response_seconds, timeline.queued_at, stop_first, now, business, rules)
    ]
    if targets.next_response_seconds is not None:
        cycles = response_cycles(timeline)
        if cycles:
            done = [
                _clock(
                    NEXT_RESPONSE,
                    targets.next_response_seconds,
                    start,
                    stop or timeline.resolved_at,
                    now,
                    business,
                    rules,
                )
                for start, stop in cycles
            ]
            breaches = sum(1 for clock in done if clock.state == BREACHED)
            current = next((c for c in done if c.stopped_at is None), done[-1])
            clocks.append(
                SlaClock(
                    current.name,
                    current.target_seconds,
                    current.started_at,
                    current.due_at,
                    current.stopped_at,
                    current.elapsed_seconds,
                    current.state,
                    business,
                    breaches,
                )
            )
    if targets.resolution_seconds is not None:
        clocks.append(
            _clock(
                RESOLUTION, targets.resolution_seconds, timeline.queued_at, timeline.resolved_at, now, business, rules
            )
        )
    return clocks


def closest_to_breach(clocks: Sequence[SlaClock]) -> float:
    """The sort key of a handoff in the queue: the least time left on any clock still running
    (a breached one first: negative), or infinity when every clock has stopped."""
    running = [c.remaining_seconds for c in clocks if c.stopped_at is None]
    return min(running) if running else float("inf")
