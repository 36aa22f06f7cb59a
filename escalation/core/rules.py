"""The business's escalation rules as plain data, parsed and validated from a mapping (the YAML file is
read by escalation/rules_file.py). Every problem is reported with its place, all at once.

`round_the_clock(data)` gives the same rules with agents working 24/7, for tests and benchmarks whose
results must not depend on the hour they run at.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from common.names import HandoffChannel, Tier
from escalation.core.routing import PUSH, ROUTING_MODES

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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
    sla_minutes: float  # first response: queued to the first agent message
    channel: str
    self_service_first: bool
    handover: Thresholds
    next_response_minutes: Optional[float] = None  # a customer message to the agent's answer
    resolution_minutes: Optional[float] = None  # queued to resolved
    sla_business_hours: bool = False  # the SLA clocks count business hours only


@dataclass(frozen=True)
class CannedResponse:
    title: str
    text: str  # may contain {first_name}


@dataclass(frozen=True)
class Workspace:
    """The agents' tools (escalation/rules.yml `workspace:`): per queue, with `all` for every queue."""

    resolution_codes: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)
    canned_responses: Mapping[str, Tuple[CannedResponse, ...]] = field(default_factory=dict)

    def codes_for(self, queue: str) -> Tuple[str, ...]:
        return tuple(dict.fromkeys((*self.resolution_codes.get(queue, ()), *self.resolution_codes.get("all", ()))))

    def canned_for(self, queue: str) -> Tuple[CannedResponse, ...]:
        return (*self.canned_responses.get(queue, ()), *self.canned_responses.get("all", ()))


@dataclass(frozen=True)
class Routing:
    """How waiting conversations reach agents (escalation/core/routing.py); every key is optional."""

    modes: Mapping[str, str]  # queue -> push (assigned to the best eligible agent) or pull (claimed)
    default_handle_seconds: float = 360.0  # expected handle time until a queue has measured ones
    customer_gone_seconds: float = 90.0  # chat window closed this long while waiting: abandoned
    still_there_after_seconds: float = 600.0  # waiting this long without writing: "are you still there?"
    still_there_grace_seconds: float = 180.0  # and no answer within this: abandoned
    position_update_seconds: float = 60.0  # at most one "you are Nth in line" message this often
    # queue -> slots every agent serving it keeps for its chats (escalation/core/routing.py)
    reserved_slots: Mapping[str, int] = field(default_factory=dict)

    def push_queues(self, queues: Sequence[str]) -> Tuple[str, ...]:
        return tuple(q for q in queues if self.modes.get(q, PUSH) == PUSH)


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
    routing: Routing = field(default_factory=lambda: Routing({}))
    workspace: Workspace = field(default_factory=Workspace)
    # A handover because the customer is dissatisfied (a negative message, frustration) or from a
    # customer with an unhappy history gets at most this first-response SLA, whatever the tier (None: the
    # tier's): the line is ordered by SLA due time, so this is what serves them sooner.
    dissatisfied_sla_minutes: Optional[float] = None


# --- Loading and validating the rules ------------------------------------------------------------


def _number(
    errors: List[str],
    where: str,
    value: Any,
    kind: Any = float,
    minimum: Optional[float] = None,
    maximum: Optional[float] = None,
) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        errors.append(f"{where} must be a {'whole ' if kind is int else ''}number, got {value!r}")
        return kind(0)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        errors.append(f"{where} must be between {minimum} and {maximum}, got {value}")
    return kind(value)


def _section(errors: List[str], data: Mapping[str, Any], key: str, where: str = "") -> Mapping[str, Any]:
    value = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(value, Mapping):
        errors.append(f"{where}{key} is missing or not a mapping")
        return {}
    return value


def _clock(errors: List[str], where: str, value: Any) -> time:
    if str(value) == "24:00":
        return time.max  # the end of the day
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        errors.append(f'{where} must look like "08:30", got {value!r}')
        return time(0, 0)


def _optional_minutes(errors: List[str], where: str, rule: Mapping[str, Any]) -> Optional[float]:
    key = where.rsplit(".", 1)[1]
    if rule.get(key) is None:
        return None
    return float(_number(errors, where, rule.get(key), float, 0.1, 60 * 24 * 60))


