"""The metrics' definitions, as pure functions over conversation facts (one `Fact` per conversation).
docs/analytics.md says the same in words; tests/unit/test_analytics_metrics.py holds them to it.

- A conversation is one Rasa conversation id with at least one customer message; it belongs to the day
  (in the rules' time zone) of its first customer message.
- contained: the bot took part (sent at least one message), no person was involved (no handoff, of any
  channel) and the customer did not come back within 24 h of its last message (Intercom's reopen rule:
  the same identified customer starting another conversation). containment_rate = contained / the
  conversations the bot took part in.
- handoffs: conversations handed to a person (live chat, phone callback or ticket); handoff_rate =
  handoffs / conversations; handoff_reasons: per reason code, the handoffs that carried it.
- first response: queued to the first message an agent wrote (bot messages and the greeting sent for the
  agent never count); resolution: queued to resolved. Median (p50) and p90 by linear interpolation
  between closest ranks (numpy's default), in calendar seconds and in business-hours seconds.
- SLA attainment per clock (first response, next response, resolution; escalation/core/sla.py): met /
  (met + breached) over the handoffs whose clock has stopped; running clocks do not count yet.
- abandoned: handoffs whose customer left while waiting; abandonment_rate = abandoned / handoffs.
- CSAT: csat_positive_rate = ratings of 4 or 5 / ratings; csat_response_rate = ratings / resolved handoffs
  (the bot asks for a rating at each resolution).
- NLU fallback rate: customer messages the bot did not understand (nlu_fallback or out_of_scope) / customer
  messages it parsed.
A rate with nothing to divide by is None (null in JSON), never 0.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from common.names import Tier

REOPEN_WINDOW = timedelta(hours=24)
POSITIVE_CSAT_AT_LEAST = 4
SATISFACTIONS = ("detractor", "low_csat", "other")
CHANNELS = ("chat", "callback", "ticket", "bot_only")
SLICES = ("none", "tier", "journey_stage", "queue", "satisfaction", "channel", "day", "hour")
NO_QUEUE = "none"  # the queue key of conversations the bot kept
CLOCKS = ("first_response", "next_response", "resolution")
# The summary's fields, in the order of the CSV export's columns.
SUMMARY_FIELDS = (
    "key",
    "conversations",
    "contained",
    "containment_rate",
    "handoffs",
    "handoff_rate",
    "handoff_reasons",
    "first_response_p50_s",
    "first_response_p90_s",
    "first_response_p50_business_s",
    "first_response_p90_business_s",
    "resolution_p50_s",
    "resolution_p90_s",
    "resolution_p50_business_s",
    "resolution_p90_business_s",
    "sla_attainment",
    "abandoned",
    "abandonment_rate",
    "csat_responses",
    "csat_positive_rate",
    "csat_response_rate",
    "fallback_rate",
    "nlu_messages",
    "nlu_fallbacks",
)


@dataclass(frozen=True)
class Fact:
    """One conversation, as the metrics need it (a row of the fact table)."""

    conversation_id: str
    started_at: datetime  # UTC, its first customer message
    day: str  # YYYY-MM-DD of started_at in the rules' time zone
    hour: int  # 0-23, likewise
    tier: str
    journey_stage: str
    satisfaction: str  # detractor / low_csat / other, at the start of the conversation
    channel: str  # chat / callback / ticket / bot_only
    bot_took_part: bool
    last_message_at: Optional[datetime] = None
    customer_id: Optional[str] = None
    queue: Optional[str] = None
    nlu_messages: int = 0
    nlu_fallbacks: int = 0
    handoff_id: Optional[str] = None
    handoff_reasons: Tuple[str, ...] = ()  # each code once
    reopened: bool = False
    abandoned: bool = False
    resolved: bool = False
    first_response_s: Optional[float] = None
    first_response_business_s: Optional[float] = None
    resolution_s: Optional[float] = None
    resolution_business_s: Optional[float] = None
    sla_first_response: Optional[bool] = None  # met, breached, or None (no clock, or still running)
    sla_next_response: Optional[bool] = None
    sla_resolution: Optional[bool] = None
    csat: Optional[int] = None
    seeded: bool = False

    @property
    def handed_off(self) -> bool:
        return self.handoff_id is not None

    @property
    def contained(self) -> bool:
        return self.bot_took_part and not self.handed_off and not self.reopened

    def sla(self, clock: str) -> Optional[bool]:
        outcome: Optional[bool] = getattr(self, f"sla_{clock}")
        return outcome


# --- the segment a conversation falls in ------------------------------------------------------------


def satisfaction_of(
    nps: Optional[int], last_csat: Optional[int], detractor_nps_at_most: int, low_csat_at_most: int
) -> str:
    """A detractor (NPS at most the rules' threshold) first, then a low last CSAT, else other."""
    if nps is not None and nps <= detractor_nps_at_most:
        return "detractor"
    if last_csat is not None and last_csat <= low_csat_at_most:
        return "low_csat"
    return "other"


def channel_of(handoff_channel: Optional[str]) -> str:
    """How a person took the conversation up (common.names.HandoffChannel), or bot_only."""
    return {"live_chat": "chat", "phone_callback": "callback", "ticket": "ticket"}.get(
        handoff_channel or "", "bot_only"
    )


def reopened_flags(conversations: Sequence[Tuple[str, datetime, datetime]]) -> Dict[str, bool]:
    """One customer's conversations as (id, started_at, last_message_at): each is reopened when another
    of theirs starts after it started and within REOPEN_WINDOW of its last message."""
    ordered = sorted(conversations, key=lambda c: (c[1], c[0]))
    flags = {}
    for index, (conversation_id, _, last) in enumerate(ordered):
        later = ordered[index + 1 :]
        flags[conversation_id] = any(start - last <= REOPEN_WINDOW for _, start, _ in later[:1])
    return flags


# --- numbers ----------------------------------------------------------------------------------------


def rate(part: int, whole: int) -> Optional[float]:
    return None if whole == 0 else part / whole


def percentile(values: Sequence[float], share: float) -> Optional[float]:
    """Linear interpolation between closest ranks (numpy's default; p50 is the median); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _rounded(value: Optional[float], digits: int = 1) -> Optional[float]:
    return None if value is None else round(value, digits)


@dataclass
class Tally:
    """The counts of one group; `as_json` turns them into the summary's fields. `add` counts one
    conversation (the definitions); the store's SQL aggregation (analytics/store.py) fills the same
    counts straight from the fact table, and a unit test holds the two to the same numbers."""

    conversations: int = 0
    took_part: int = 0
    contained: int = 0
    handoffs: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    first_response: List[float] = field(default_factory=list)
    first_response_business: List[float] = field(default_factory=list)
    resolution: List[float] = field(default_factory=list)
    resolution_business: List[float] = field(default_factory=list)
    sla_met: Counter[str] = field(default_factory=Counter)
    sla_decided: Counter[str] = field(default_factory=Counter)
    abandoned: int = 0
    resolved: int = 0
    csat_responses: int = 0
    csat_positive: int = 0
    nlu_messages: int = 0
    nlu_fallbacks: int = 0

    def add(self, fact: Fact) -> None:
        self.conversations += 1
        self.took_part += fact.bot_took_part
        self.contained += fact.contained
        self.nlu_messages += fact.nlu_messages
        self.nlu_fallbacks += fact.nlu_fallbacks
        if not fact.handed_off:
            return
        self.handoffs += 1
        self.reasons.update(fact.handoff_reasons)
        for values, value in (
            (self.first_response, fact.first_response_s),
            (self.first_response_business, fact.first_response_business_s),
            (self.resolution, fact.resolution_s),
            (self.resolution_business, fact.resolution_business_s),
        ):
            if value is not None:
                values.append(value)
        for clock in CLOCKS:
            state = fact.sla(clock)
            if state is not None:
                self.sla_decided[clock] += 1
                self.sla_met[clock] += state
        self.abandoned += fact.abandoned
        self.resolved += fact.resolved
        if fact.csat is not None:
            self.csat_responses += 1
            self.csat_positive += fact.csat >= POSITIVE_CSAT_AT_LEAST

    def merge(self, other: "Tally") -> None:
        for name in ("conversations", "took_part", "contained", "handoffs", "abandoned", "resolved"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("csat_responses", "csat_positive", "nlu_messages", "nlu_fallbacks"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("reasons", "sla_met", "sla_decided"):
            getattr(self, name).update(getattr(other, name))
        for name in ("first_response", "first_response_business", "resolution", "resolution_business"):
            getattr(self, name).extend(getattr(other, name))

    def as_json(self, key: str) -> Dict[str, Any]:
        sla = {clock: _rounded(rate(self.sla_met[clock], self.sla_decided[clock]), 4) for clock in CLOCKS}
        return {
            "key": key,
            "conversations": self.conversations,
            "contained": self.contained,
            "containment_rate": _rounded(rate(self.contained, self.took_part), 4),
            "handoffs": self.handoffs,
            "handoff_rate": _rounded(rate(self.handoffs, self.conversations), 4),
            "handoff_reasons": dict(sorted(self.reasons.items())),
            "first_response_p50_s": _rounded(percentile(self.first_response, 0.5)),
            "first_response_p90_s": _rounded(percentile(self.first_response, 0.9)),
            "first_response_p50_business_s": _rounded(percentile(self.first_response_business, 0.5)),
            "first_response_p90_business_s": _rounded(percentile(self.first_response_business, 0.9)),
            "resolution_p50_s": _rounded(percentile(self.resolution, 0.5)),
            "resolution_p90_s": _rounded(percentile(self.resolution, 0.9)),
            "resolution_p50_business_s": _rounded(percentile(self.resolution_business, 0.5)),
            "resolution_p90_business_s": _rounded(percentile(self.resolution_business, 0.9)),
            "sla_attainment": sla,
            "abandoned": self.abandoned,
            "abandonment_rate": _rounded(rate(self.abandoned, self.handoffs), 4),
            "csat_responses": self.csat_responses,
            "csat_positive_rate": _rounded(rate(self.csat_positive, self.csat_responses), 4),
            "csat_response_rate": _rounded(rate(self.csat_responses, self.resolved), 4),
            "fallback_rate": _rounded(rate(self.nlu_fallbacks, self.nlu_messages), 4),
            "nlu_messages": self.nlu_messages,
            "nlu_fallbacks": self.nlu_fallbacks,
        }


def group_key(fact: Fact, by: str) -> str:
    if by == "queue":
        return fact.queue or NO_QUEUE
    if by == "hour":
        return f"{fact.hour:02d}"
    return str(getattr(fact, by))


def _days(first: date, last: date) -> List[str]:
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _key_order(by: str, first: date, last: date) -> List[str]:
    """Keys always shown for a slice (in their natural order), even with no conversations."""
    return {
        "tier": [t.value for t in Tier][::-1],  # vip first
        "satisfaction": list(SATISFACTIONS),
        "channel": list(CHANNELS),
        "day": _days(first, last),
        "hour": [f"{h:02d}" for h in range(24)],
    }.get(by, [])


def tallies(facts: Iterable[Fact], by: str) -> Dict[str, Tally]:
    """Per group key of the slice `by`, the tally of `facts`."""
    if by not in SLICES:
        raise ValueError(f"by must be one of {', '.join(SLICES)}")
    groups: Dict[str, Tally] = {}
    for fact in facts:
        key = "total" if by == "none" else group_key(fact, by)
        tally = groups.get(key)
        if tally is None:
            tally = groups[key] = Tally()
        tally.add(fact)
    return groups


def summarize(facts: Iterable[Fact], by: str, first: date, last: date) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """The total and the groups of the slice `by` (SLICES) over `facts` (already in the date range)."""
    return summary_of(tallies(facts, by), by, first, last)


def summary_of(
    groups: Dict[str, Tally], by: str, first: date, last: date
) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """The total and the groups of the slice `by`, from each group's tally."""
    if by not in SLICES:
        raise ValueError(f"by must be one of {', '.join(SLICES)}")
    total = Tally()
    for tally in groups.values():
        total.merge(tally)
    if by == "none":
        return total.as_json("total"), []
    known = _key_order(by, first, last)
    keys = known + sorted(k for k in groups if k not in known)
    return total.as_json("total"), [groups.get(k, Tally()).as_json(k) for k in keys]


# --- drill-down: the conversations behind a number --------------------------------------------------

METRICS: Dict[str, Callable[[Fact], bool]] = {
    "conversations": lambda f: True,
    "contained": lambda f: f.contained,
    "handoffs": lambda f: f.handed_off,
    "abandoned": lambda f: f.handed_off and f.abandoned,
    "csat_responses": lambda f: f.handed_off and f.csat is not None,
    "csat_positive": lambda f: f.handed_off and f.csat is not None and f.csat >= POSITIVE_CSAT_AT_LEAST,
    "first_response_sla_missed": lambda f: f.handed_off and f.sla_first_response is False,
    "next_response_sla_missed": lambda f: f.handed_off and f.sla_next_response is False,
    "resolution_sla_missed": lambda f: f.handed_off and f.sla_resolution is False,
    "fallbacks": lambda f: f.nlu_fallbacks > 0,  # conversations with at least one
}


def metric_filter(metric: str) -> Callable[[Fact], bool]:
    """The predicate of a drill-down metric (METRICS, or `reason:<code>`); ValueError when unknown."""
    if metric.startswith("reason:") and len(metric) > len("reason:"):
        code = metric.split(":", 1)[1]
        return lambda f: f.handed_off and code in f.handoff_reasons
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)} or reason:<code>")
    return METRICS[metric]


