"""Session start: verify who the customer is and put their segment into the tracker's slots."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import stores
from common.crm import Customer, CustomerRepository
from common.names import ACTION_LISTEN, CUSTOMER_TOKEN_KEY, JourneyStage, Slot, Tier
from common.settings import Settings
from common.tokens import Identity, verify

logger = logging.getLogger(__name__)


def segment_slots(customer: Optional[Customer]) -> Dict[str, Any]:
    """The segment slots for a known customer, or the anonymous visitor's."""
    if customer is None:
        return {
            Slot.CUSTOMER_ID: None,
            Slot.TIER: Tier.ANONYMOUS.value,
            Slot.JOURNEY_STAGE: JourneyStage.UNKNOWN.value,
            Slot.LIFETIME_VALUE: None,
            Slot.POTENTIAL_VALUE: None,
            Slot.LAST_CSAT: None,
            Slot.NPS: None,
            Slot.PREFERRED_CHANNEL: None,
            Slot.LANGUAGE: None,
            Slot.IDENTITY_STATUS: "anonymous",
        }
    return {
        Slot.CUSTOMER_ID: customer.customer_id,
        Slot.TIER: customer.tier.value,
        Slot.JOURNEY_STAGE: customer.journey_stage.value,
        Slot.LIFETIME_VALUE: customer.lifetime_value,
        Slot.POTENTIAL_VALUE: customer.potential_value,
        Slot.LAST_CSAT: customer.last_csat,
        Slot.NPS: customer.nps,
        Slot.PREFERRED_CHANNEL: customer.preferred_channel.value,
        Slot.LANGUAGE: customer.language,
        Slot.IDENTITY_STATUS: "verified",
    }


def token_from_metadata(metadata: Any) -> Any:
    return metadata.get(CUSTOMER_TOKEN_KEY) if isinstance(metadata, dict) else None


def identify(token: Any, settings: Settings, repository: CustomerRepository) -> Optional[Customer]:
    """The verified customer, or None for an anonymous visitor (with a log line saying why)."""
    identity: Identity = verify(token, settings.customer_token_secret, settings.customer_token_issuer)
    if not identity.is_verified:
        if token is not None:
            logger.warning("Customer token refused: %s; treating the visitor as anonymous.", identity.reason)
        else:
            logger.info("No customer token; anonymous visitor.")
        return None
    customer = repository.get(identity.subject)
    if customer is None:
        logger.warning("Valid token for unknown customer id %r; treating as anonymous.", identity.subject)
    return customer


def _settings() -> Settings:
    return stores.settings()


def _repository() -> CustomerRepository:
    return stores.customers()


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        metadata = tracker.get_slot("session_started_metadata")
        try:
            customer = identify(token_from_metadata(metadata), _settings(), _repository())
        except Exception:  # the CRM being down must not break the chat: serve as anonymous
            logger.exception("Customer lookup failed; treating the visitor as anonymous.")
            customer = None
        slots = [SlotSet(name, value) for name, value in segment_slots(customer).items()]
        return [SessionStarted(), *slots, ActionExecuted(ACTION_LISTEN)]
