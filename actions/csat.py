"""action_record_csat: the customer's 1-5 rating after an agent's handoff.

The rating is stored with the handoff and becomes the customer's `last_csat` in the CRM, so the next
escalation decision (in this conversation, through the slot, and in later ones, through the
profile) treats a dissatisfied customer accordingly.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import stores
from common.names import CSAT_SCALE, CSAT_SCORE_ENTITY, Slot
from escalation.queue.handoffs import ClaimConflict, NotFound

logger = logging.getLogger(__name__)
WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_NUMBER = re.compile(r"\b([1-5]|one|two|three|four|five)\b", re.IGNORECASE)
_OUT_OF_FIVE = re.compile(r"(/\s*5|\bout of (5|five))\b", re.IGNORECASE)  # the scale, not a rating
THANKS = {
    "low": "Thank you for telling us, and I'm sorry we didn't do better. Your rating goes to the team lead, "
    'and if something is still not sorted, say "talk to a person" and we\'ll pick it up straight away.',
    "ok": "Thank you for your rating! Is there anything else I can help you with?",
}


def rating_from(text: Optional[str], entities: Iterable[Dict[str, Any]]) -> Optional[int]:
    """The 1-5 rating in a message: the button's entity, or the one number the customer typed."""
    for entity in entities:
        if entity.get("entity") == CSAT_SCORE_ENTITY:
            try:
                value = int(entity.get("value"))
            except (TypeError, ValueError):
                return None
            return value if value in CSAT_SCALE else None
    found = {WORDS.get(m.lower(), None) or int(m) for m in _NUMBER.findall(_OUT_OF_FIVE.sub(" ", text or ""))}
    return found.pop() if len(found) == 1 else None  # "4 or 5" is not a rating


def record_rating(handoff_id: str, score: int, now: datetime):
    """The rating goes to the handoff and becomes the customer's last CSAT, in one transaction."""
    with stores.database().unit_of_work():
        handoff = stores.handoff_queue().record_csat(handoff_id, score, now)
        if handoff.customer_id:
            stores.customers().record_csat(handoff.customer_id, score)
    return handoff


class ActionRecordCsat(Action):
    def name(self) -> str:
        return "action_record_csat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        message = tracker.latest_message or {}
        score = rating_from(message.get("text"), message.get("entities") or [])
        handoff_id = tracker.get_slot(Slot.CSAT_HANDOFF_ID)
        if score is None:
            dispatcher.utter_message(
                text="Sorry, I didn't catch a rating. Please choose a number from 1 (poor) to 5 (excellent)."
            )
            return []
        if not handoff_id:
            # Nobody asked for a rating; thank them without storing a score for nothing.
            dispatcher.utter_message(text=THANKS["ok"])
            return []
        try:
            handoff = record_rating(handoff_id, score, datetime.now(timezone.utc))
        except (NotFound, ClaimConflict) as problem:
            logger.warning("CSAT %s for handoff %s not stored: %s", score, handoff_id, problem)
            dispatcher.utter_message(text=THANKS["ok"])
            return [SlotSet(Slot.CSAT_HANDOFF_ID, None)]
        logger.info("CSAT %s for handoff %s (customer %s)", score, handoff_id, handoff.customer_id)
        dispatcher.utter_message(text=THANKS["low"] if score <= stores.rules().low_csat_at_most else THANKS["ok"])
        return [SlotSet(Slot.CSAT_HANDOFF_ID, None), SlotSet(Slot.LAST_CSAT, score)]
