"""What-if: the last N days' real conversations replayed through two sets of rules (the live ones and a
candidate) with the real policy (escalation.core.policy.decide), nothing saved. Pure.

Each conversation's decision inputs are in the fact table (analytics/facts.py): the customer as the
policy saw them (tier, journey stage, last CSAT, NPS, preferred channel) and each customer message the
bot handled (text, intent, sentiment, time), by session. Every message is decided again in time order,
as the Rasa policy and the escalate action do on each turn, with the messages of its session so far; the
first decision that escalates is the conversation's outcome (a person takes over there), else it stays.

The queue the policy sees, and the expected SLA attainment, come from today's staffing: every active
agent online during business hours with their capacity and queues, each chat taking the queue's measured
handle time (escalation.queue.routing.Router.handle_seconds). Chats are routed with the product's own
escalation.core.routing.plan_assignments and waits estimated with its queue_waits, so a candidate that
sends more customers to a queue sees that queue's line grow. The expected SLA attainment of a tier is the
share of its live-chat handoffs whose simulated wait for an agent is within their first-response SLA;
callbacks and tickets are counted as handoffs but not simulated (no agent is routed to them live).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from common.names import HandoffChannel
from escalation.core.hours import is_open, next_opening
from escalation.core.policy import HANDOVER, OFFER_OPTIONS, STAY, CustomerView, Decision, QueueState, Signals, decide
from escalation.core.routing import OFFLINE, ONLINE, AgentLoad, WaitingHandoff, plan_assignments, queue_waits
from escalation.core.rules import Rules
from escalation.core.sentiment import turns_from_events

MAX_CHANGED = 200
SIMULATION_HORIZON = timedelta(days=30)  # after the last conversation, the line is worked off this long at most


@dataclass(frozen=True)
class Staff:
    """An agent of today's roster."""

    name: str
    queues: Tuple[str, ...]
    capacity: int


@dataclass(frozen=True)
class Replayed:
    """One conversation's outcome under one set of rules."""

    action: str
    queue: Optional[str]
    priority: int
    sla_seconds: int
    channel: str

    @classmethod
    def of(cls, decision: Decision) -> "Replayed":
        return cls(decision.action, decision.queue, decision.priority, decision.sla_seconds, decision.channel)

    def as_json(self) -> Dict[str, Any]:
        if self.action not in (HANDOVER, OFFER_OPTIONS):  # the bot keeps it: no queue, priority or SLA applies
            return {"action": self.action, "queue": None, "priority": None, "sla_minutes": None}
        return {
            "action": self.action,
            "queue": self.queue,
            "priority": self.priority,
            "sla_minutes": round(self.sla_seconds / 60, 1),
        }


class StaffingSimulation:
    """Today's agents working the live-chat line over the replayed period."""

    def __init__(self, staff: Sequence[Staff], rules: Rules, handle_seconds: Mapping[str, float]) -> None:
        self.staff, self.rules, self.handle_seconds = list(staff), rules, handle_seconds
        self.open: Dict[str, List[Tuple[str, datetime]]] = {s.name: [] for s in self.staff}  # (queue, ends at)
        self.waiting: List[WaitingHandoff] = []
        self.waits: Dict[str, float] = {}  # handoff id -> seconds waited for an agent
        self.clock: Optional[datetime] = None
        self._last_assigned: Dict[str, datetime] = {}

    def _loads(self, at: datetime) -> List[AgentLoad]:
        presence = ONLINE if is_open(self.rules, at) else OFFLINE
        loads = []
        for person in self.staff:
            chats = self.open[person.name]
            by_queue = Counter(queue for queue, _ in chats)
            loads.append(
                AgentLoad(
                    person.name,
                    person.queues,
                    person.capacity,
                    len(chats),
                    presence,
                    self._last_assigned.get(person.name),
                    dict(by_queue),
                )
            )
        return loads

    def _assign(self, at: datetime) -> None:
        plan = plan_assignments(
            self.waiting, self._loads(at), at, self.rules.queues, reserved=self.rules.routing.reserved_slots
        )
        given = dict(plan)
        for handoff in [h for h in self.waiting if h.id in given]:
            name = given[handoff.id]
            self.open[name].append((handoff.queue, at + timedelta(seconds=self.handle_seconds[handoff.queue])))
            self._last_assigned[name] = at
            self.waits[handoff.id] = (at - handoff.created_at).total_seconds()
        self.waiting = [h for h in self.waiting if h.id not in given]

    def advance(self, to: datetime) -> None:
        """Chats end and waiting ones are given out, moment by moment, up to `to`."""
        if self.clock is None:
            self.clock = to
        while True:
            ends = [end for chats in self.open.values() for _, end in chats if self.clock < end <= to]
            opening = None if is_open(self.rules, self.clock) else next_opening(self.rules, self.clock)
            moments = ends + ([opening] if opening is not None and opening <= to else [])
            if not moments:
                break
            self.clock = min(moments)
            self._finish_chats(self.clock)
            self._assign(self.clock)
        self.clock = max(self.clock, to)
        self._finish_chats(self.clock)
        self._assign(self.clock)

    def _finish_chats(self, at: datetime) -> None:
        for name, chats in self.open.items():
            self.open[name] = [(q, end) for q, end in chats if end > at]

    def queue_state(self, at: datetime) -> QueueState:
        self.advance(at)
        waiting = Counter(h.queue for h in self.waiting)
        waits, available, online = queue_waits(
            self.rules.queues, self._loads(at), waiting, self.handle_seconds, self.rules.routing.reserved_slots
        )
        return QueueState(waits, available, online)

    def arrive(self, handoff_id: str, queue: str, priority: int, sla_seconds: int, at: datetime) -> None:
        self.waiting.append(WaitingHandoff(handoff_id, queue, priority, at + timedelta(seconds=sla_seconds), at))
        self._assign(at)


