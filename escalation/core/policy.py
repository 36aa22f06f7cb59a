"""The escalation policy: a pure function of (customer, conversation signals, queue state, clock, rules).

`decide(...)` returns a `Decision` (stay with the bot, hand over, or offer a callback / ticket /
self-service) with the queue, priority, SLA, channel, what to tell the customer and the reasons, each
with a stable code and words an agent understands. Nothing here does I/O: the Rasa policy, the
action and the web app are adapters around it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from common.names import HandoffChannel, Intent, JourneyStage, ReasonCode, Slot, Tier
from escalation.core.hours import is_open, next_opening
from escalation.core.reasons import Reason
from escalation.core.routing import minutes_text
from escalation.core.rules import Rules
from escalation.core.sentiment import Turn, conversation_frustration

STAY, HANDOVER, OFFER_OPTIONS = "stay", "handover", "offer_options"
SELF_SERVICE = "self_service"  # trouble, but this segment is helped by the bot first: it keeps answering
LIVE_CHAT, PHONE_CALLBACK, TICKET = HandoffChannel.LIVE_CHAT, HandoffChannel.PHONE_CALLBACK, HandoffChannel.TICKET


@dataclass(frozen=True)
class CustomerView:
    tier: str = Tier.ANONYMOUS.value
    journey_stage: str = JourneyStage.UNKNOWN.value
    last_csat: Optional[int] = None
    nps: Optional[int] = None
    preferred_channel: str = "chat"

    @classmethod
    def of(cls, customer: Any) -> "CustomerView":
        """From a common.crm.Customer, or None for an anonymous visitor."""
        if customer is None:
            return cls()
        return cls(
            customer.tier.value,
            customer.journey_stage.value,
            customer.last_csat,
            customer.nps,
            customer.preferred_channel.value,
        )

    @classmethod
    def from_slots(cls, slots: Mapping[str, Any]) -> "CustomerView":
        """From the tracker's segment slots (set at session start by action_session_start)."""
        return cls(
            tier=str(slots.get(Slot.TIER) or Tier.ANONYMOUS.value),
            journey_stage=str(slots.get(Slot.JOURNEY_STAGE) or JourneyStage.UNKNOWN.value),
            last_csat=slots.get(Slot.LAST_CSAT),
            nps=slots.get(Slot.NPS),
            preferred_channel=str(slots.get(Slot.PREFERRED_CHANNEL) or "chat"),
        )


@dataclass(frozen=True)
class Signals:
    intent: Optional[str] = None
    text: str = ""
    sentiment: float = 0.0  # latest message, -1..1
    frustration: float = 0.0  # conversation, 0..1
    fallbacks: int = 0
    turns: int = 1

    @classmethod
    def from_turns(cls, turns: Sequence[Turn]) -> "Signals":
        """The latest message and the conversation's frustration; `turns` must not be empty."""
        latest = turns[-1]
        frustration = conversation_frustration(turns)
        return cls(latest.intent, latest.text, latest.compound, frustration.level, frustration.fallbacks, len(turns))


@dataclass(frozen=True)
class QueueState:
    """Per queue, from the live queue and the agents' presence (escalation/core/routing.py)."""

    expected_wait_seconds: Mapping[str, int]  # for a customer joining now; absent: nobody online
    agents_available: Mapping[str, int]  # online, serving the queue, with a free slot
    agents_online: Optional[Mapping[str, int]] = None  # online and serving, busy or not (None: as available)

    def online(self, queue: str) -> int:
        return int((self.agents_available if self.agents_online is None else self.agents_online).get(queue, 0))


@dataclass(frozen=True)
class Decision:
    action: str  # stay / self_service / handover / offer_options
    queue: Optional[str]
    priority: int
    sla_seconds: int
    channel: str
    expected_wait_seconds: Optional[int]
    customer_message: Optional[str]
    reasons: Tuple[Reason, ...]

    @property
    def escalates(self) -> bool:
        """True when a person (or an offer of one) takes over from the bot's normal answer."""
        return self.action in (HANDOVER, OFFER_OPTIONS)

    def as_json(self) -> Dict[str, Any]:
        return {
            "action": self.action,
            "queue": self.queue,
            "priority": self.priority,
            "sla_seconds": self.sla_seconds,
            "channel": self.channel,
            "expected_wait_seconds": self.expected_wait_seconds,
            "reasons": [reason.as_json() for reason in self.reasons],
        }


