"""The one source of truth for names the parts of the product share: intents and actions the code
acts on, slot names, segment values, handoff statuses and channels, and the stable codes of
escalation reasons.

`bot/domain.yml` declares the same slots and intents (Rasa needs them there); a unit test checks
they agree. Pure: imports nothing but the standard library.
"""

from __future__ import annotations

from enum import Enum


class Tier(str, Enum):
    ANONYMOUS = "anonymous"  # a visitor we could not identify
    FREE = "free"
    STANDARD = "standard"
    PREMIUM = "premium"
    VIP = "vip"


class JourneyStage(str, Enum):
    UNKNOWN = "unknown"  # anonymous visitors
    BUYING = "buying"  # prospect or buying: a question now decides a sale
    ONBOARDING = "onboarding"
    ACTIVE = "active"
    AT_RISK = "at_risk"  # at risk of churning
    LAPSED = "lapsed"


class Channel(str, Enum):
    CHAT = "chat"
    PHONE = "phone"


class Engagement(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
REGIONS = ("north_america", "europe", "uk_ireland", "asia_pacific", "latin_america")
LANGUAGES = ("en", "de", "fr", "es", "nl")


class Intent:
    """Intents the code acts on, as declared in bot/domain.yml."""

    REQUEST_HUMAN = "request_human"
    FAQ = "faq"  # the retrieval intent: answers picked per topic, `faq/<topic>`
    OUT_OF_SCOPE = "out_of_scope"
    NLU_FALLBACK = "nlu_fallback"  # predicted by Rasa's FallbackClassifier, never trained
    RATE_CSAT = "rate_csat"


# Messages the bot did not understand.
FALLBACK_INTENTS = (Intent.NLU_FALLBACK, Intent.OUT_OF_SCOPE)

ACTION_ESCALATE = "action_escalate"
ACTION_LISTEN = "action_listen"

# Rasa event types after which earlier messages no longer count: a new session, a restart, or a person
# handing the conversation back to the bot (the agent dealt with what came before).
FRESH_START_EVENTS = ("session_started", "restart", "resume")


class HandoffStatus:
    WAITING = "waiting"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    ABANDONED = "abandoned"
    ALL = (WAITING, ASSIGNED, RESOLVED, ABANDONED)


class HandoffChannel:
    """How a person takes the conversation up."""

    LIVE_CHAT = "live_chat"
    PHONE_CALLBACK = "phone_callback"
    TICKET = "ticket"
    ALL = (LIVE_CHAT, PHONE_CALLBACK, TICKET)


class ReasonCode(str, Enum):
    """Stable codes of escalation reasons. Each reason carries one next to its human text; the inbox,
    analytics and tests match codes, never text. Never rename a value: stored handoffs carry them."""

    # What triggered the escalation
    ASKED_FOR_PERSON = "asked_for_person"
    NEGATIVE_MESSAGE = "negative_message"
    FRUSTRATED = "frustrated"
    NOT_UNDERSTOOD = "not_understood"
    LONG_CONVERSATION = "long_conversation"
    WANTS_TO_CANCEL = "wants_to_cancel"
    MENTIONS_COMPETITOR = "mentions_competitor"
    BUYING_QUESTION = "buying_question"
    # Who the customer is
    NPS_DETRACTOR = "nps_detractor"
    LOW_CSAT = "low_csat"
    SEGMENT = "segment"
    # Where it goes and how
    CHURN_RISK_TO_RETENTION = "churn_risk_to_retention"
    BUYING_TO_SALES = "buying_to_sales"
    BUSY_BUT_STRAIGHT_THROUGH = "busy_but_straight_through"
    OUTSIDE_BUSINESS_HOURS = "outside_business_hours"
    NO_AGENT_FREE = "no_agent_free"
    WAIT_EXCEEDS_SLA = "wait_exceeds_sla"
    SELF_SERVICE_FIRST = "self_service_first"
    # Staying with the bot
    NO_TRIGGER = "no_trigger"
    # A handoff stored before reasons had codes whose wording matched none (migrations/versions/0002)
    UNKNOWN = "unknown"


class Slot:
    """Slot names, as declared in bot/domain.yml."""

    CUSTOMER_ID = "customer_id"
    TIER = "tier"
    JOURNEY_STAGE = "journey_stage"
    LIFETIME_VALUE = "lifetime_value"
    POTENTIAL_VALUE = "potential_value"
    LAST_CSAT = "last_csat"
    NPS = "nps"
    PREFERRED_CHANNEL = "preferred_channel"
    LANGUAGE = "language"
    IDENTITY_STATUS = "identity_status"  # verified / anonymous, with why in the action server log
    ESCALATION = "escalation"  # the latest escalation decision, for agents and analytics
    CSAT_HANDOFF_ID = "csat_handoff_id"  # the resolved handoff whose CSAT rating the bot asked for


SEGMENT_SLOTS = (
    Slot.CUSTOMER_ID,
    Slot.TIER,
    Slot.JOURNEY_STAGE,
    Slot.LIFETIME_VALUE,
    Slot.POTENTIAL_VALUE,
    Slot.LAST_CSAT,
    Slot.NPS,
    Slot.PREFERRED_CHANNEL,
    Slot.LANGUAGE,
    Slot.IDENTITY_STATUS,
)

# The entity a CSAT rating button sends: /rate_csat{"csat_score": 4}
CSAT_SCORE_ENTITY = "csat_score"
CSAT_SCALE = range(1, 6)  # a CSAT rating is 1 (poor) to 5 (excellent)
NPS_SCALE = range(0, 11)

# Key of the identity token in a message's metadata (REST `metadata`, widget `customData`).
CUSTOMER_TOKEN_KEY = "customer_token"

DEMO_PERSONAS = {
    "demo-vip": "VIP customer, high lifetime value, happy",
    "demo-standard": "standard plan, active, satisfied",
    "demo-free": "free tier, active",
    "demo-churn-risk": "premium customer at risk of churning",
    "demo-buyer": "prospect in the buying stage",
    "demo-detractor": "standard customer whose last CSAT was 1 (NPS detractor)",
}