@dataclass
class _Side:
    rules: Rules
    simulation: StaffingSimulation
    outcomes: Dict[str, Replayed] = field(default_factory=dict)


def _turn_moments(
    conversations: Sequence[Tuple[str, datetime, Dict[str, Any]]],
) -> List[Tuple[datetime, str, int, int]]:
    """(time, conversation, session, message index) of every customer message, oldest first."""
    moments = []
    for conversation_id, started_at, inputs in conversations:
        for s, segment in enumerate(inputs.get("segments") or []):
            for m, event in enumerate(segment):
                at = datetime.fromtimestamp(event["timestamp"], timezone.utc) if event.get("timestamp") else started_at
                moments.append((at, conversation_id, s, m))
    return sorted(moments)


def _customer(inputs: Dict[str, Any]) -> CustomerView:
    c = inputs.get("customer") or {}
    return CustomerView(
        c.get("tier") or "anonymous",
        c.get("journey_stage") or "unknown",
        c.get("last_csat"),
        c.get("nps"),
        c.get("preferred_channel") or "chat",
    )


def _side_json(side: _Side, tiers: Mapping[str, str]) -> Dict[str, Any]:
    escalated = {c: r for c, r in side.outcomes.items() if r.action in (HANDOVER, OFFER_OPTIONS)}
    chats = defaultdict(list)
    for conversation_id, outcome in escalated.items():
        if outcome.channel == HandoffChannel.LIVE_CHAT:
            wait = side.simulation.waits.get(conversation_id)
            chats[tiers[conversation_id]].append(wait is not None and wait <= outcome.sla_seconds)
    return {
        "handoffs": len(escalated),
        "by_queue": dict(sorted(Counter(r.queue for r in escalated.values()).items())),
        "by_tier": dict(sorted(Counter(tiers[c] for c in escalated).items())),
        "sla_attainment_expected": {tier: round(sum(met) / len(met), 4) for tier, met in sorted(chats.items())},
        "offers": sum(1 for r in escalated.values() if r.action == OFFER_OPTIONS),
        "stays": len(side.outcomes) - len(escalated),
    }


def replay(
    conversations: Sequence[Tuple[str, datetime, Dict[str, Any]]],
    current: Rules,
    candidate: Rules,
    staff: Sequence[Staff],
    handle_seconds: Mapping[str, float],
) -> Dict[str, Any]:
    """Both sides' totals and the conversations whose outcome differs (at most MAX_CHANGED of them)."""
    sides = []
    for rules in (current, candidate):
        # A queue only the candidate has is not measured yet: the rules' default handle time, as routing does.
        seconds = {q: handle_seconds.get(q, rules.routing.default_handle_seconds) for q in rules.queues}
        sides.append(_Side(rules, StaffingSimulation(staff, rules, seconds)))
    inputs = {c: i for c, _, i in conversations}
    customers = {c: _customer(i) for c, i in inputs.items()}
    last_decision: Dict[Tuple[int, str], Decision] = {}
    for at, conversation_id, s, m in _turn_moments(conversations):
        events = inputs[conversation_id]["segments"][s][: m + 1]
        signals = Signals.from_turns(turns_from_events(events))
        for index, side in enumerate(sides):
            if conversation_id in side.outcomes:
                continue  # a person took over: the bot decides no more
            decision = decide(customers[conversation_id], signals, side.simulation.queue_state(at), at, side.rules)
            last_decision[(index, conversation_id)] = decision
            if decision.escalates:
                side.outcomes[conversation_id] = Replayed.of(decision)
                if decision.channel == HandoffChannel.LIVE_CHAT and decision.queue in side.rules.queues:
                    side.simulation.arrive(conversation_id, decision.queue, decision.priority, decision.sla_seconds, at)
    end = max((started for _, started, _ in conversations), default=datetime.now(timezone.utc))
    tiers = {c: customers[c].tier for c in inputs}
    for index, side in enumerate(sides):
        side.simulation.advance(end + SIMULATION_HORIZON)
        for conversation_id in inputs:
            if conversation_id not in side.outcomes:
                last = last_decision.get((index, conversation_id))
                side.outcomes[conversation_id] = (
                    Replayed.of(last) if last is not None else Replayed(STAY, None, 0, 0, HandoffChannel.LIVE_CHAT)
                )
    changed = [
        {
            "conversation_id": c,
            "tier": customers[c].tier,
            "journey_stage": customers[c].journey_stage,
            "current": sides[0].outcomes[c].as_json(),
            "candidate": sides[1].outcomes[c].as_json(),
        }
        for c in inputs
        if sides[0].outcomes[c].as_json() != sides[1].outcomes[c].as_json()
    ]
    return {
        "conversations": len(inputs),
        "current": _side_json(sides[0], tiers),
        "candidate": _side_json(sides[1], tiers),
        "changed": list(itertools.islice(changed, MAX_CHANGED)),
        "changed_count": len(changed),
    }
