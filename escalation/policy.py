"""The escalation policy: a pure function of (customer, conversation signals, queue state, clock).

`decide(...)` returns a `Decision` (stay with the bot, hand over, or offer a callback / ticket /
self-service) with the queue, priority, SLA, channel, what to tell the customer and the reasons in
words an agent understands. The business's rules come from escalation/rules.yml (`load_rules`).
Nothing here does I/O except `load_rules`; the Rasa action and the HTTP service are adapters.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from escalation.sentiment import Turn, conversation_frustration
from supportbot.vocabulary import JourneyStage, Slot, Tier

RULES_FILE = Path(__file__).resolve().parent / "rules.yml"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STAY, HANDOVER, OFFER_OPTIONS = "stay", "handover", "offer_options"
SELF_SERVICE = "self_service"  # trouble, but this segment is helped by the bot first: it keeps answering
LIVE_CHAT, PHONE_CALLBACK, TICKET = "live_chat", "phone_callback", "ticket"
CHANNELS = (LIVE_CHAT, PHONE_CALLBACK, TICKET)
REQUEST_HUMAN_INTENT = "request_human"


class RulesError(ValueError):
    """escalation/rules.yml is invalid; the message lists every problem with its place."""


@dataclass(frozen=True)
class Thresholds:
    sentiment_at_most: float
    frustration_at_least: float
    fallbacks_at_least: int
    turns_at_least: int


@dataclass(frozen=True)
class SegmentRule:
    queue: str
    priority: int
    sla_minutes: float
    channel: str
    self_service_first: bool
    handover: Thresholds


@dataclass(frozen=True)
class Rules:
    timezone: ZoneInfo
    hours: Mapping[str, Optional[Tuple[time, time]]]
    queues: Tuple[str, ...]
    segments: Mapping[str, SegmentRule]
    upset_sentiment: float
    upset_frustration: float
    detractor_nps_at_most: int
    low_csat_at_most: int
    sentiment_relief: float
    frustration_relief: float
    satisfaction_boost: int
    buying_queue: str
    buying_boost: int
    buying_intents: Tuple[str, ...]
    at_risk_queue: str
    at_risk_boost: int
    churn_intents: Tuple[str, ...]
    competitors: Tuple[str, ...]


@dataclass(frozen=True)
class CustomerView:
    tier: str = Tier.ANONYMOUS.value
    journey_stage: str = JourneyStage.UNKNOWN.value
    last_csat: Optional[int] = None
    nps: Optional[int] = None
    preferred_channel: str = "chat"

    @classmethod
    def of(cls, customer) -> "CustomerView":
        """From a supportbot.profiles.Customer, or None for an anonymous visitor."""
        if customer is None:
            return cls()
        return cls(customer.tier.value, customer.journey_stage.value, customer.last_csat, customer.nps,
                   customer.preferred_channel.value)

    @classmethod
    def from_slots(cls, slots: Mapping[str, object]) -> "CustomerView":
        """From the tracker's segment slots (set at session start by action_session_start)."""
        return cls(
            tier=slots.get(Slot.TIER) or Tier.ANONYMOUS.value,
            journey_stage=slots.get(Slot.JOURNEY_STAGE) or JourneyStage.UNKNOWN.value,
            last_csat=slots.get(Slot.LAST_CSAT), nps=slots.get(Slot.NPS),
            preferred_channel=slots.get(Slot.PREFERRED_CHANNEL) or "chat",
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
        return cls(latest.intent, latest.text, latest.compound, frustration.level, frustration.fallbacks,
                   len(turns))


@dataclass(frozen=True)
class QueueState:
    expected_wait_seconds: Mapping[str, int]  # per queue, from the live queue
    agents_available: Mapping[str, int]  # agents online who can take a conversation, per queue


@dataclass(frozen=True)
class Decision:
    action: str  # stay / self_service / handover / offer_options
    queue: Optional[str]
    priority: int
    sla_seconds: int
    channel: str
    expected_wait_seconds: Optional[int]
    customer_message: Optional[str]
    reasons: Tuple[str, ...]

    @property
    def escalates(self) -> bool:
        """True when a person (or an offer of one) takes over from the bot's normal answer."""
        return self.action in (HANDOVER, OFFER_OPTIONS)


# --- Loading and validating the rules ------------------------------------------------------------

def _number(errors: List[str], where: str, value, kind=float, minimum=None, maximum=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        errors.append(f"{where} must be a {'whole ' if kind is int else ''}number, got {value!r}")
        return kind(0)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        errors.append(f"{where} must be between {minimum} and {maximum}, got {value}")
    return kind(value)


def _section(errors: List[str], data: Mapping, key: str, where: str = "") -> Mapping:
    value = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(value, Mapping):
        errors.append(f"{where}{key} is missing or not a mapping")
        return {}
    return value


def _clock(errors: List[str], where: str, value) -> time:
    if str(value) == "24:00":
        return time.max  # the end of the day
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        errors.append(f"{where} must look like \"08:30\", got {value!r}")
        return time(0, 0)


def parse_rules(data: Mapping) -> Rules:
    errors: List[str] = []
    hours_section = _section(errors, data, "business_hours")
    try:
        timezone = ZoneInfo(str(hours_section.get("timezone", "")))
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(f"business_hours.timezone is not a known time zone: {hours_section.get('timezone')!r}")
        timezone = ZoneInfo("UTC")
    days = _section(errors, hours_section, "days", "business_hours.")
    hours: Dict[str, Optional[Tuple[time, time]]] = {}
    for day in DAYS:
        span = days.get(day)
        if span is None:
            hours[day] = None
        elif isinstance(span, list) and len(span) == 2:
            start, end = (_clock(errors, f"business_hours.days.{day}", v) for v in span)
            if end <= start:
                errors.append(f"business_hours.days.{day} must end after it starts")
            hours[day] = (start, end)
        else:
            errors.append(f"business_hours.days.{day} must be [\"HH:MM\", \"HH:MM\"] or null")
    queues = tuple(data.get("queues") or ())
    if not queues or not all(isinstance(q, str) for q in queues):
        errors.append("queues must be a list of queue names")
    segments_section = _section(errors, data, "segments")
    segments: Dict[str, SegmentRule] = {}
    for tier in Tier:
        where = f"segments.{tier.value}"
        rule = segments_section.get(tier.value)
        if not isinstance(rule, Mapping):
            errors.append(f"{where} is missing: every tier needs rules ({', '.join(t.value for t in Tier)})")
            continue
        if rule.get("queue") not in queues:
            errors.append(f"{where}.queue must be one of {list(queues)}, got {rule.get('queue')!r}")
        if rule.get("channel") not in CHANNELS:
            errors.append(f"{where}.channel must be one of {list(CHANNELS)}, got {rule.get('channel')!r}")
        handover = _section(errors, rule, "handover", f"{where}.")
        segments[tier.value] = SegmentRule(
            queue=rule.get("queue"),
            priority=_number(errors, f"{where}.priority", rule.get("priority"), int, 1, 9),
            sla_minutes=_number(errors, f"{where}.sla_minutes", rule.get("sla_minutes"), float, 0.1, 60 * 24 * 14),
            channel=rule.get("channel"),
            self_service_first=bool(rule.get("self_service_first", False)),
            handover=Thresholds(
                _number(errors, f"{where}.handover.sentiment_at_most", handover.get("sentiment_at_most"), float, -1, 1),
                _number(errors, f"{where}.handover.frustration_at_least", handover.get("frustration_at_least"),
                        float, 0, 1),
                _number(errors, f"{where}.handover.fallbacks_at_least", handover.get("fallbacks_at_least"), int, 1, 99),
                _number(errors, f"{where}.handover.turns_at_least", handover.get("turns_at_least"), int, 1, 999),
            ),
        )
    upset = _section(errors, data, "clearly_upset")
    satisfaction = _section(errors, data, "satisfaction")
    journey = _section(errors, data, "journey")
    buying = _section(errors, journey, "buying", "journey.")
    at_risk = _section(errors, journey, "at_risk", "journey.")
    churn = _section(errors, data, "churn")
    for where, queue in (("journey.buying.queue", buying.get("queue")), ("journey.at_risk.queue", at_risk.get("queue"))):
        if queue not in queues:
            errors.append(f"{where} must be one of {list(queues)}, got {queue!r}")
    rules = Rules(
        timezone=timezone, hours=hours, queues=queues, segments=segments,
        upset_sentiment=_number(errors, "clearly_upset.sentiment_at_most", upset.get("sentiment_at_most"), float, -1, 1),
        upset_frustration=_number(errors, "clearly_upset.frustration_at_least", upset.get("frustration_at_least"),
                                  float, 0, 1),
        detractor_nps_at_most=_number(errors, "satisfaction.detractor_nps_at_most",
                                      satisfaction.get("detractor_nps_at_most"), int, 0, 10),
        low_csat_at_most=_number(errors, "satisfaction.low_csat_at_most", satisfaction.get("low_csat_at_most"), int, 1, 5),
        sentiment_relief=_number(errors, "satisfaction.sentiment_relief", satisfaction.get("sentiment_relief"),
                                 float, 0, 2),
        frustration_relief=_number(errors, "satisfaction.frustration_relief", satisfaction.get("frustration_relief"),
                                   float, 0, 1),
        satisfaction_boost=_number(errors, "satisfaction.priority_boost", satisfaction.get("priority_boost"), int, 0, 8),
        buying_queue=buying.get("queue"), buying_boost=_number(errors, "journey.buying.priority_boost",
                                                               buying.get("priority_boost"), int, 0, 8),
        buying_intents=tuple(buying.get("intents") or ()),
        at_risk_queue=at_risk.get("queue"), at_risk_boost=_number(errors, "journey.at_risk.priority_boost",
                                                                  at_risk.get("priority_boost"), int, 0, 8),
        churn_intents=tuple(churn.get("intents") or ()),
        competitors=tuple(str(c).lower() for c in churn.get("competitors") or ()),
    )
    if errors:
        raise RulesError("Invalid escalation rules:\n  - " + "\n  - ".join(errors))
    return rules


def write_round_the_clock_copy(target: Path, source: Path = RULES_FILE) -> Path:
    """The rules with agents working 24/7, for tests and benchmarks whose results must not depend on
    the hour they run at."""
    import yaml

    rules = yaml.safe_load(source.read_text())
    rules["business_hours"]["days"] = {day: ["00:00", "24:00"] for day in rules["business_hours"]["days"]}
    target.write_text(yaml.safe_dump(rules))
    return target


def load_rules(path: Optional[Path] = None) -> Rules:
    """The rules from `path`, or from the ESCALATION_RULES_FILE setting."""
    if path is None:
        from supportbot.settings import setting

        path = Path(setting("ESCALATION_RULES_FILE"))
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise RulesError(f"Cannot read escalation rules from {path}: {error}") from None
    if not isinstance(data, Mapping):
        raise RulesError(f"{path} must contain a YAML mapping")
    return parse_rules(data)


# --- Business hours ---------------------------------------------------------------------------------

def is_open(rules: Rules, now: datetime) -> bool:
    local = now.astimezone(rules.timezone)
    span = rules.hours[DAYS[local.weekday()]]
    return span is not None and span[0] <= local.time() < span[1]


def next_opening(rules: Rules, now: datetime) -> Optional[datetime]:
    local = now.astimezone(rules.timezone)
    for offset in range(0, 8):
        day = local.date() + timedelta(days=offset)
        span = rules.hours[DAYS[day.weekday()]]
        if span is None:
            continue
        opening = datetime.combine(day, span[0], tzinfo=rules.timezone)
        if opening > local:
            return opening
    return None


# --- The decision -----------------------------------------------------------------------------------

def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    return f"{hours} hour{'s' if hours != 1 else ''}"


def decide(customer: CustomerView, signals: Signals, queues: QueueState, now: datetime,
           rules: Rules) -> Decision:
    segment = rules.segments.get(customer.tier) or rules.segments[Tier.ANONYMOUS.value]
    thresholds, priority, reasons = segment.handover, segment.priority, []

    unhappy_history = []
    if customer.nps is not None and customer.nps <= rules.detractor_nps_at_most:
        unhappy_history.append(f"NPS detractor ({customer.nps})")
    if customer.last_csat is not None and customer.last_csat <= rules.low_csat_at_most:
        unhappy_history.append(f"last CSAT {customer.last_csat}/5")
    if unhappy_history:
        thresholds = replace(
            thresholds,
            # Sooner, but never on a neutral message: at least slightly negative.
            sentiment_at_most=min(-0.05, thresholds.sentiment_at_most + rules.sentiment_relief),
            frustration_at_least=max(0.0, thresholds.frustration_at_least - rules.frustration_relief),
        )
        priority -= rules.satisfaction_boost

    text = signals.text.lower()
    competitor = next((c for c in rules.competitors if c in text), None)
    wants_person = signals.intent == REQUEST_HUMAN_INTENT
    churn = signals.intent in rules.churn_intents or competitor is not None
    buying = customer.journey_stage == JourneyStage.BUYING.value and signals.intent in rules.buying_intents
    clearly_upset = signals.sentiment <= rules.upset_sentiment or signals.frustration >= rules.upset_frustration

    triggers = []
    if wants_person:
        triggers.append("customer asked for a person")
    if signals.sentiment <= thresholds.sentiment_at_most:
        triggers.append(f"negative message ({signals.sentiment:+.2f}; {customer.tier} threshold "
                        f"{thresholds.sentiment_at_most:+.2f})")
    if signals.frustration >= thresholds.frustration_at_least:
        triggers.append(f"frustrated ({signals.frustration:.2f}; {customer.tier} threshold "
                        f"{thresholds.frustration_at_least:.2f})")
    if signals.fallbacks >= thresholds.fallbacks_at_least:
        triggers.append(f"bot did not understand {signals.fallbacks} message(s)")
    if signals.turns >= thresholds.turns_at_least:
        triggers.append(f"long conversation ({signals.turns} messages)")
    paying = customer.tier in (Tier.VIP.value, Tier.PREMIUM.value, Tier.STANDARD.value)
    if churn and (paying or customer.journey_stage == JourneyStage.AT_RISK.value):
        triggers.append("wants to cancel" if signals.intent in rules.churn_intents else f"mentions {competitor}")
    if buying:
        triggers.append("buying-stage question")

    sla_seconds = int(segment.sla_minutes * 60)
    if not triggers:
        return Decision(STAY, None, priority, sla_seconds, segment.channel, None, None,
                        ("no sign that the bot cannot help",))

    queue = segment.queue
    if customer.tier != Tier.VIP.value:  # VIPs keep their concierge whatever the topic
        if churn or (customer.journey_stage == JourneyStage.AT_RISK.value and triggers):
            queue, priority = rules.at_risk_queue, priority - rules.at_risk_boost
            reasons.append("churn risk: retention team")
        elif buying:
            queue, priority = rules.buying_queue, priority - rules.buying_boost
            reasons.append("buying stage: sales team")
    priority = max(1, priority)
    reasons = triggers + unhappy_history + reasons + [f"{customer.tier} customer, {customer.journey_stage}"]

    open_now = is_open(rules, now)
    wait = int(queues.expected_wait_seconds.get(queue, 0))
    agents = int(queues.agents_available.get(queue, 0))
    within_sla = open_now and agents > 0 and wait <= sla_seconds
    straight_through = customer.tier == Tier.VIP.value or clearly_upset or bool(unhappy_history)

    if segment.self_service_first and not (clearly_upset or wants_person or churn or buying or unhappy_history):
        # The bot's own answer is the self-service; every answer of this kind offers a person. A customer
        # with an unhappy history gets higher-touch help whatever the tier (product brief).
        return Decision(SELF_SERVICE, queue, priority, sla_seconds, TICKET, None, None,
                        tuple(reasons + ["self-service first for this segment"]))
    if within_sla or (open_now and agents > 0 and straight_through):
        if not within_sla:
            reasons.append(f"queue busy (about {_minutes(wait)}) but goes straight through")
        channel = LIVE_CHAT if segment.channel != TICKET or clearly_upset or wants_person else segment.channel
        return Decision(HANDOVER, queue, priority, sla_seconds, channel, wait,
                        f"I'm passing you to our {queue} team now. Someone will be with you in about "
                        f"{_minutes(max(wait, 60))}; you can keep this chat open.",
                        tuple(reasons))
    # Nobody can take it within the SLA: say so honestly and arrange another way to a person (the
    # handoff is queued with that channel; the customer can keep chatting with the bot meanwhile).
    callback = customer.preferred_channel == "phone" or paying
    channel = PHONE_CALLBACK if callback else TICKET
    arranged = "booked a phone callback" if callback else "opened a ticket"
    if not open_now:
        opening = next_opening(rules, now)
        when = opening.strftime("%A %H:%M") + f" ({rules.timezone.key})" if opening else "soon"
        message = (f"Our team is offline right now and back on {when}. I've {arranged} for you, so they'll "
                   "pick this up first thing; you don't need to do anything else. I'm still here if I can help "
                   "in the meantime.")
        reasons.append("outside business hours")
        if opening:  # nobody can meet an SLA while closed: it runs from the opening time
            sla_seconds += int((opening - now).total_seconds())
    else:
        message = (f"Our team is busy right now: the wait for a chat is about {_minutes(wait if agents else 3600)}. "
                   f"So you don't have to wait here, I've {arranged} for you. If you'd rather wait for a chat, "
                   "say \"talk to a person\" again.")
        reasons.append("no agent free" if agents == 0 else f"expected wait {_minutes(wait)} exceeds the SLA")
    return Decision(OFFER_OPTIONS, queue, priority, sla_seconds, channel, wait if agents else None, message,
                    tuple(reasons))
