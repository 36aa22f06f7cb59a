"""action_escalate: decide with the live queue, enqueue the handoff, route it, tell the customer, pause.

A live chat is routed at once (escalation/queue/routing.py): when an eligible agent has room, it is
theirs before the customer reads the answer, which says who joined; otherwise the customer hears
their place in line and the expected wait, and the service's timer keeps them informed."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import stores
from common.names import ACTION_ESCALATE, SEGMENT_SLOTS, HandoffChannel, Slot, Tier
from escalation.core.policy import HANDOVER, CustomerView, Signals, decide
from escalation.core.routing import position_message
from escalation.core.sentiment import turns_from_events
from escalation.queue.handoffs import Handoff
from escalation.queue.routing import Router

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
        router = stores.router()
        decision = decide(
            CustomerView.from_slots(slots), Signals.from_turns(turns), router.queue_state(now), now, stores.rules()
        )
        summary = {**decision.as_json(), "decided_at": now.isoformat()}
        routed_now = decision.action == HANDOVER and decision.channel == HandoffChannel.LIVE_CHAT
        if decision.customer_message and not routed_now:
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
            if routed_now:
                dispatcher.utter_message(text=self._routed(router, handoff, decision.queue, now))
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

    @staticmethod
    def _routed(router: Router, handoff: Handoff, queue: str, now: datetime) -> str:
        """Routes the new chat; what the customer is told: who joined, or their place in line."""
        for assigned, agent in router.assign_waiting(now, only=handoff.id):
            if assigned.id == handoff.id:
                name = router.agents.account(agent.name).display_name.split()[0]
                return f"{name} from our {queue} team has joined and will answer you here."
        for waiting, position, wait in router.positions(now):
            if waiting.id == handoff.id:
                router.queue.told(handoff.id, position_told=position, position_told_at=now)
                line = position_message(position, wait)
                return f"I'm passing you to our {queue} team. {line} You can keep this chat open."
        return f"I'm passing you to our {queue} team; someone will be with you shortly."
