"""One conversation's facts from what the product stored about it: Rasa's events of the conversation (from
the tracker store in `make demo`, or from the event broker in the scaled configuration: the same JSON
events either way) and its handoffs in the queue. Pure: no I/O; analytics/refresh.py feeds it.

The SLA clocks are the console's (escalation/web/workspace.py's timeline and targets, escalation/core/sla.py),
business hours escalation/core/hours.py's.

Seeded demo history (analytics/seed.py) is played through the real bot now, but stands for a week of
history: Rasa stamps its events with the real time and cannot be back-dated, so each seeded conversation
has a `TimeMap` that puts its real times (events and queue times alike) on the simulated ones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Sequence, Tuple

from analytics.metrics import Fact, channel_of, satisfaction_of
from common.conversation_log import Message
from common.names import FALLBACK_INTENTS, FRESH_START_EVENTS, JourneyStage, Slot, Tier
from escalation.core.hours import business_seconds
from escalation.core.rules import Rules
from escalation.core.sla import BREACHED, FIRST_RESPONSE, MET, NEXT_RESPONSE, RESOLUTION, sla_clocks
from escalation.queue.handoffs import Handoff
from escalation.web.workspace import handoff_targets, timeline

HANDOFF_TIMES = ("created_at", "claimed_at", "resolved_at", "csat_at", "abandoned_at")


@dataclass(frozen=True)
class TimeMap:
    """simulated = simulated_start + (real - real_start) x scale, for a seeded conversation."""

    real_start: datetime
    simulated_start: datetime
    scale: float = 1.0

    def at(self, real: datetime) -> datetime:
        return self.simulated_start + (real - self.real_start) * self.scale

    def timestamp(self, real: float) -> float:
        return self.at(datetime.fromtimestamp(real, timezone.utc)).timestamp()


@dataclass(frozen=True)
class Misunderstood:
    """A customer message the bot did not understand."""

    text: str
    intent: str
    confidence: Optional[float]
    at: datetime


@dataclass(frozen=True)
class ConversationFacts:
    fact: Fact
    misunderstood: Tuple[Misunderstood, ...]
    decision_inputs: Dict[str, Any]  # what the what-if replays (analytics/whatif.py)


class _ServicesRules:
    """What escalation.web.workspace.handoff_targets reads of the service: the rules."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules


def _utc(timestamp: Any) -> Optional[datetime]:
    return datetime.fromtimestamp(float(timestamp), timezone.utc) if timestamp else None


def messages_of(events: Sequence[Dict[str, Any]]) -> List[Message]:
    """Customer, bot and agent messages, as common.conversation_log reads them from the tracker store."""
    found = []
    for index, event in enumerate(events):
        kind, text = event.get("event"), event.get("text")
        if kind not in ("user", "bot") or not text:
            continue
        metadata = event.get("metadata") or {}
        agent = metadata.get("agent") if kind == "bot" else None
        sender = "customer" if kind == "user" else ("agent" if agent else "bot")
        found.append(
            Message(index, sender, text, event.get("timestamp"), agent, automatic=bool(metadata.get("automatic")))
        )
    return found


def _intent(event: Dict[str, Any]) -> Tuple[Optional[str], Optional[float]]:
    parse = event.get("parse_data") or {}
    intent = parse.get("intent") or {}
    return intent.get("name"), intent.get("confidence")


def _decision_event(event: Dict[str, Any]) -> Dict[str, Any]:
    """A customer message reduced to what escalation.core.sentiment.turns_from_events reads."""
    parse = event.get("parse_data") or {}
    kept = {k: parse[k] for k in ("intent", "response_selector", "sentiment") if k in parse}
    if "sentiment" in kept:
        kept["sentiment"] = {"compound": (kept["sentiment"] or {}).get("compound")}
    if "response_selector" in kept:  # only the selected topic of the intent
        name = (kept.get("intent") or {}).get("name") or ""
        selected = ((kept["response_selector"] or {}).get(name) or {}).get("response") or {}
        kept["response_selector"] = {name: {"response": {"intent_response_key": selected.get("intent_response_key")}}}
    kept["intent"] = {"name": (kept.get("intent") or {}).get("name")}
    return {"event": "user", "text": event.get("text"), "timestamp": event.get("timestamp"), "parse_data": kept}