def drill_down(facts: Iterable[Fact], by: str, key: str, metric: str) -> List[Fact]:
    """The conversations behind one number of the summary: in group `key` of slice `by` (or "total"),
    those that `metric` counts."""
    counted = metric_filter(metric)
    return [f for f in facts if (key == "total" or group_key(f, by) == key) and counted(f)]


def fact_json(fact: Fact) -> Dict[str, Any]:
    """A conversation's row in a drill-down list."""
    return {
        "conversation_id": fact.conversation_id,
        "started_at": fact.started_at.isoformat(),
        "tier": fact.tier,
        "journey_stage": fact.journey_stage,
        "queue": fact.queue,
        "satisfaction": fact.satisfaction,
        "channel": fact.channel,
        "contained": fact.contained,
        "handoff_id": fact.handoff_id,
        "handoff_reasons": list(fact.handoff_reasons),
        "first_response_s": _rounded(fact.first_response_s),
        "resolution_s": _rounded(fact.resolution_s),
        "sla": {clock: fact.sla(clock) for clock in CLOCKS},
        "abandoned": fact.abandoned,
        "csat": fact.csat,
        "seeded": fact.seeded,
    }


def flat_row(group: Dict[str, Any], reason_codes: Sequence[str]) -> Dict[str, object]:
    """A summary group as one CSV row: sla_attainment.<clock>, reason:<code>."""
    row: Dict[str, object] = {}
    for name in SUMMARY_FIELDS:
        if name == "sla_attainment":
            row.update({f"sla_attainment.{clock}": group[name][clock] for clock in CLOCKS})
        elif name == "handoff_reasons":
            row.update({f"reason:{code}": group[name].get(code, 0) for code in reason_codes})
        else:
            row[name] = group[name]
    return row