def _workspace(errors: List[str], data: Mapping[str, Any], queues: Sequence[str]) -> Workspace:
    section = data.get("workspace") or {}
    if not isinstance(section, Mapping):
        errors.append("workspace must be a mapping (see escalation/rules.yml)")
        return Workspace()
    known = (*queues, "all")
    codes: Dict[str, Tuple[str, ...]] = {}
    for queue, listed in (section.get("resolution_codes") or {}).items():
        if queue not in known:
            errors.append(f"workspace.resolution_codes.{queue} is not a queue (or all); the queues are {list(queues)}")
        if not isinstance(listed, list) or not all(isinstance(c, str) and c for c in listed):
            errors.append(f"workspace.resolution_codes.{queue} must be a list of codes")
            continue
        codes[str(queue)] = tuple(listed)
    canned: Dict[str, Tuple[CannedResponse, ...]] = {}
    for queue, listed in (section.get("canned_responses") or {}).items():
        where = f"workspace.canned_responses.{queue}"
        if queue not in known:
            errors.append(f"{where} is not a queue (or all); the queues are {list(queues)}")
        if not isinstance(listed, list):
            errors.append(f"{where} must be a list of {{title, text}}")
            continue
        found = []
        for index, item in enumerate(listed):
            if not isinstance(item, Mapping) or not item.get("title") or not item.get("text"):
                errors.append(f"{where}[{index}] needs a title and a text")
                continue
            try:
                str(item["text"]).format(first_name="x")
            except (KeyError, IndexError, ValueError):
                errors.append(f"{where}[{index}].text may use only {{first_name}}")
                continue
            found.append(CannedResponse(str(item["title"]), str(item["text"])))
        canned[str(queue)] = tuple(found)
    return Workspace(codes, canned)