# --- The decision -----------------------------------------------------------------------------------


def decide(customer: CustomerView, signals: Signals, queues: QueueState, now: datetime, rules: Rules) -> Decision:
    segment = rules.segments.get(customer.tier) or rules.segments[Tier.ANONYMOUS.value]
    thresholds, priority, reasons = segment.handover, segment.priority, []

    unhappy_history: List[Reason] = []
    if customer.nps is not None and customer.nps <= rules.detractor_nps_at_most:
        unhappy_history.append(Reason(ReasonCode.NPS_DETRACTOR, f"NPS detractor ({customer.nps})"))
    if customer.last_csat is not None and customer.last_csat <= rules.low_csat_at_most:
        unhappy_history.append(Reason(ReasonCode.LOW_CSAT, f"last CSAT {customer.last_csat}/5"))
    if unhappy_history:
        thresholds = replace(
            thresholds,
            # Sooner, but never on a neutral message or a calm conversation: at least slightly negative,
            # at least some frustration (a threshold of 0 would hand over "hi" and the CSAT rating itself).
            sentiment_at_most=min(-0.05, thresholds.sentiment_at_most + rules.sentiment_relief),
            frustration_at_least=max(0.05, thresholds.frustration_at_least - rules.frustration_relief),
        )
        priority -= rules.satisfaction_boost

    text = signals.text.lower()
    competitor = next((c for c in rules.competitors if c in text), None)
    wants_person = signals.intent == Intent.REQUEST_HUMAN
    churn = signals.intent in rules.churn_intents or competitor is not None
    buying = customer.journey_stage == JourneyStage.BUYING.value and signals.intent in rules.buying_intents
    clearly_upset = signals.sentiment <= rules.upset_sentiment or signals.frustration >= rules.upset_frustration

    triggers: List[Reason] = []
    if wants_person:
        triggers.append(Reason(ReasonCode.ASKED_FOR_PERSON, "customer asked for a person"))
    if signals.sentiment <= thresholds.sentiment_at_most:
        triggers.append(
            Reason(
                ReasonCode.NEGATIVE_MESSAGE,
                f"negative message ({signals.sentiment:+.2f}; "
                f"{customer.tier} threshold {thresholds.sentiment_at_most:+.2f})",
            )
        )
    if signals.frustration >= thresholds.frustration_at_least:
        triggers.append(
            Reason(
                ReasonCode.FRUSTRATED,
                f"frustrated ({signals.frustration:.2f}; {customer.tier} "
                f"threshold {thresholds.frustration_at_least:.2f})",
            )
        )
    if signals.fallbacks >= thresholds.fallbacks_at_least:
        triggers.append(Reason(ReasonCode.NOT_UNDERSTOOD, f"bot did not understand {signals.fallbacks} message(s)"))
    if signals.turns >= thresholds.turns_at_least:
        triggers.append(Reason(ReasonCode.LONG_CONVERSATION, f"long conversation ({signals.turns} messages)"))
    paying = customer.tier in (Tier.VIP.value, Tier.PREMIUM.value, Tier.STANDARD.value)
    if churn and (paying or customer.journey_stage == JourneyStage.AT_RISK.value):
        triggers.append(
            Reason(ReasonCode.WANTS_TO_CANCEL, "wants to cancel")
            if signals.intent in rules.churn_intents
            else Reason(ReasonCode.MENTIONS_COMPETITOR, f"mentions {competitor}")
        )
    if buying:
        triggers.append(Reason(ReasonCode.BUYING_QUESTION, "buying-stage question"))

    sla_seconds = int(segment.sla_minutes * 60)
    dissatisfied = bool(unhappy_history) or any(
        t.code in (ReasonCode.NEGATIVE_MESSAGE, ReasonCode.FRUSTRATED) for t in triggers
    )
    if dissatisfied and rules.dissatisfied_sla_minutes is not None:
        # The product's promise: dissatisfied customers reach a person sooner, in any tier.
        sla_seconds = min(sla_seconds, int(rules.dissatisfied_sla_minutes * 60))
    if not triggers:
        return Decision(
            STAY,
            None,
            priority,
            sla_seconds,
            segment.channel,
            None,
            None,
            (Reason(ReasonCode.NO_TRIGGER, "no sign that the bot cannot help"),),
        )

    queue = segment.queue
    if customer.tier != Tier.VIP.value:  # VIPs keep their concierge whatever the topic
        if churn or (customer.journey_stage == JourneyStage.AT_RISK.value and triggers):
            queue, priority = rules.at_risk_queue, priority - rules.at_risk_boost
            reasons.append(Reason(ReasonCode.CHURN_RISK_TO_RETENTION, "churn risk: retention team"))
        elif buying:
            queue, priority = rules.buying_queue, priority - rules.buying_boost
            reasons.append(Reason(ReasonCode.BUYING_TO_SALES, "buying stage: sales team"))
    priority = max(1, priority)
    reasons = (
        triggers
        + unhappy_history
        + reasons
        + [Reason(ReasonCode.SEGMENT, f"{customer.tier} customer, {customer.journey_stage}")]
    )

    open_now = is_open(rules, now)
    wait = int(queues.expected_wait_seconds.get(queue, 0))
    # Someone online for the queue, even if busy: the customer waits in line for them, and the wait
    # (from measured handle times and the line ahead) says whether that is within the SLA.
    agents = queues.online(queue)
    within_sla = open_now and agents > 0 and wait <= sla_seconds
    straight_through = customer.tier == Tier.VIP.value or clearly_upset or bool(unhappy_history)

    if segment.self_service_first and not (clearly_upset or wants_person or churn or buying or unhappy_history):
        # The bot's own answer is the self-service; every answer of this kind offers a person. A customer
        # with an unhappy history gets higher-touch help whatever the tier (product brief).
        return Decision(
            SELF_SERVICE,
            queue,
            priority,
            sla_seconds,
            TICKET,
            None,
            None,
            tuple(reasons + [Reason(ReasonCode.SELF_SERVICE_FIRST, "self-service first for this segment")]),
        )
    if within_sla or (open_now and agents > 0 and straight_through):
        if not within_sla:
            reasons.append(
                Reason(
                    ReasonCode.BUSY_BUT_STRAIGHT_THROUGH,
                    f"queue busy (about {minutes_text(wait)}) but goes straight through",
                )
            )
        channel = LIVE_CHAT if segment.channel != TICKET or clearly_upset or wants_person else segment.channel
        return Decision(
            HANDOVER,
            queue,
            priority,
            sla_seconds,
            channel,
            wait,
            f"I'm passing you to our {queue} team now. Someone will be with you in about "
            f"{minutes_text(max(wait, 60))}; you can keep this chat open.",
            tuple(reasons),
        )
    # Nobody can take it within the SLA: say so honestly and arrange another way to a person (the
    # handoff is queued with that channel; the customer can keep chatting with the bot meanwhile).
    callback = customer.preferred_channel == "phone" or paying
    channel = PHONE_CALLBACK if callback else TICKET
    arranged = "booked a phone callback" if callback else "opened a ticket"
    if not open_now:
        opening = next_opening(rules, now)
        when = opening.strftime("%A %H:%M") + f" ({rules.timezone.key})" if opening else "soon"
        message = (
            f"Our team is offline right now and back on {when}. I've {arranged} for you, so they'll "
            "pick this up first thing; you don't need to do anything else. I'm still here if I can help "
            "in the meantime."
        )
        reasons.append(Reason(ReasonCode.OUTSIDE_BUSINESS_HOURS, "outside business hours"))
        if opening:  # nobody can meet an SLA while closed: it runs from the opening time
            sla_seconds += int((opening - now).total_seconds())
    else:
        if agents:
            message = (
                f"Our team is busy right now: the wait for a chat is about {minutes_text(wait)}. "
                f"So you don't have to wait here, I've {arranged} for you. If you'd rather wait for a chat, "
                'say "talk to a person" again.'
            )
        else:  # honest: nobody is online for this queue, so there is no wait to promise
            message = (
                f"Nobody from our team can take a chat right now. I've {arranged} for you, so a person "
                "will follow up as soon as someone is available; you don't need to do anything else. "
                "I'm still here if I can help in the meantime."
            )
        reasons.append(
            Reason(ReasonCode.NO_AGENT_FREE, "no agent free")
            if agents == 0
            else Reason(ReasonCode.WAIT_EXCEEDS_SLA, f"expected wait {minutes_text(wait)} exceeds the SLA")
        )
    return Decision(
        OFFER_OPTIONS, queue, priority, sla_seconds, channel, wait if agents else None, message, tuple(reasons)
    )