def _slots_before(events: Sequence[Dict[str, Any]], stop_at: Optional[float]) -> Dict[str, Any]:
    slots: Dict[str, Any] = {}
    for event in events:
        if stop_at is not None and (event.get("timestamp") or 0) > stop_at:
            break
        if event.get("event") == "slot":
            slots[event.get("name")] = event.get("value")
    return slots


def _mapped(events: Sequence[Dict[str, Any]], handoff: Optional[Handoff], time_map: Optional[TimeMap]):
    if time_map is None:
        return list(events), handoff
    events = [{**e, "timestamp": time_map.timestamp(e["timestamp"])} if e.get("timestamp") else e for e in events]
    if handoff is not None:
        moved = {n: time_map.at(getattr(handoff, n)) for n in HANDOFF_TIMES if getattr(handoff, n) is not None}
        # The due time is a target, not something that happened: it keeps its distance from the queueing.
        moved["sla_due_at"] = moved["created_at"] + (handoff.sla_due_at - handoff.created_at)
        handoff = replace(handoff, **moved)
    return events, handoff


def _clock_outcomes(
    handoff: Handoff, messages: List[Message], rules: Rules, now: datetime
) -> Dict[str, Optional[bool]]:
    """Per clock: True met, False breached, None no such clock or still running. An abandoned handoff's
    clocks stop when the customer left: breached if they had run out by then, else undecided."""
    until = handoff.abandoned_at or now
    clocks = sla_clocks(timeline(handoff, messages), handoff_targets(_ServicesRules(rules), handoff), until, rules)
    outcomes: Dict[str, Optional[bool]] = {FIRST_RESPONSE: None, NEXT_RESPONSE: None, RESOLUTION: None}
    for clock in clocks:
        if clock.breaches or clock.state == BREACHED:
            outcomes[clock.name] = False
        elif clock.stopped_at is not None and clock.state == MET and not handoff.abandoned_at:
            outcomes[clock.name] = True
    return outcomes