def parse_rules(data: Mapping[str, Any]) -> Rules:
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
            errors.append(f'business_hours.days.{day} must be ["HH:MM", "HH:MM"] or null')
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
        if rule.get("channel") not in HandoffChannel.ALL:
            errors.append(f"{where}.channel must be one of {list(HandoffChannel.ALL)}, got {rule.get('channel')!r}")
        handover = _section(errors, rule, "handover", f"{where}.")
        segments[tier.value] = SegmentRule(
            queue=str(rule.get("queue")),  # checked above; invalid rules raise below
            priority=_number(errors, f"{where}.priority", rule.get("priority"), int, 1, 9),
            sla_minutes=_number(errors, f"{where}.sla_minutes", rule.get("sla_minutes"), float, 0.1, 60 * 24 * 14),
            channel=str(rule.get("channel")),
            self_service_first=bool(rule.get("self_service_first", False)),
            handover=Thresholds(
                _number(errors, f"{where}.handover.sentiment_at_most", handover.get("sentiment_at_most"), float, -1, 1),
                _number(
                    errors, f"{where}.handover.frustration_at_least", handover.get("frustration_at_least"), float, 0, 1
                ),
                _number(errors, f"{where}.handover.fallbacks_at_least", handover.get("fallbacks_at_least"), int, 1, 99),
                _number(errors, f"{where}.handover.turns_at_least", handover.get("turns_at_least"), int, 1, 999),
            ),
            next_response_minutes=_optional_minutes(errors, f"{where}.next_response_minutes", rule),
            resolution_minutes=_optional_minutes(errors, f"{where}.resolution_minutes", rule),
            sla_business_hours=bool(rule.get("sla_business_hours", False)),
        )
    upset = _section(errors, data, "clearly_upset")
    satisfaction = _section(errors, data, "satisfaction")
    journey = _section(errors, data, "journey")
    buying = _section(errors, journey, "buying", "journey.")
    at_risk = _section(errors, journey, "at_risk", "journey.")
    churn = _section(errors, data, "churn")
    for where, queue in (
        ("journey.buying.queue", buying.get("queue")),
        ("journey.at_risk.queue", at_risk.get("queue")),
    ):
        if queue not in queues:
            errors.append(f"{where} must be one of {list(queues)}, got {queue!r}")
    routing_section = data.get("routing") or {}
    if not isinstance(routing_section, Mapping):
        errors.append("routing must be a mapping (see escalation/rules.yml)")
        routing_section = {}
    modes = routing_section.get("modes") or {}
    if not isinstance(modes, Mapping):
        errors.append("routing.modes must map queue names to push or pull")
        modes = {}
    for queue, mode in modes.items():
        if queue not in queues:
            errors.append(f"routing.modes.{queue} is not a queue; the queues are {list(queues)}")
        if mode not in ROUTING_MODES:
            errors.append(f"routing.modes.{queue} must be push or pull, got {mode!r}")
    reserved = routing_section.get("reserved_slots") or {}
    if not isinstance(reserved, Mapping):
        errors.append("routing.reserved_slots must map queue names to a number of slots")
        reserved = {}
    for queue in reserved:
        if queue not in queues:
            errors.append(f"routing.reserved_slots.{queue} is not a queue; the queues are {list(queues)}")
    reserved_slots = {
        str(q): _number(errors, f"routing.reserved_slots.{q}", n, int, 0, 50) for q, n in reserved.items()
    }
    defaults = Routing({})
    routing = Routing(
        {str(q): str(m) for q, m in modes.items()},
        60
        * _number(
            errors,
            "routing.default_handle_minutes",
            routing_section.get("default_handle_minutes", defaults.default_handle_seconds / 60),
            float,
            0.5,
            480,
        ),
        _number(
            errors,
            "routing.customer_gone_seconds",
            routing_section.get("customer_gone_seconds", defaults.customer_gone_seconds),
            float,
            10,
            3600,
        ),
        60
        * _number(
            errors,
            "routing.still_there_after_minutes",
            routing_section.get("still_there_after_minutes", defaults.still_there_after_seconds / 60),
            float,
            1,
            1440,
        ),
        60
        * _number(
            errors,
            "routing.still_there_grace_minutes",
            routing_section.get("still_there_grace_minutes", defaults.still_there_grace_seconds / 60),
            float,
            0.5,
            120,
        ),
        _number(
            errors,
            "routing.position_update_seconds",
            routing_section.get("position_update_seconds", defaults.position_update_seconds),
            float,
            10,
            3600,
        ),
        reserved_slots,
    )
    rules = Rules(
        timezone=timezone,
        hours=hours,
        queues=queues,
        segments=segments,
        upset_sentiment=_number(
            errors, "clearly_upset.sentiment_at_most", upset.get("sentiment_at_most"), float, -1, 1
        ),
        upset_frustration=_number(
            errors, "clearly_upset.frustration_at_least", upset.get("frustration_at_least"), float, 0, 1
        ),
        detractor_nps_at_most=_number(
            errors, "satisfaction.detractor_nps_at_most", satisfaction.get("detractor_nps_at_most"), int, 0, 10
        ),
        low_csat_at_most=_number(
            errors, "satisfaction.low_csat_at_most", satisfaction.get("low_csat_at_most"), int, 1, 5
        ),
        sentiment_relief=_number(
            errors, "satisfaction.sentiment_relief", satisfaction.get("sentiment_relief"), float, 0, 2
        ),
        frustration_relief=_number(
            errors, "satisfaction.frustration_relief", satisfaction.get("frustration_relief"), float, 0, 1
        ),
        satisfaction_boost=_number(
            errors, "satisfaction.priority_boost", satisfaction.get("priority_boost"), int, 0, 8
        ),
        buying_queue=str(buying.get("queue")),
        buying_boost=_number(errors, "journey.buying.priority_boost", buying.get("priority_boost"), int, 0, 8),
        buying_intents=tuple(buying.get("intents") or ()),
        at_risk_queue=str(at_risk.get("queue")),
        at_risk_boost=_number(errors, "journey.at_risk.priority_boost", at_risk.get("priority_boost"), int, 0, 8),
        churn_intents=tuple(churn.get("intents") or ()),
        competitors=tuple(str(c).lower() for c in churn.get("competitors") or ()),
        routing=routing,
        workspace=_workspace(errors, data, queues),
        dissatisfied_sla_minutes=_optional_minutes(errors, "satisfaction.dissatisfied_sla_minutes", satisfaction),
    )
    if errors:
        raise RulesError("Invalid escalation rules:\n  - " + "\n  - ".join(errors))
    return rules


def round_the_clock(data: Mapping[str, Any]) -> Dict[str, Any]:
    """The rules mapping `data` with every day open 00:00-24:00."""
    rules = copy.deepcopy(dict(data))
    rules["business_hours"]["days"] = {day: ["00:00", "24:00"] for day in DAYS}
    return rules
