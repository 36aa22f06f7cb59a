"""The one source of truth for slot names and segment values.

`bot/domain.yml` declares the same slots (Rasa needs them there); a unit test checks the two agree.
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
CSAT_SCALE = range(1, 6)

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