def conversation_facts(
    conversation_id: str,
    events: Sequence[Dict[str, Any]],
    handoffs: Sequence[Handoff],
    rules: Rules,
    now: datetime,
    time_map: Optional[TimeMap] = None,
    seeded: bool = False,
) -> Optional[ConversationFacts]:
    """The facts of one conversation (its events oldest first; its handoffs, oldest first: the first is
    the conversation's handoff), or None when the customer never wrote."""
    first = handoffs[0] if handoffs else None
    events, handoff = _mapped(events, first, time_map)
    if time_map is not None:
        now = time_map.at(now)
    customer_events = [e for e in events if e.get("event") == "user" and e.get("text")]
    if not customer_events:
        return None
    started_at = _utc(customer_events[0].get("timestamp")) or now
    messages = messages_of(events)
    last_at = max((m.timestamp for m in messages if m.timestamp), default=None)

    # What the bot understood: customer messages while the bot had the conversation (not to an agent).
    paused, nlu_messages, misunderstood = False, 0, []
    segments: List[List[Dict[str, Any]]] = [[]]
    for event in events:
        kind = event.get("event")
        if kind == "pause":
            paused = True
        elif kind == "resume":
            paused = False
        if kind in FRESH_START_EVENTS and segments[-1]:
            segments.append([])
        if kind != "user" or not event.get("text") or paused:
            continue
        intent, confidence = _intent(event)
        if intent is None:
            continue
        nlu_messages += 1
        segments[-1].append(_decision_event(event))
        if intent in FALLBACK_INTENTS:
            misunderstood.append(
                Misunderstood(event["text"], intent, confidence, _utc(event.get("timestamp")) or started_at)
            )

    # Who the customer was: the slots at the handoff (its snapshot), else as the conversation left them.
    slots = handoff.segment if handoff is not None else _slots_before(events, None)
    tier = str(slots.get(Slot.TIER) or Tier.ANONYMOUS.value)
    stage = str(slots.get(Slot.JOURNEY_STAGE) or JourneyStage.UNKNOWN.value)
    nps, last_csat = slots.get(Slot.NPS), slots.get(Slot.LAST_CSAT)
    local = started_at.astimezone(rules.timezone)
    fact = Fact(
        conversation_id=conversation_id,
        started_at=started_at,
        day=local.date().isoformat(),
        hour=local.hour,
        tier=tier,
        journey_stage=stage,
        satisfaction=satisfaction_of(nps, last_csat, rules.detractor_nps_at_most, rules.low_csat_at_most),
        channel=channel_of(handoff.channel if handoff else None),
        bot_took_part=any(m.sender == "bot" for m in messages),
        last_message_at=_utc(last_at),
        customer_id=slots.get(Slot.CUSTOMER_ID),
        nlu_messages=nlu_messages,
        nlu_fallbacks=len(misunderstood),
        seeded=seeded,
    )
    if handoff is not None:
        fact = replace(fact, **_handoff_facts(handoff, messages, rules, now))
    inputs = {
        "customer": {
            "tier": tier,
            "journey_stage": stage,
            "last_csat": last_csat,
            "nps": nps,
            "preferred_channel": slots.get(Slot.PREFERRED_CHANNEL) or "chat",
        },
        "segments": [s for s in segments if s],
    }
    return ConversationFacts(fact, tuple(misunderstood), inputs)


def _handoff_facts(handoff: Handoff, messages: List[Message], rules: Rules, now: datetime) -> Dict[str, Any]:
    queued = handoff.created_at
    ended = handoff.resolved_at or handoff.abandoned_at
    if ended is not None:  # its part only, as the console's history shows it: a rating afterwards is no cycle
        messages = [m for m in messages if not m.timestamp or m.timestamp <= ended.timestamp() + 1]
    answered = timeline(handoff, messages).agent_messages
    first_answer = min(answered) if answered else None
    resolved = handoff.resolved_at
    outcomes = _clock_outcomes(handoff, messages, rules, now)

    def seconds(end: Optional[datetime]) -> Tuple[Optional[float], Optional[float]]:
        if end is None:
            return None, None
        return max(0.0, (end - queued).total_seconds()), business_seconds(rules, queued, end)

    first_response, first_response_business = seconds(first_answer)
    resolution, resolution_business = seconds(resolved)
    return {
        "queue": handoff.queue,
        "handoff_id": handoff.id,
        "handoff_reasons": tuple(dict.fromkeys(handoff.reason_codes)),
        "abandoned": handoff.abandoned_at is not None,
        "resolved": resolved is not None,
        "first_response_s": first_response,
        "first_response_business_s": first_response_business,
        "resolution_s": resolution,
        "resolution_business_s": resolution_business,
        "sla_first_response": outcomes[FIRST_RESPONSE],
        "sla_next_response": outcomes[NEXT_RESPONSE],
        "sla_resolution": outcomes[RESOLUTION],
        "csat": handoff.csat,
    }


def transcript(events: Sequence[Dict[str, Any]], time_map: Optional[TimeMap] = None) -> List[Dict[str, Any]]:
    """The conversation as the drill-down shows it: who said what, when (simulated time when seeded)."""
    mapped, _ = _mapped(events, None, time_map)
    return [
        {"at": _utc(m.timestamp).isoformat() if m.timestamp else None, "who": m.sender, "text": m.text}
        for m in messages_of(mapped)
    ]


def day_bounds(first_day, last_day, rules: Rules) -> Tuple[datetime, datetime]:
    """[start, end) in UTC of the local days first_day..last_day inclusive."""
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=rules.timezone)
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=rules.timezone)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)
