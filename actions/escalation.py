"""action_escalate: decide with the live queue, enqueue the handoff, tell the customer, pause."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import stores
from common.names import ACTION_ESCALATE, SEGMENT_SLOTS, Slot, Tier
from escalation.core.policy import HANDOVER, CustomerView, Signals, decide
from escalation.core.sentiment import turns_from_events
from escalation.queue.state import live_queue_state

logger = logging.getLogger(__name__)


class ActionEscalate(Action):
    def name(self) -> str:
        return ACTION_ESCALATE

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        turns = turns_from_events(tracker.events)
        if not turns:
            return []
        now = datetime.now(timezone.utc)
        queue = stores.handoff_queue()
        slots = {name: tracker.get_slot(name) for name in SEGMENT_SLOTS}
        decision = decide(
            CustomerView.from_slots(slots),
            Signals.from_turns(turns),
            live_queue_state(queue, stores.agent_directory()),
            now,
            stores.rules(),
        )
        summary = {**decision.as_json(), "decided_at": now.isoformat()}
        if decision.customer_message:
            dispatcher.utter_message(text=decision.customer_message)
        if decision.escalates:
            # A callback or ticket is queued too: a person follows up, the customer is never left hanging.
            handoff = queue.enqueue(
                tracker.sender_id,
                slots.get(Slot.CUSTOMER_ID),
                slots.get(Slot.TIER) or Tier.ANONYMOUS.value,
                slots,
                decision.queue,
                decision.priority,
                summary["reasons"],
                decision.sla_seconds,
                now,
                channel=decision.channel,
            )
            summary["handoff_id"] = handoff.id
            logger.info(
                "%s %s to %s by %s (priority %s): %s",
                "Handed" if decision.action == HANDOVER else "Queued",
                tracker.sender_id,
                decision.queue,
                decision.channel,
                decision.priority,
                "; ".join(reason.text for reason in decision.reasons),
            )
        events: List[EventType] = [SlotSet(Slot.ESCALATION, summary)]
        if decision.action == HANDOVER:
            events.append(ConversationPaused())  # a person has it now: the bot stays silent
        elif not decision.customer_message:
            dispatcher.utter_message(text="What else can I help you with?")
        return events
