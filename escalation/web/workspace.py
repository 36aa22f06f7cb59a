"""The agent's workspace around a handoff (the console's routes are in agents_api.py): its SLA
clocks, canned responses with the customer's first name filled in, private notes (agents only:
nothing here is ever sent to Rasa, so the customer's widget never shows them), the customer's earlier
handoffs and conversations, and the upkeep that records each clock turning at risk or breached once,
for analytics.

The clocks are computed from the conversation as stored (escalation/core/sla.py): queued at the
handoff's creation, the agents' and the customer's messages after it, the resolution.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Dict, List, Optional, Sequence

from common.conversation_log import Message
from escalation.core.sla import AT_RISK, BREACHED, SlaClock, SlaTargets, Timeline, sla_clocks, targets_for
from escalation.queue.agents import Agent
from escalation.queue.handoffs import Handoff
from escalation.web.app import ApiError, Services, plain

MAX_NOTE_CHARS = 2000
HISTORY_HANDOFFS = 5  # the customer's earlier handoffs shown, newest first
HISTORY_MESSAGES = 30  # of each, the last messages


def _at(message: Message) -> Optional[datetime]:
    return datetime.fromtimestamp(message.timestamp, timezone.utc) if message.timestamp else None


def timeline(handoff: Handoff, messages: Sequence[Message]) -> Timeline:
    after = [(m, _at(m)) for m in messages]
    since = [(m, at) for m, at in after if at is not None and at >= handoff.created_at]
    return Timeline(
        handoff.created_at,
        [at for m, at in since if m.sender == "customer"],
        # The greeting sent for the agent on assignment is not their response.
        [at for m, at in since if m.sender == "agent" and not m.automatic],
        handoff.resolved_at,
    )


def handoff_messages(services: Services, handoff: Handoff) -> List[Message]:
    """This handoff's part of the conversation (a conversation id lives on across handoffs)."""
    return services.log.messages(handoff.conversation_id, since=handoff.created_at)


def handoff_targets(services: Services, handoff: Handoff) -> SlaTargets:
    """The segment's targets; when the policy moved the first-response due time (queued while closed:
    the SLA runs from the opening), the calendar clocks get the same extra time, so the badge, the
    queue order and the routing agree; when it promised sooner (a dissatisfied customer), the first
    response is held to that promise."""
    targets = targets_for(services.rules, handoff.tier)
    decided = (handoff.sla_due_at - handoff.created_at).total_seconds()
    if decided < targets.first_response_seconds:
        # The policy promised sooner than the tier (a dissatisfied customer's SLA): that promise is the target.
        return replace(targets, first_response_seconds=decided)
    if targets.business_hours:
        return targets  # business-hours clocks pause while closed by themselves
    extra = decided - targets.first_response_seconds
    if extra <= 0:
        return targets
    resolution = targets.resolution_seconds
    return replace(
        targets,
        first_response_seconds=targets.first_response_seconds + extra,
        resolution_seconds=None if resolution is None else resolution + extra,
    )


def clocks_of(services: Services, handoff: Handoff, messages: Optional[Sequence[Message]] = None) -> List[SlaClock]:
    if messages is None:
        messages = handoff_messages(services, handoff)
    return sla_clocks(timeline(handoff, messages), handoff_targets(services, handoff), services.clock(), services.rules)


def first_name(services: Services, handoff: Handoff) -> str:
    customer = services.customers.get(handoff.customer_id) if handoff.customer_id else None
    name = (getattr(customer, "name", "") or "").split()
    return name[0] if name else "there"


def canned_responses(services: Services, handoff: Handoff) -> List[Dict[str, str]]:
    name = first_name(services, handoff)
    return [
        {"title": canned.title, "text": canned.text.format(first_name=name)}
        for canned in services.rules.workspace.canned_for(handoff.queue)
    ]


def history(services: Services, handoff: Handoff, agent: Agent) -> List[dict]:
    """The customer's earlier handoffs that this agent may see (in the queues they serve, or their own),
    newest first, each with its wrap-up, rating, notes and the end of its conversation (for the next
    agent: what was asked and promised last time)."""
    if not handoff.customer_id:
        return []
    earlier = [
        h
        for h in services.queue.of_customer(handoff.customer_id)
        if h.id != handoff.id and (agent.serves(h.queue) or h.agent_id == agent.name)
    ][:HISTORY_HANDOFFS]
    notes = services.queue.notes([h.id for h in earlier])
    found = []
    for past in earlier:
        messages = handoff_messages(services, past)
        if past.resolved_at:  # its part only: up to its resolution
            messages = [m for m in messages if not m.timestamp or m.timestamp <= past.resolved_at.timestamp() + 1]
        messages = messages[-HISTORY_MESSAGES:]
        found.append(
            {
                **plain(
                    past,
                    (
                        "id",
                        "conversation_id",
                        "queue",
                        "status",
                        "agent_id",
                        "created_at",
                        "resolved_at",
                        "resolution_code",
                        "summary",
                        "csat",
                        "reasons",
                    ),
                ),
                "notes": [plain(n) for n in notes if n.handoff_id == past.id],
                "transcript": [m.as_json() for m in messages],
            }
        )
    return found


def add_note(services: Services, handoff: Handoff, agent: Agent, body: Optional[dict]) -> dict:
    text = body.get("text") if body else None
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE_CHARS:
        raise ApiError(400, f'Send {{"text": "..."}} with 1 to {MAX_NOTE_CHARS} characters.')
    return plain(services.queue.add_note(handoff.id, agent.name, text.strip(), services.clock()))


def record_sla_events(services: Services) -> int:
    """Upkeep: each open handoff's clocks turning at risk or breached, recorded once per clock and state
    (what is recorded already is read in one query, so a clock that stays breached costs nothing)."""
    recorded = 0
    now = services.clock()
    open_handoffs = services.queue.open_handoffs()
    known = services.queue.sla_event_keys([h.id for h in open_handoffs])
    for handoff in open_handoffs:
        for clock in clocks_of(services, handoff):
            states = {AT_RISK: (AT_RISK,), BREACHED: (AT_RISK, BREACHED)}.get(clock.state, ())
            for state in states:  # a clock found breached was at risk on the way
                if (handoff.id, clock.name, state) not in known:
                    recorded += services.queue.record_sla_event(handoff, clock.name, state, now)
    return recorded


def record_final_clocks(services: Services, handoff: Handoff) -> None:
    """At resolution: how each clock ended (met or breached), once."""
    for clock in clocks_of(services, handoff):
        if clock.stopped_at is not None:
            services.queue.record_sla_event(handoff, clock.name, clock.state, clock.stopped_at)
