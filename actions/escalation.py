"""action_escalate: decide with the live queue, enqueue the handoff, tell the customer, pause."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import stores
from escalation.agents import AgentDirectory
from escalation.policy import HANDOVER, OFFER_OPTIONS, CustomerView, QueueState, Rules, Signals, decide, load_rules
from escalation.queue import HandoffQueue
from escalation.sentiment import turns_from_events
from supportbot.vocabulary import SEGMENT_SLOTS, Slot

logger = logging.getLogger(__name__)
# Until the queue measures real handle times, the wait estimate assumes 6 minutes per conversation.
AVERAGE_HANDLE_SECONDS = 360


@lru_cache(maxsize=1)
def _rules() -> Rules:
    return load_rules()


def _stores():
    return stores.handoff_queue(), stores.agent_directory()


def live_queue_state(queue: HandoffQueue, agents: AgentDirectory) -> QueueState:
    waiting, staffed = queue.waiting_counts(), agents.count_by_queue()
    waits = {name: int(waiting.get(name, 0) * AVERAGE_HANDLE_SECONDS / max(1, staffed.get(name, 0)))
             for name in set(waiting) | set(staffed)}
    return QueueState(waits, staffed)


class ActionEscalate(Action):
    def name(self) -> str:
        return "action_escalate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[str, Any]) -> List[EventType]:
        turns = turns_from_events(tracker.events)
        if not turns:
            return []
        now = datetime.now(timezone.utc)
        queue, agents = _stores()
        slots = {name: tracker.get_slot(name) for name in SEGMENT_SLOTS}
        decision = decide(CustomerView.from_slots(slots), Signals.from_turns(turns), live_queue_state(queue, agents),
                          now, _rules())
        summary = {"action": decision.action, "queue": decision.queue, "priority": decision.priority,
                   "sla_seconds": decision.sla_seconds, "channel": decision.channel,
                   "expected_wait_seconds": decision.expected_wait_seconds, "reasons": list(decision.reasons),
                   "decided_at": now.isoformat()}
        if decision.customer_message:
            dispatcher.utter_message(text=decision.customer_message)
        if decision.action in (HANDOVER, OFFER_OPTIONS):
            # A callback or ticket is queued too: a person follows up, the customer is never left hanging.
            handoff = queue.enqueue(tracker.sender_id, slots.get(Slot.CUSTOMER_ID), slots.get(Slot.TIER) or "anonymous",
                                    slots, decision.queue, decision.priority, decision.reasons,
                                    decision.sla_seconds, now, channel=decision.channel)
            summary["handoff_id"] = handoff.id
            logger.info("%s %s to %s by %s (priority %s): %s", "Handed" if decision.action == HANDOVER else "Queued",
                        tracker.sender_id, decision.queue, decision.channel, decision.priority,
                        "; ".join(decision.reasons))
        events: List[EventType] = [SlotSet(Slot.ESCALATION, summary)]
        if decision.action == HANDOVER:
            events.append(ConversationPaused())  # a person has it now: the bot stays silent
        elif not decision.customer_message:
            dispatcher.utter_message(text="What else can I help you with?")
        return events
