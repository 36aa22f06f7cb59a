"""A discrete-event simulation of a support day: first-come-first-served routing next to this product's
routing, on exactly the same arrivals, patience and handle times, at the same staffing.

What runs is the product's own code, imported, never copied: the escalation policy
(`escalation.core.policy.decide`) decides for every arriving conversation whether it stays with the bot,
goes to self-service, is offered a callback or ticket, or is handed over (queue, priority, SLA, channel),
from an honest queue state (`escalation.core.routing.queue_waits` over the simulated agents, line and
measured handle times, as `Router.queue_state` computes it); the product's routing is
`escalation.core.routing.plan_assignments`, called as `Router.assign_waiting` calls it: when a chat is
queued (only that chat is assigned then), when an agent frees a slot or starts a shift, and on the
5-second upkeep timer, with the rules' reserved slots. FIFO, a plain first-come-first-served helpdesk, gives
the oldest waiting chat to an eligible agent with room, chosen with the product's own `choose_agent`
(fewest open chats, then longest since the last assignment), without reserved slots: the order and the
reserve differ, nothing else.

Run `python -m bench.routing_simulation` (the full day: 50,000 conversations, 200 agents; writes
bench/reports/routing_simulation.md and its charts) or with `--quick` (a small day, printed only).
"""

from __future__ import annotations

import argparse
import heapq
import math
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Deque, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from bench.common import REPORTS_DIR, write_report
from common.names import HandoffChannel, Intent, JourneyStage, ReasonCode, Tier
from escalation.core.policy import (
    HANDOVER,
    OFFER_OPTIONS,
    SELF_SERVICE,
    STAY,
    CustomerView,
    Decision,
    QueueState,
    Signals,
    decide,
)
from escalation.core.routing import (
    NO_RESERVE,
    OFFLINE,
    ONLINE,
    AgentLoad,
    WaitingHandoff,
    median_handle_seconds,
    plan_assignments,
    queue_waits,
    urgency_key,
)
from escalation.core.rules import Rules
from escalation.rules_file import SHIPPED_RULES_FILE, load_rules

PRODUCT, FIFO = "product", "FIFO"
TIERS = (Tier.VIP.value, Tier.PREMIUM.value, Tier.STANDARD.value, Tier.FREE.value, Tier.ANONYMOUS.value)
# The live product's constants the simulation mirrors (escalation/web/app.py QUEUE_UPKEEP_SECONDS, the
# default limit of HandoffQueue.waiting_chats, HandoffQueue.handle_times' window): not imported, because
# those modules need the web server and the database.
UPKEEP_SECONDS = 5.0
WAITING_LIMIT = 5000
HANDLE_WINDOW = 50
# "Dissatisfied" in this simulation: the conversation's latest message at or below this sentiment, or its
# frustration at or above this (the standard tier's handover thresholds in the shipped rules), or an
# unhappy history (NPS detractor or a low last CSAT, with the rules' own cut-offs).
DISSATISFIED_SENTIMENT = -0.5
DISSATISFIED_FRUSTRATION = 0.6
COMPETITOR_TEXTS = ("honestly I'll just order from ikea", "wayfair has it cheaper", "amazon delivers tomorrow")
FAQ_TOPICS = ("faq/order_status", "faq/returns", "faq/delivery_time", "faq/assembly", "faq/warranty")


# --- The scenario ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    name: str
    share: float  # of the agents
    queues: Tuple[str, ...]
    capacity: int  # concurrent chats


@dataclass(frozen=True)
class Scenario:
    """One support day. Every number is an assumption stated in the report; none is measured."""

    name: str = "full"
    conversations: int = 50_000  # conversations with the bot that day
    agents: int = 200
    seed: int = 20261124
    day: date = date(2026, 11, 24)  # a Tuesday: the shipped rules' hours are 08:00-20:00
    # Relative arrivals per local hour 0..23 (a web shop's chat: quiet at night, a late-morning and an
    # early-afternoon peak, tailing off in the evening).
    hourly_profile: Tuple[float, ...] = (
        0.5, 0.3, 0.2, 0.2, 0.2, 0.4, 0.8, 1.6, 4.0, 6.5, 8.0, 8.6,
        8.0, 8.4, 8.6, 8.0, 7.0, 5.8, 4.6, 3.8, 3.0, 2.2, 1.4, 0.8,
    )  # fmt: skip
    # The day is not the forecast: from `surge_hours`, arrivals run at `surge_factor` times the profile
    # (say, a carrier's outage), which the shifts were not planned for.
    surge_hours: Tuple[float, float] = (13.0, 15.0)
    surge_factor: float = 1.5
    tier_mix: Tuple[Tuple[str, float], ...] = (
        (Tier.VIP.value, 0.03),
        (Tier.PREMIUM.value, 0.12),
        (Tier.STANDARD.value, 0.33),
        (Tier.FREE.value, 0.22),
        (Tier.ANONYMOUS.value, 0.30),
    )
    stage_mix: Tuple[Tuple[str, float], ...] = (  # known customers; anonymous visitors are "unknown"
        (JourneyStage.BUYING.value, 0.12),
        (JourneyStage.ONBOARDING.value, 0.12),
        (JourneyStage.ACTIVE.value, 0.56),
        (JourneyStage.AT_RISK.value, 0.12),
        (JourneyStage.LAPSED.value, 0.08),
    )
    unhappy_history_share: float = 0.15  # of known customers: NPS detractor or last CSAT <= 2
    needs_person_share: float = 0.75  # conversations with a sign the bot cannot help; the rest are calm
    # What the sign is, for those (the policy decides what it means for each segment).
    trouble_mix: Tuple[Tuple[str, float], ...] = (
        ("asks_for_person", 0.34),
        ("negative", 0.26),
        ("not_understood", 0.14),
        ("wants_to_cancel", 0.07),
        ("mentions_competitor", 0.03),
        ("checkout_problem", 0.10),
        ("long_conversation", 0.06),
    )
    # Patience: how long a customer waits in line before leaving: lognormal with this mean (minutes) and
    # `patience_sigma` (1.0: the median is 0.61 times the mean); 0 means exponential.
    patience_minutes: Tuple[Tuple[str, float], ...] = (
        (Tier.VIP.value, 4.0),
        (Tier.PREMIUM.value, 6.0),
        (Tier.STANDARD.value, 8.0),
        (Tier.FREE.value, 10.0),
        (Tier.ANONYMOUS.value, 6.0),
    )
    patience_sigma: float = 1.0
    leaves_window_open_share: float = 0.3  # who leave without closing the window ("are you still there?")
    # Handle time: lognormal, this median per queue (minutes), this sigma; the same draw in both routings.
    handle_median_minutes: Tuple[Tuple[str, float], ...] = (
        ("concierge", 9.0),
        ("retention", 10.0),
        ("sales", 8.0),
        ("general", 7.5),
    )
    handle_sigma: float = 0.6
    ghost_handle_seconds: float = 60.0  # an agent given a chat whose customer has already left closes it
    teams: Tuple[Team, ...] = (
        Team("concierge", 0.15, ("concierge", "retention", "sales", "general"), 2),
        Team("retention", 0.15, ("retention", "general"), 3),
        Team("sales", 0.12, ("sales", "general"), 3),
        Team("general", 0.58, ("general",), 3),
    )
    # Shifts (local hours: start, end, share of every team): full-timers (8 h) and part-timers (4.5 h),
    # sized to follow the arrival curve over the shipped rules' opening hours (08:00-20:00); the evening
    # shift stays 30 minutes after the close to answer who is still in line.
    shifts: Tuple[Tuple[float, float, float], ...] = (
        (8.0, 16.0, 0.34),
        (9.0, 17.0, 0.14),
        (10.0, 18.0, 0.08),
        (11.0, 19.0, 0.06),
        (9.0, 13.5, 0.03),
        (10.0, 14.5, 0.04),
        (14.0, 18.5, 0.03),
        (16.0, 20.5, 0.28),
    )

    def handle_median(self, queue: str) -> float:
        return dict(self.handle_median_minutes)[queue] * 60


FULL = Scenario()
QUICK = replace(FULL, name="quick", conversations=10_000, agents=40)


@dataclass(frozen=True)
class Conversation:
    index: int
    id: str
    arrival: float  # seconds since the day's local midnight
    customer: CustomerView
    signals: Signals
    patience: float  # seconds
    handle_z: float  # standard normal: the handle time's draw, whatever the queue
    leaves_window_open: bool
    dissatisfied: bool

    def handle_seconds(self, scenario: Scenario, queue: str) -> float:
        return scenario.handle_median(queue) * math.exp(scenario.handle_sigma * self.handle_z)


@dataclass(frozen=True)
class AgentSpec:
    name: str
    team: str
    queues: Tuple[str, ...]
    capacity: int
    shift_start: float  # seconds since local midnight
    shift_end: float


def _pick(rng: np.random.Generator, mix: Sequence[Tuple[str, float]], size: int) -> np.ndarray:
    names = [name for name, _ in mix]
    weights = np.array([w for _, w in mix], dtype=float)
    return np.array(names, dtype=object)[rng.choice(len(names), size=size, p=weights / weights.sum())]


def generate_day(scenario: Scenario, rules: Rules) -> List[Conversation]:
    """The day's conversations in arrival order; the same scenario (and seed) gives the same day."""
    rng = np.random.default_rng(scenario.seed)
    n = scenario.conversations
    profile = np.array(scenario.hourly_profile, dtype=float)
    # Arrivals: a Poisson process with the hourly rates, conditioned on the day's total, in quarter hours
    # so that the surge can start and end on the quarter.
    quarters = np.repeat(profile, 4)
    start, end = scenario.surge_hours
    quarters[int(start * 4) : int(end * 4)] *= scenario.surge_factor
    slots = rng.choice(96, size=n, p=quarters / quarters.sum())
    arrivals = np.sort(slots * 900.0 + rng.uniform(0, 900, size=n))
    tiers = _pick(rng, scenario.tier_mix, n)
    stages = _pick(rng, scenario.stage_mix, n)
    unhappy = rng.random(n) < scenario.unhappy_history_share
    unhappy_kind = rng.random(n)  # < 0.5: detractor; else low CSAT (both when < 0.2)
    csat_known, nps_known = rng.random(n) < 0.6, rng.random(n) < 0.4
    happy_csat = rng.choice([3, 4, 5], size=n, p=[0.2, 0.4, 0.4])
    happy_nps = rng.choice(np.arange(rules.detractor_nps_at_most + 1, 11), size=n)
    low_csat = rng.integers(1, rules.low_csat_at_most + 1, size=n)
    detractor_nps = rng.integers(0, rules.detractor_nps_at_most + 1, size=n)
    needs = rng.random(n) < scenario.needs_person_share
    kinds = _pick(rng, scenario.trouble_mix, n)
    normal, uniform, uniform2 = rng.standard_normal(n), rng.random(n), rng.random(n)
    noise = rng.normal(0.05, 0.08, size=n)
    fallbacks_drawn = 1 + rng.geometric(0.5, size=n)
    turns_short, turns_long = rng.integers(2, 9, size=n), rng.integers(10, 36, size=n)
    topics = rng.integers(0, len(FAQ_TOPICS), size=n)
    buying_picks = rng.integers(0, len(rules.buying_intents or ("purchase_inquiry",)), size=n)
    patience_mean = dict(scenario.patience_minutes)
    if scenario.patience_sigma > 0:  # lognormal with mean 1
        sigma = scenario.patience_sigma
        patience_unit = np.exp(sigma * rng.standard_normal(n) - sigma * sigma / 2)
    else:
        patience_unit = rng.exponential(1.0, size=n)
    handle_z = rng.standard_normal(n)
    open_window = rng.random(n) < scenario.leaves_window_open_share

    conversations = []
    for i in range(n):
        tier = str(tiers[i])
        known = tier != Tier.ANONYMOUS.value
        stage = str(stages[i]) if known else JourneyStage.UNKNOWN.value
        csat: Optional[int] = int(happy_csat[i]) if known and csat_known[i] else None
        nps: Optional[int] = int(happy_nps[i]) if known and nps_known[i] else None
        if known and unhappy[i]:
            if unhappy_kind[i] < 0.5:
                nps = int(detractor_nps[i])
            if unhappy_kind[i] >= 0.5 or unhappy_kind[i] < 0.2:
                csat = int(low_csat[i])
        customer = CustomerView(tier, stage, csat, nps, "chat")
        signals = _signals(
            str(kinds[i]) if needs[i] else "calm",
            normal[i],
            uniform[i],
            uniform2[i],
            noise[i],
            int(fallbacks_drawn[i]),
            int(turns_short[i]),
            int(turns_long[i]),
            FAQ_TOPICS[topics[i]],
            (rules.buying_intents or ("purchase_inquiry",))[buying_picks[i]],
        )
        history = (nps is not None and nps <= rules.detractor_nps_at_most) or (
            csat is not None and csat <= rules.low_csat_at_most
        )
        dissatisfied = (
            signals.sentiment <= DISSATISFIED_SENTIMENT or signals.frustration >= DISSATISFIED_FRUSTRATION or history
        )
        conversations.append(
            Conversation(
                i,
                f"c{i:06d}",
                float(arrivals[i]),
                customer,
                signals,
                float(patience_unit[i] * patience_mean[tier] * 60),
                float(handle_z[i]),
                bool(open_window[i]),
                bool(dissatisfied),
            )
        )
    return conversations


def _signals(
    kind: str,
    normal: float,
    uniform: float,
    uniform2: float,
    noise: float,
    fallbacks: int,
    turns_short: int,
    turns_long: int,
    topic: str,
    buying_intent: str,
) -> Signals:
    """A conversation's signals for the policy. Calm ones: an FAQ, a neutral-to-positive message, no
    misunderstanding; the troubled ones by what the trouble is."""
    if kind == "calm":
        return Signals(topic, "", round(0.8 * uniform, 3), round(0.1 * uniform2, 3), 0, turns_short)
    intent, text, turns, misunderstood = topic, "", turns_short, 0
    if kind == "negative":
        sentiment = -0.25 - 0.7 * uniform  # -0.25 .. -0.95
    else:
        sentiment = float(np.clip(-0.1 + 0.3 * normal, -0.95, 0.6))
    if kind == "asks_for_person":
        intent = Intent.REQUEST_HUMAN
    elif kind == "not_understood":
        intent, misunderstood = Intent.NLU_FALLBACK, fallbacks
    elif kind == "wants_to_cancel":
        intent = "cancel_subscription"
    elif kind == "mentions_competitor":
        text = COMPETITOR_TEXTS[int(uniform2 * len(COMPETITOR_TEXTS))]
    elif kind == "checkout_problem":
        intent = buying_intent
    elif kind == "long_conversation":
        turns = turns_long
    frustration = float(np.clip(0.6 * max(0.0, -sentiment) + 0.08 * misunderstood + noise, 0.0, 1.0))
    return Signals(intent, text, round(sentiment, 3), round(frustration, 3), misunderstood, turns)


def roster(scenario: Scenario) -> List[AgentSpec]:
    """The agents: each team's share of the headcount, spread over the shifts (largest remainder, so
    every team is on every shift once it has as many people as there are shifts)."""
    counts = _largest_remainder(scenario.agents, [team.share for team in scenario.teams])
    agents = []
    for team, count in zip(scenario.teams, counts):
        per_shift = _largest_remainder(count, [share for _, _, share in scenario.shifts])
        number = 0
        for (start, end, _), people in zip(scenario.shifts, per_shift):
            for _ in range(people):
                number += 1
                agents.append(AgentSpec(f"{team.name}-{number:03d}", team.name, team.queues, team.capacity,
                                        start * 3600, end * 3600))  # fmt: skip
    return agents


def _largest_remainder(total: int, shares: Sequence[float]) -> List[int]:
    exact = [total * s / sum(shares) for s in shares]
    counts = [int(x) for x in exact]
    for index in sorted(range(len(shares)), key=lambda i: counts[i] - exact[i])[: total - sum(counts)]:
        counts[index] += 1
    return counts


# --- The simulation ------------------------------------------------------------------------------------

# Event kinds, in the order events at the same instant are handled.
SHIFT_START, CHAT_END, ARRIVAL, TICK, LEAVE, GONE, SHIFT_END = range(7)


@dataclass
class PlanCall:
    seconds: float
    waiting: int
    assignments: int  # pairs planned
    trigger: str
    applied: int = 0  # of those, assigned (when a chat is queued, only that chat is)
    at: float = 0.0  # seconds since local midnight


@dataclass
class Run:
    """One routing's day: what happened to every conversation, and the log to check it by."""

    routing: str
    scenario: Scenario
    conversations: List[Conversation]
    agents: List[AgentSpec]
    decisions: List[Decision]
    joined: np.ndarray  # bool: queued as a live chat
    assigned_at: np.ndarray  # seconds, nan: never
    left_at: np.ndarray  # seconds the customer gave up, nan: never
    ghost: np.ndarray  # bool: assigned after the customer had left
    chats: List[Tuple[int, int, float, float]]  # (agent index, conversation index, start, end)
    events: List[Tuple[float, str, str, str]]  # (seconds, kind, conversation id, agent)
    plan_calls: List[PlanCall] = field(default_factory=list)
    decide_seconds: float = 0.0
    wall_seconds: float = 0.0
    truncated_calls: int = 0  # calls where more than WAITING_LIMIT chats waited


def _detected_at(scenario: Scenario, rules: Rules, conversation: Conversation, left: float) -> float:
    """When the product notices that a waiting customer left: 90 s after the window closed, or for who
    left it open, the grace after the first "are you still there?" they no longer answered; at the next
    upkeep round."""
    routing = rules.routing
    if not conversation.leaves_window_open:
        seen = left + routing.customer_gone_seconds
    else:
        asks = max(1, math.ceil((left - conversation.arrival) / routing.still_there_after_seconds))
        seen = conversation.arrival + asks * routing.still_there_after_seconds + routing.still_there_grace_seconds
    return math.ceil(seen / UPKEEP_SECONDS) * UPKEEP_SECONDS


def arrival_order(handoff: WaitingHandoff) -> Tuple[datetime, str]:
    return (handoff.created_at, handoff.id)


def fifo_plan(
    waiting: Sequence[WaitingHandoff], agents: Sequence[AgentLoad], now: datetime, push_queues: Iterable[str]
) -> List[Tuple[str, str]]:
    """First come, first served: the product's own plan_assignments (eligibility, choose_agent, loads
    updated as the plan goes) with the waiting chats in arrival order instead of by urgency."""
    return plan_assignments(waiting, agents, now, push_queues, order=arrival_order)


def simulate(
    scenario: Scenario,
    rules: Rules,
    conversations: List[Conversation],
    agents: List[AgentSpec],
    routing: str,
    decisions: Optional[Sequence[Decision]] = None,
    keep_log: bool = True,
    skip_idle: bool = False,
) -> Run:
    """One day with `routing` (PRODUCT or FIFO). Without `decisions`, the policy decides for every
    conversation at its arrival from this run's queue state; with them (the product run's), it doesn't.
    `skip_idle` leaves out the routing calls that cannot assign anything (no online agent with a free slot
    serves a queue anyone waits in): the day is the same, only faster; the timed run keeps every call."""
    started = time.perf_counter()
    local_midnight = datetime.combine(scenario.day, datetime.min.time(), tzinfo=rules.timezone)
    day0 = local_midnight.astimezone(timezone.utc)
    queues, push_queues = rules.queues, rules.routing.push_queues(rules.queues)
    n = len(conversations)
    joined = np.zeros(n, dtype=bool)
    assigned_at = np.full(n, np.nan)
    left_at = np.full(n, np.nan)
    ghost = np.zeros(n, dtype=bool)
    decided: List[Optional[Decision]] = list(decisions) if decisions is not None else [None] * n
    by_name = {spec.name: index for index, spec in enumerate(agents)}
    open_now = [0] * len(agents)
    open_queues: List[Dict[str, int]] = [{} for _ in agents]  # per agent: open chats per queue
    reserved = rules.routing.reserved_slots
    on_shift = [False] * len(agents)
    last_assigned: List[Optional[datetime]] = [None] * len(agents)
    loads = [AgentLoad(a.name, a.queues, a.capacity, 0, OFFLINE, None) for a in agents]
    waiting: Dict[str, WaitingHandoff] = {}  # by id, in arrival order
    waiting_index: Dict[str, int] = {}
    waiting_per_queue: Dict[str, int] = {q: 0 for q in queues}
    handle_samples: Dict[str, Deque[float]] = {q: deque(maxlen=HANDLE_WINDOW) for q in queues}
    chats: List[Tuple[int, int, float, float]] = []
    events: List[Tuple[float, str, str, str]] = []
    run = Run(routing, scenario, conversations, agents, [], joined, assigned_at, left_at, ghost, chats, events)
    heap: List[Tuple[float, int, int, int, int]] = []  # (time, kind, sequence, conversation, agent)
    sequence = 0

    def push(at: float, kind: int, conversation: int = -1, agent: int = -1) -> None:
        nonlocal sequence
        sequence += 1
        heapq.heappush(heap, (at, kind, sequence, conversation, agent))

    def log(at: float, kind: str, conversation: int = -1, agent: int = -1) -> None:
        if keep_log:
            events.append(
                (
                    at,
                    kind,
                    conversations[conversation].id if conversation >= 0 else "",
                    agents[agent].name if agent >= 0 else "",
                )
            )

    def refresh(agent: int) -> None:
        spec = agents[agent]
        presence = ONLINE if on_shift[agent] else OFFLINE
        loads[agent] = AgentLoad(
            spec.name,
            spec.queues,
            spec.capacity,
            open_now[agent],
            presence,
            last_assigned[agent],
            dict(open_queues[agent]),
        )

    def queue_state() -> QueueState:
        handle = {
            q: median_handle_seconds(list(handle_samples[q]), rules.routing.default_handle_seconds) for q in queues
        }
        waits, available, online = queue_waits(queues, loads, waiting_per_queue, handle, reserved)
        return QueueState(waits, available, online)

    def assign(handoff_id: str, agent: int, now: float, now_dt: datetime) -> None:
        handoff = waiting.pop(handoff_id)
        waiting_per_queue[handoff.queue] -= 1
        index = waiting_index.pop(handoff_id)
        open_now[agent] += 1
        open_queues[agent][handoff.queue] = open_queues[agent].get(handoff.queue, 0) + 1
        last_assigned[agent] = now_dt
        refresh(agent)
        assigned_at[index] = now
        gone = not math.isnan(left_at[index])
        ghost[index] = gone
        conversation = conversations[index]
        duration = scenario.ghost_handle_seconds if gone else conversation.handle_seconds(scenario, handoff.queue)
        chats.append((agent, index, now, now + duration))
        log(now, "assigned", index, agent)
        push(now + duration, CHAT_END, index, agent)

    def route(now: float, trigger: str, only: Optional[str] = None) -> None:
        if not waiting:
            return  # the product returns before planning when nothing waits
        if skip_idle and not any(
            waiting_per_queue[q] > 0
            for load in loads
            if load.presence == ONLINE and load.free_slots
            for q in load.queues
        ):
            return
        now_dt = day0 + timedelta(seconds=now)
        views = list(waiting.values())
        if len(views) > WAITING_LIMIT:  # the product reads at most this many, in its queue order
            run.truncated_calls += 1
            order = urgency_key if routing == PRODUCT else (lambda h: (h.created_at, h.id))
            views = sorted(views, key=order)[:WAITING_LIMIT]
        if routing == PRODUCT:
            tick = time.perf_counter()
            plan = plan_assignments(views, loads, now_dt, push_queues, reserved=reserved)
            call = PlanCall(time.perf_counter() - tick, len(views), len(plan), trigger, at=now)
            run.plan_calls.append(call)
        else:
            plan = fifo_plan(views, loads, now_dt, push_queues)
        for handoff_id, name in plan:
            if only is None or handoff_id == only:
                assign(handoff_id, by_name[name], now, now_dt)
                if routing == PRODUCT:
                    call.applied += 1

    for index, conversation in enumerate(conversations):
        push(conversation.arrival, ARRIVAL, index)
    for index, spec in enumerate(agents):
        push(spec.shift_start, SHIFT_START, agent=index)
        push(spec.shift_end, SHIFT_END, agent=index)
    first_tick = min(spec.shift_start for spec in agents) if agents else 0.0
    last_tick = max(spec.shift_end for spec in agents) if agents else 0.0
    push(first_tick, TICK)

    while heap:
        now, kind, _, index, agent = heapq.heappop(heap)
        if kind == ARRIVAL:
            conversation = conversations[index]
            decision = decided[index]
            if decision is None:
                now_dt = day0 + timedelta(seconds=now)
                tick = time.perf_counter()
                decision = decide(conversation.customer, conversation.signals, queue_state(), now_dt, rules)
                run.decide_seconds += time.perf_counter() - tick
                decided[index] = decision
            log(now, "arrival", index)
            if decision.action == HANDOVER and decision.channel == HandoffChannel.LIVE_CHAT:
                joined[index] = True
                created = day0 + timedelta(seconds=now)
                handoff = WaitingHandoff(
                    conversation.id,
                    str(decision.queue),
                    decision.priority,
                    created + timedelta(seconds=decision.sla_seconds),
                    created,
                )
                waiting[handoff.id] = handoff
                waiting_index[handoff.id] = index
                waiting_per_queue[handoff.queue] += 1
                log(now, "queued", index)
                push(now + conversation.patience, LEAVE, index)
                route(now, "chat queued", only=handoff.id)
        elif kind == CHAT_END:
            decision = decided[index]
            assert decision is not None and decision.queue is not None
            open_now[agent] -= 1
            open_queues[agent][decision.queue] -= 1
            refresh(agent)
            start = assigned_at[index]
            handle_samples[decision.queue].append(now - start)
            log(now, "chat_end", index, agent)
            route(now, "slot freed")
        elif kind == LEAVE:
            if math.isnan(assigned_at[index]):
                left_at[index] = now
                log(now, "customer_left", index)
                push(_detected_at(scenario, rules, conversations[index], now), GONE, index)
        elif kind == GONE:
            handoff_id = conversations[index].id
            if handoff_id in waiting:
                handoff = waiting.pop(handoff_id)
                waiting_index.pop(handoff_id)
                waiting_per_queue[handoff.queue] -= 1
                log(now, "abandoned", index)
        elif kind == SHIFT_START:
            on_shift[agent] = True
            refresh(agent)
            log(now, "shift_start", agent=agent)
            route(now, "shift start")
        elif kind == SHIFT_END:
            on_shift[agent] = False
            refresh(agent)
            log(now, "shift_end", agent=agent)
        elif kind == TICK:
            route(now, "upkeep timer")
            if now + UPKEEP_SECONDS <= last_tick:
                push(now + UPKEEP_SECONDS, TICK)
    run.decisions = [d for d in decided if d is not None]
    run.wall_seconds = time.perf_counter() - started
    return run


# --- What happened ---------------------------------------------------------------------------------------


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def metrics(run: Run) -> Dict[str, Any]:
    """Every number the report shows for one routing."""
    conversations, decisions = run.conversations, run.decisions
    arrival = np.array([c.arrival for c in conversations])
    tiers = np.array([c.customer.tier for c in conversations], dtype=object)
    sla = np.array([d.sla_seconds for d in decisions], dtype=float)
    unhappy = np.array([c.dissatisfied for c in conversations])
    joined = run.joined
    served = joined & ~np.isnan(run.assigned_at) & ~run.ghost
    abandoned = joined & ~served
    first_response = run.assigned_at - arrival
    # Time in line until a person answered, or until the customer gave up (a lower bound of their wait).
    in_line = np.where(served, first_response, run.left_at - arrival)
    met = served & (first_response <= sla)
    per_tier = {}
    for tier in TIERS:
        mask = joined & (tiers == tier)
        count = int(mask.sum())
        per_tier[tier] = {
            "queued": count,
            "sla_attainment": float(met[mask].mean()) if count else float("nan"),
            "abandonment": float(abandoned[mask].mean()) if count else float("nan"),
            "mean_wait": float(in_line[mask].mean()) if count else float("nan"),
            "p90_wait": _percentile(in_line[mask], 90),
            "sla_minutes": float(sla[mask][0] / 60) if count else float("nan"),
        }

    def waits(mask: np.ndarray) -> Dict[str, float]:
        return {
            "count": int(mask.sum()),
            "mean": float(in_line[mask].mean()) if mask.any() else float("nan"),
            "p90": _percentile(in_line[mask], 90),
            "served_mean": float(first_response[mask & served].mean()) if (mask & served).any() else float("nan"),
            "served_p90": _percentile(first_response[mask & served], 90),
            "abandonment": float(abandoned[mask].mean()) if mask.any() else float("nan"),
        }

    busy = overtime = 0.0
    for agent, _, start, end in run.chats:
        spec = run.agents[agent]
        inside = max(0.0, min(end, spec.shift_end) - max(start, spec.shift_start))
        busy += inside
        overtime += (end - start) - inside
    available = sum(spec.capacity * (spec.shift_end - spec.shift_start) for spec in run.agents)
    hourly_p90 = []
    for hour in range(24):
        mask = joined & (arrival >= hour * 3600) & (arrival < (hour + 1) * 3600)
        hourly_p90.append(_percentile(in_line[mask], 90))
    return {
        "queued": int(joined.sum()),
        "served": int(served.sum()),
        "abandoned": int(abandoned.sum()),
        "ghost_assignments": int((joined & run.ghost).sum()),
        "abandonment": float(abandoned.sum() / max(1, joined.sum())),
        "per_tier": per_tier,
        "dissatisfied": waits(joined & unhappy),
        "everyone": waits(joined),
        "utilisation": busy / available if available else float("nan"),
        "overtime_slot_hours": overtime / 3600,
        "hourly_p90_wait": hourly_p90,
    }


def decision_counts(run: Run) -> Dict[str, int]:
    """What the policy decided for the day's conversations (the same for both routings)."""
    counts: Dict[str, int] = {}
    for decision in run.decisions:
        codes = {reason.code for reason in decision.reasons}
        if decision.action == HANDOVER:
            key = "handed over: live chat" if decision.channel == HandoffChannel.LIVE_CHAT else "handed over: ticket"
        elif decision.action == OFFER_OPTIONS:
            if ReasonCode.OUTSIDE_BUSINESS_HOURS in codes:
                key = "offered a callback or ticket: outside business hours"
            elif ReasonCode.WAIT_EXCEEDS_SLA in codes:
                key = "offered a callback or ticket: expected wait over the SLA"
            else:
                key = "offered a callback or ticket: nobody online for the queue"
        else:
            key = {STAY: "stays with the bot", SELF_SERVICE: "self-service first"}.get(decision.action, decision.action)
        counts[key] = counts.get(key, 0) + 1
        if ReasonCode.BUSY_BUT_STRAIGHT_THROUGH in codes:
            key = "(of the live chats: queue busy but straight through)"
            counts[key] = counts.get(key, 0) + 1
    return counts


def run_day(
    scenario: Scenario, rules: Optional[Rules] = None, keep_log: bool = True, skip_idle: bool = False
) -> Tuple[Run, Run]:
    """The product's routing, then FIFO on the same conversations with the product run's decisions."""
    rules = rules or load_rules(SHIPPED_RULES_FILE)
    conversations = generate_day(scenario, rules)
    agents = roster(scenario)
    product = simulate(scenario, rules, conversations, agents, PRODUCT, keep_log=keep_log, skip_idle=skip_idle)
    fifo = simulate(
        scenario,
        rules,
        conversations,
        agents,
        FIFO,
        decisions=product.decisions,
        keep_log=keep_log,
        skip_idle=skip_idle,
    )
    return product, fifo


def hourly_load(product: Run, fifo: Run) -> List[Dict[str, float]]:
    """Per opening hour: arrivals, live chats queued, the load they bring (Erlangs: chats an agent
    would have open at once on average), the slots online at the half hour, and the p90 time in line."""
    scenario = product.scenario
    arrival = np.array([c.arrival for c in product.conversations])
    handle = np.array(
        [
            c.handle_seconds(scenario, d.queue) if d.queue else 0.0
            for c, d in zip(product.conversations, product.decisions)
        ]
    )
    p90 = {run.routing: metrics(run)["hourly_p90_wait"] for run in (product, fifo)}
    rows = []
    for hour in range(8, 21):
        in_hour = (arrival >= hour * 3600) & (arrival < (hour + 1) * 3600)
        middle = hour * 3600 + 1800
        online = [a for a in product.agents if a.shift_start <= middle < a.shift_end]
        slots = sum(a.capacity for a in online)
        load = float(handle[in_hour & product.joined].sum() / 3600)
        rows.append(
            {
                "hour": hour,
                "arrivals": int(in_hour.sum()),
                "queued": int((in_hour & product.joined).sum()),
                "load": load,
                "agents": len(online),
                "slots": slots,
                "load_per_slot": load / slots if slots else float("nan"),
                "fifo_p90": p90[FIFO][hour],
                "product_p90": p90[PRODUCT][hour],
            }
        )
    return rows


def plan_timings(run: Run) -> Dict[str, Any]:
    """Time spent inside plan_assignments over the day, per call and per assignment it produced."""
    seconds = np.array([c.seconds for c in run.plan_calls])
    sizes = np.array([c.waiting for c in run.plan_calls])
    assignments = sum(c.assignments for c in run.plan_calls)
    by_trigger: Dict[str, Dict[str, float]] = {}
    for trigger in sorted({c.trigger for c in run.plan_calls}):
        mine = np.array([c.seconds for c in run.plan_calls if c.trigger == trigger])
        by_trigger[trigger] = {
            "calls": len(mine),
            "mean_ms": float(mine.mean() * 1000),
            "assignments": sum(c.assignments for c in run.plan_calls if c.trigger == trigger),
        }
    return {
        "calls": len(seconds),
        "total_seconds": float(seconds.sum()),
        "assignments": assignments,
        "applied": sum(c.applied for c in run.plan_calls),
        "ms_per_assignment": float(seconds.sum() / max(1, assignments) * 1000),
        "call_ms": {
            "median": _percentile(seconds * 1000, 50),
            "p90": _percentile(seconds * 1000, 90),
            "p99": _percentile(seconds * 1000, 99),
            "max": float(seconds.max() * 1000) if len(seconds) else float("nan"),
        },
        "waiting": {
            "median": _percentile(sizes, 50),
            "p90": _percentile(sizes, 90),
            "max": int(sizes.max()) if len(sizes) else 0,
        },
        "by_trigger": by_trigger,
        "decide_seconds": run.decide_seconds,
        "decisions": len(run.decisions),
        "wall_seconds": run.wall_seconds,
        "truncated_calls": run.truncated_calls,
    }


def worst_case_calls(
    agents: Sequence[AgentSpec],
    sizes: Sequence[int] = (10, 100, 1000, 5000),
    reserved: Mapping[str, int] = NO_RESERVE,
) -> Dict[int, float]:
    """Milliseconds per plan_assignments call with every agent online and full (nothing can be assigned,
    the common case in a busy hour) and `size` chats waiting; the best of three."""
    now = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
    rng = np.random.default_rng(1)
    loads = [
        AgentLoad(a.name, a.queues, a.capacity, a.capacity, ONLINE, now - timedelta(seconds=i))
        for i, a in enumerate(agents)
    ]
    queues = sorted({q for a in agents for q in a.queues})
    found = {}
    for size in sizes:
        waiting = [
            WaitingHandoff(
                f"w{j}",
                queues[int(rng.integers(len(queues)))],
                3,
                now + timedelta(seconds=float(rng.uniform(-600, 3600))),
                now - timedelta(seconds=float(rng.uniform(0, 600))),
            )
            for j in range(size)
        ]
        best = float("inf")
        for _ in range(3):
            tick = time.perf_counter()
            plan_assignments(waiting, loads, now, queues, reserved=reserved)
            best = min(best, time.perf_counter() - tick)
        found[size] = best * 1000
    return found


def targets(fifo: Mapping[str, Any], product: Mapping[str, Any]) -> List[Tuple[str, str, str, bool]]:
    """(target, FIFO, product, met) for issue 12's targets."""
    vip = product["per_tier"][Tier.VIP.value]["sla_attainment"]
    unhappy_fifo, unhappy_product = fifo["dissatisfied"]["p90"], product["dissatisfied"]["p90"]
    vip_fifo = fifo["per_tier"][Tier.VIP.value]["sla_attainment"]
    return [
        ("VIP first-response SLA attainment >= 95%", _pct(vip_fifo), _pct(vip), vip >= 0.95),
        (
            "dissatisfied customers' p90 time in line <= half of FIFO's",
            _secs(unhappy_fifo),
            f"{_secs(unhappy_product)} ({unhappy_product / unhappy_fifo:.2f} of FIFO's)",
            unhappy_product <= 0.5 * unhappy_fifo,
        ),
        (
            "overall abandonment no worse than FIFO's",
            f"{100 * fifo['abandonment']:.2f}% ({fifo['abandoned']:,} of {fifo['queued']:,})",
            f"{100 * product['abandonment']:.2f}% ({product['abandoned']:,} of {product['queued']:,})",
            product["abandonment"] <= fifo["abandonment"],
        ),
    ]


def _pct(value: Any) -> str:
    return "n/a" if value != value else f"{100 * float(value):.1f}%"


def _secs(value: Any) -> str:
    number = float(value)
    if number != number:
        return "n/a"
    return f"{number:.0f} s" if number < 120 else f"{number:.0f} s ({number / 60:.1f} min)"


def _met(ok: bool) -> str:
    return "met" if ok else "**MISSED**"


def variants(scenario: Scenario, rules: Rules) -> List[Tuple[str, Scenario, Rules]]:
    """The same question under other assumptions: is the answer a property of the routing or of the
    day we chose? And which of the shipped rules' routing settings the answer rests on."""
    dedicated = tuple(
        replace(team, queues=("concierge",)) if team.name == "concierge" else team for team in scenario.teams
    )
    return [
        ("another day (seed + 1)", replace(scenario, seed=scenario.seed + 1), rules),
        ("another day (seed + 2)", replace(scenario, seed=scenario.seed + 2), rules),
        ("the forecast day: no surge", replace(scenario, surge_factor=1.0), rules),
        ("exponential patience (same means)", replace(scenario, patience_sigma=0.0), rules),
        (
            "half the patience",
            replace(scenario, patience_minutes=tuple((t, m / 2) for t, m in scenario.patience_minutes)),
            rules,
        ),
        (
            f"10% fewer agents ({round(scenario.agents * 0.9)})",
            replace(scenario, agents=round(scenario.agents * 0.9)),
            rules,
        ),
        ("concierge team serves VIPs only", replace(scenario, teams=dedicated), rules),
        (
            "rules without the reserved concierge slot",
            scenario,
            replace(rules, routing=replace(rules.routing, reserved_slots={})),
        ),
        ("rules without the dissatisfied customers' SLA", scenario, replace(rules, dissatisfied_sla_minutes=None)),
    ]


def sensitivity(scenario: Scenario, rules: Rules) -> List[Dict[str, Any]]:
    rows = []
    for name, variant, variant_rules in variants(scenario, rules):
        started = time.perf_counter()
        product, fifo = run_day(variant, variant_rules, keep_log=False, skip_idle=True)
        found = {PRODUCT: metrics(product), FIFO: metrics(fifo)}
        print(f"==> sensitivity: {name} ({time.perf_counter() - started:.0f} s)", flush=True)
        rows.append({"name": name, "metrics": found, "targets": targets(found[FIFO], found[PRODUCT])})
    return rows


# --- The report ------------------------------------------------------------------------------------------


def charts(product: Mapping[str, Any], fifo: Mapping[str, Any], path: Path) -> None:
    """SLA attainment and abandonment per tier, the waits of the dissatisfied and of everyone, and the
    p90 time in line by hour: FIFO next to the product's routing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = {FIFO: fifo, PRODUCT: product}
    colours = {FIFO: "#9e9e9e", PRODUCT: "#1f77b4"}
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    x = np.arange(len(TIERS))
    for panel, key, title in (
        (axes[0][0], "sla_attainment", "First-response SLA attainment per tier (abandoned = missed)"),
        (axes[0][1], "abandonment", "Abandonment per tier"),
    ):
        for offset, routing in ((-0.2, FIFO), (0.2, PRODUCT)):
            values = [100 * found[routing]["per_tier"][t][key] for t in TIERS]
            panel.bar(x + offset, values, 0.4, label=routing, color=colours[routing])
        panel.set_xticks(x)
        panel.set_xticklabels(TIERS)
        panel.set_ylabel("%")
        panel.set_title(title, fontsize=10)
        panel.legend(fontsize=8)
    axes[0][0].axhline(95, color="red", linestyle="--", linewidth=1)
    axes[0][0].text(-0.45, 96, "VIP target 95%", color="red", fontsize=8)
    axes[0][0].set_ylim(0, 105)
    panel = axes[1][0]
    groups = [
        ("dissatisfied", "mean"),
        ("dissatisfied", "p90"),
        ("everyone", "mean"),
        ("everyone", "p90"),
    ]
    x = np.arange(len(groups))
    for offset, routing in ((-0.2, FIFO), (0.2, PRODUCT)):
        values = [found[routing][who][what] for who, what in groups]
        panel.bar(x + offset, values, 0.4, label=routing, color=colours[routing])
    panel.set_xticks(x)
    panel.set_xticklabels([f"{who}\n{what}" for who, what in groups], fontsize=8)
    panel.set_ylabel("seconds")
    panel.set_title("Time in line until a person answered or the customer left", fontsize=10)
    panel.legend(fontsize=8)
    panel = axes[1][1]
    hours = np.arange(24)
    for routing in (FIFO, PRODUCT):
        values = np.array(found[routing]["hourly_p90_wait"], dtype=float) / 60
        panel.plot(hours + 0.5, values, marker="o", markersize=3, label=routing, color=colours[routing])
    panel.set_xlim(7.5, 21)
    panel.set_xlabel("hour the chat was queued (local time)")
    panel.set_ylabel("minutes")
    panel.set_title("p90 time in line by hour", fontsize=10)
    panel.legend(fontsize=8)
    fig.suptitle("A simulated support day: first come first served vs the product's routing (same arrivals)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def scale_chart(run: Run, worst: Mapping[int, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = np.array([c.waiting for c in run.plan_calls])
    millis = np.array([c.seconds * 1000 for c in run.plan_calls])
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.scatter(sizes, millis, s=3, alpha=0.25, label=f"the day's {len(sizes):,} calls")
    ax.plot(list(worst), list(worst.values()), "r-o", label="every agent full (nothing to assign)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chats waiting at the call")
    ax.set_ylabel("ms per plan_assignments call")
    ax.set_title(f"plan_assignments with {len(run.agents)} agents, all full: cost by waiting chats")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _scenario_text(scenario: Scenario, rules: Rules, agents: Sequence[AgentSpec]) -> List[str]:
    tiers = ", ".join(f"{t} {100 * w:.0f}%" for t, w in scenario.tier_mix)
    stages = ", ".join(f"{s} {100 * w:.0f}%" for s, w in scenario.stage_mix)
    trouble = ", ".join(f"{k.replace('_', ' ')} {100 * w:.0f}%" for k, w in scenario.trouble_mix)
    patience = ", ".join(f"{t} {m:g}" for t, m in scenario.patience_minutes)
    handle = ", ".join(f"{q} {m:g}" for q, m in scenario.handle_median_minutes)
    shape = "exponential" if scenario.patience_sigma <= 0 else f"lognormal (sigma {scenario.patience_sigma:g})"
    shifts = ", ".join(f"{_clock(start)}-{_clock(end)} {100 * share:.0f}%" for start, end, share in scenario.shifts)
    teams = "; ".join(
        f"{team.name} {sum(1 for a in agents if a.team == team.name)} agents serving {', '.join(team.queues)}, "
        f"{team.capacity} chats at once"
        for team in scenario.teams
    )
    start, end = scenario.surge_hours
    return [
        f"- **Day**: {scenario.day:%A %d %B %Y}, {scenario.conversations:,} conversations with the bot, arriving by "
        f"local hour ({rules.timezone.key}) in a web shop's curve: quiet at night, peaks late morning and early "
        f"afternoon (relative weights per hour 0-23: {', '.join(f'{w:g}' for w in scenario.hourly_profile)}). "
        f"**Surge**: from {_clock(start)} to {_clock(end)} arrivals run at {scenario.surge_factor:g}x the curve "
        "(say, a carrier's outage), which the shifts were not planned for. The shipped rules "
        "(escalation/rules.yml) are used unchanged: agents work 08:00-20:00 on weekdays; the product's routing "
        f"keeps {_reserve_text(rules)} (`routing.reserved_slots`); a dissatisfied customer's first-response SLA is "
        f"at most {rules.dissatisfied_sla_minutes or 0:g} minutes whatever the tier "
        "(`satisfaction.dissatisfied_sla_minutes`; the policy's own test of dissatisfied: a negative-message or "
        "frustration trigger, or an unhappy history).",
        f"- **Customers**: tiers {tiers}; known customers' journey stage {stages} (anonymous: unknown); "
        f"{100 * scenario.unhappy_history_share:.0f}% of known customers have an unhappy history (NPS detractor "
        f"<= {rules.detractor_nps_at_most} or last CSAT <= {rules.low_csat_at_most}); the others have a CSAT of "
        "3-5 (60% have one) and an NPS of 7-10 (40%).",
        f"- **What they need**: {100 * scenario.needs_person_share:.0f}% of conversations show a sign the bot cannot "
        f"help: {trouble}; the rest are calm FAQ conversations (sentiment 0 to +0.8, no misunderstanding). Negative "
        "messages have a sentiment of -0.25 to -0.95, the others around -0.1 (sd 0.3); frustration follows the "
        "sentiment and the misunderstandings. The product's `decide` turns each into stay / self-service / "
        "handover / an offer of a callback or ticket, with the queue, priority, SLA and channel.",
        f"- **Dissatisfied** (the target's customers): latest message's sentiment <= {DISSATISFIED_SENTIMENT} or "
        f"frustration >= {DISSATISFIED_FRUSTRATION} (the standard tier's handover thresholds), or an unhappy history.",
        f"- **Patience** in line: {shape}, mean minutes by tier: {patience}. "
        f"{100 * scenario.leaves_window_open_share:.0f}% of those who give up leave the chat window open, so the "
        f'product notices only when "are you still there?" ({rules.routing.still_there_after_seconds / 60:g} min '
        f"after their last message) goes unanswered for {rules.routing.still_there_grace_seconds / 60:g} min; the "
        f"others close it and are noticed {rules.routing.customer_gone_seconds:g} s later (both at the next "
        f"{UPKEEP_SECONDS:g}-second upkeep round). Until then their chat can still be assigned: the agent finds "
        f"nobody and closes it after {scenario.ghost_handle_seconds:g} s.",
        f"- **Handle time**: lognormal, median minutes by queue {handle}, sigma {scenario.handle_sigma:g} (mean = "
        f"{math.exp(scenario.handle_sigma**2 / 2):.2f} x median); the policy's expected waits use the product's "
        f"measured median of each queue's last {HANDLE_WINDOW} chats ({rules.routing.default_handle_seconds / 60:g} "
        "min until there are 5).",
        f"- **Agents**: {len(agents)}: {teams}. Shifts (every team spread over them): {shifts}; full-timers work "
        "8 hours, part-timers 4.5; the evening shift stays 30 minutes after the 20:00 close for who is still in line. "
        "An agent finishes their open chats after the shift ends (counted as overtime, not in utilisation).",
        f"- **Randomness**: one seeded generator ({scenario.seed}) draws the day before either routing runs, so "
        "both see exactly the same arrivals, customers, signals, patience and handle times.",
    ]


def _clock(hours: float) -> str:
    return f"{int(hours):02d}:{int(round((hours % 1) * 60)):02d}"


def _results_table(fifo: Mapping[str, Any], product: Mapping[str, Any]) -> List[str]:
    def row(label: str, pick, fmt) -> str:
        return f"| {label} | {fmt(pick(fifo))} | {fmt(pick(product))} |"

    lines = ["| metric | FIFO | product routing |", "|---|---|---|"]
    for tier in TIERS:
        sla = product["per_tier"][tier]["sla_minutes"]
        lines.append(
            row(
                f"SLA attainment, {tier} ({sla:g} min; abandoned = missed)",
                lambda m, t=tier: m["per_tier"][t]["sla_attainment"],
                _pct,
            )
        )
    for who, label in (("dissatisfied", "dissatisfied customers"), ("everyone", "everyone queued")):
        lines += [
            row(f"{label}: mean time in line (answered or gave up)", lambda m, w=who: m[w]["mean"], _secs),
            row(f"{label}: p90 time in line (answered or gave up)", lambda m, w=who: m[w]["p90"], _secs),
            row(f"{label}: mean wait of those answered", lambda m, w=who: m[w]["served_mean"], _secs),
            row(f"{label}: p90 wait of those answered", lambda m, w=who: m[w]["served_p90"], _secs),
            row(f"{label}: abandonment", lambda m, w=who: m[w]["abandonment"], _pct),
        ]
    for tier in TIERS:
        lines.append(row(f"abandonment, {tier}", lambda m, t=tier: m["per_tier"][t]["abandonment"], _pct))
    for tier in TIERS:
        lines.append(
            row(
                f"p90 time in line, {tier}",
                lambda m, t=tier: m["per_tier"][t]["p90_wait"],
                _secs,
            )
        )
    lines += [
        row("chats answered / gave up", lambda m: (m["served"], m["abandoned"]), lambda v: f"{v[0]:,} / {v[1]:,}"),
        row("abandonment, overall", lambda m: m["abandonment"], _pct),
        row(
            "assigned after the customer had left (counted as abandoned)",
            lambda m: m["ghost_assignments"],
            lambda v: f"{v:,}",
        ),
        row("agent utilisation (busy chat slots / slots on shift)", lambda m: m["utilisation"], _pct),
        row("overtime: chat-slot hours after shifts ended", lambda m: m["overtime_slot_hours"], lambda v: f"{v:.0f}"),
    ]
    return lines


def _dissatisfied_by_tier(product: Run, fifo: Run) -> List[str]:
    tiers = np.array([c.customer.tier for c in product.conversations], dtype=object)
    unhappy = np.array([c.dissatisfied for c in product.conversations])
    arrival = np.array([c.arrival for c in product.conversations])
    lines = [
        "| tier | dissatisfied chats queued | SLA | FIFO p90 / abandonment | product p90 / abandonment |",
        "|---|---|---|---|---|",
    ]
    for tier in TIERS:
        mask = product.joined & unhappy & (tiers == tier)
        if not mask.any():
            continue
        cells = []
        for run in (fifo, product):
            served = ~np.isnan(run.assigned_at) & ~run.ghost
            in_line = np.where(served, run.assigned_at, run.left_at) - arrival
            cells.append(f"{_secs(_percentile(in_line[mask], 90))} / {_pct((~served[mask]).mean())}")
        sla = next(d.sla_seconds for d, m in zip(product.decisions, mask) if m) / 60
        lines.append(f"| {tier} | {int(mask.sum()):,} | {sla:g} min | {cells[0]} | {cells[1]} |")
    return lines


def _reserve_text(rules: Rules) -> str:
    kept = [
        f"{n} slot{'s' if n != 1 else ''} of every agent serving {q} for its chats"
        for q, n in rules.routing.reserved_slots.items()
        if n
    ]
    return "; ".join(kept) if kept else "no slots reserved"


def _shortened_sla(run: Run, rules: Rules) -> int:
    """Queued chats whose SLA the dissatisfied customers' rule made shorter than their tier's."""
    return sum(
        1
        for conversation, decision, joined in zip(run.conversations, run.decisions, run.joined)
        if joined and decision.sla_seconds < rules.segments[conversation.customer.tier].sla_minutes * 60
    )


def _priority_ties(run: Run, rules: Rules) -> Tuple[int, int]:
    """(chats queued with a priority above their tier's, pairs of queued chats with the same SLA due time:
    the only case where priority orders the line)."""
    due = []
    boosted = 0
    for conversation, decision, joined in zip(run.conversations, run.decisions, run.joined):
        if joined:
            due.append(round(conversation.arrival + decision.sla_seconds, 6))
            boosted += decision.priority < rules.segments[conversation.customer.tier].priority
    return boosted, len(due) - len(set(due))


def vips_passed_over(run: Run) -> Tuple[int, int]:
    """From the event log: (chats of other tiers given to an agent who serves concierge while a VIP who
    was still there waited, VIPs answered within a second of being queued)."""
    tiers = {c.id: c.customer.tier for c in run.conversations}
    concierge = {a.name for a in run.agents if "concierge" in a.queues}
    queued_at: Dict[str, float] = {}
    waiting_vips = set()
    passed = at_once = 0
    for at, kind, conversation, agent in run.events:
        if kind == "queued" and tiers[conversation] == Tier.VIP.value:
            waiting_vips.add(conversation)
            queued_at[conversation] = at
        elif kind == "customer_left":
            waiting_vips.discard(conversation)
        elif kind == "assigned":
            if conversation in waiting_vips:
                waiting_vips.discard(conversation)
                at_once += at - queued_at[conversation] < 1
            elif agent in concierge and waiting_vips and tiers[conversation] != Tier.VIP.value:
                passed += 1
    return passed, at_once


def report(
    product: Run,
    fifo: Run,
    rules: Rules,
    found: Mapping[str, Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
    worst: Mapping[int, float],
) -> str:
    scenario = product.scenario
    timings = plan_timings(product)
    verdicts = targets(found[FIFO], found[PRODUCT])
    hourly = hourly_load(product, fifo)
    boosted, ties = _priority_ties(product, rules)
    shortened = _shortened_sla(product, rules)
    decisions = decision_counts(product)
    fifo_m, product_m = found[FIFO], found[PRODUCT]
    start, end = scenario.surge_hours
    surge_text = f"{_clock(start)}-{_clock(end)}"
    surge_p90 = {}
    for run in (product, fifo):
        arrival = np.array([c.arrival for c in run.conversations])
        answered = ~np.isnan(run.assigned_at) & ~run.ghost
        in_line = np.where(answered, run.assigned_at, run.left_at) - arrival
        mask = run.joined & (arrival >= start * 3600) & (arrival < end * 3600)
        surge_p90[run.routing] = _secs(_percentile(in_line[mask], 90))
    unhappy = [c.dissatisfied and joined for c, joined in zip(product.conversations, product.joined)]
    unhappy_all = sum(unhappy)
    unhappy_low = sum(
        1
        for c, u in zip(product.conversations, unhappy)
        if u and c.customer.tier in (Tier.FREE.value, Tier.ANONYMOUS.value)
    )
    passed, at_once = {}, {}
    for run in (product, fifo):
        passed[run.routing], at_once[run.routing] = vips_passed_over(run)
    vips = product_m["per_tier"][Tier.VIP.value]["queued"]
    dedicated = next((row for row in rows if row["name"] == "concierge team serves VIPs only"), None)
    dedicated_text = ""
    if dedicated is not None:
        d_f, d_p = dedicated["metrics"][FIFO], dedicated["metrics"][PRODUCT]
        dedicated_text = (
            "With a concierge team that serves VIPs only, VIP SLA attainment is "
            f"{_pct(d_f['per_tier']['vip']['sla_attainment'])} with FIFO and "
            f"{_pct(d_p['per_tier']['vip']['sla_attainment'])} with the product's routing, while overall "
            f"abandonment goes from {_pct(product_m['abandonment'])} to {_pct(d_p['abandonment'])} (*Sensitivity*)."
        )
    lines = [
        __doc__.split("\n\n")[0].strip(),
        "",
        __doc__.split("\n\n")[1].strip(),
        "",
        "## Targets (issue 12), at the same staffing",
        "",
        "| target | FIFO | product routing | result |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {a} | {b} | {_met(ok)} |" for name, a, b, ok in verdicts]
    served_ratio = product_m["dissatisfied"]["served_p90"] / fifo_m["dissatisfied"]["served_p90"]
    lines += [
        "",
        "Time in line counts everyone who was queued: until a person answered, or until the customer gave up "
        "(a routing must not look faster by making people leave). Counting only those answered, the dissatisfied "
        f"customers' p90 wait is {_secs(fifo_m['dissatisfied']['served_p90'])} with FIFO and "
        f"{_secs(product_m['dissatisfied']['served_p90'])} with the product's routing "
        f"({served_ratio:.2f} of FIFO's); that is not the target's measure. "
        "The same targets under other assumptions are in *Sensitivity* below.",
        "",
        "![FIFO vs the product's routing](routing_simulation.png)",
        "",
        "## The scenario",
        "",
    ]
    lines += _scenario_text(scenario, rules, product.agents)
    lines += [
        "",
        "Load and staffing by hour (load: the handle time of the chats queued that hour, in chats that must be "
        "open at once; slots: chats the agents on shift at the half hour can have open):",
        "",
        "| hour | conversations | live chats queued | load | agents | slots | load / slots | p90 in line FIFO | "
        "p90 in line product |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for h in hourly:
        lines.append(
            f"| {h['hour']:02d}:00 | {h['arrivals']:,} | {h['queued']:,} | {h['load']:.0f} | {h['agents']} | "
            f"{h['slots']} | {_pct(h['load_per_slot'])} | {_secs(h['fifo_p90'])} | {_secs(h['product_p90'])} |"
        )
    lines += [
        "",
        "What the policy decided (`decide` with the shipped rules, once per conversation, the same for both routings):",
        "",
        "| decision | conversations |",
        "|---|---|",
    ]
    lines += [f"| {key} | {count:,} |" for key, count in sorted(decisions.items(), key=lambda kv: -kv[1])]
    lines += [
        "",
        "**Deciding once.** The policy decides at each arrival in the product run, from that run's honest queue "
        "state (`queue_waits` over the simulated agents, line and measured handle times); the FIFO run replays "
        "those decisions. So both routings get exactly the same chats in line, and the comparison is of the "
        "order alone. Deciding again inside the FIFO run would let its longer or shorter line change who is "
        "offered a callback instead, mixing the policy's admission into the routing's result. On this day the "
        "queue state changed "
        f"{decisions.get('offered a callback or ticket: expected wait over the SLA', 0):,} decisions into a "
        "callback offer for the wait (the expected wait the policy computes, line ahead x handle time / slots "
        f"of everyone serving the queue, stays short with {len(product.agents)} agents sharing the general queue) "
        "and let "
        f"{decisions.get('(of the live chats: queue busy but straight through)', 0):,} through although busy; "
        "so the choice changes little here.",
        "",
        "## Results",
        "",
    ]
    lines += _results_table(fifo_m, product_m)
    lines += [
        "",
        "The dissatisfied customers by tier (time in line p90 / share who gave up):",
        "",
    ]
    lines += _dissatisfied_by_tier(product, fifo)
    lines += [
        "",
        "## Sensitivity: the same targets under other assumptions",
        "",
        "Each row is a whole day with both routings on its own arrivals (the routing calls that could not "
        "assign anything are left out, which changes no outcome, only the time).",
        "",
        "| day | VIP SLA FIFO / product | dissatisfied p90 in line FIFO / product (ratio) | abandonment FIFO / "
        "product | utilisation | targets met |",
        "|---|---|---|---|---|---|",
    ]
    main_row = {"name": "**this report's day**", "metrics": found, "targets": verdicts}
    for row in [main_row, *rows]:
        m = row["metrics"]
        f, p = m[FIFO], m[PRODUCT]
        met = [ok for _, _, _, ok in row["targets"]]
        lines.append(
            f"| {row['name']} | {_pct(f['per_tier']['vip']['sla_attainment'])} / "
            f"{_pct(p['per_tier']['vip']['sla_attainment'])} | {_secs(f['dissatisfied']['p90'])} / "
            f"{_secs(p['dissatisfied']['p90'])} ({p['dissatisfied']['p90'] / f['dissatisfied']['p90']:.2f}) | "
            f"{_pct(f['abandonment'])} / {_pct(p['abandonment'])} | {_pct(p['utilisation'])} | "
            f"{sum(met)} of 3 ({', '.join('met' if ok else 'MISSED' for ok in met)}) |"
        )
    call_ms, sizes = timings["call_ms"], timings["waiting"]
    per_hour = np.bincount([int(c.at // 3600) for c in product.plan_calls], minlength=24)
    busiest = float(per_hour.max()) / 3600
    lines += [
        "",
        f"## Scale: {scenario.conversations:,} conversations, {len(product.agents)} agents, the product's routing",
        "",
        f"The product run (every routing call the live product would make, timed) took "
        f"{timings['wall_seconds']:.0f} s of wall time for the simulated day; of that, "
        f"{timings['total_seconds']:.0f} s inside `plan_assignments` and {timings['decide_seconds']:.0f} s in "
        f"`decide` with `queue_waits` ({timings['decide_seconds'] / max(1, timings['decisions']) * 1000:.2f} ms per "
        f"conversation, {timings['decisions']:,} decisions); the FIFO run took {fifo.wall_seconds:.0f} s.",
        "",
        "| `plan_assignments` over the day | value |",
        "|---|---|",
        f"| calls (a chat queued, a slot freed, a shift started, the 5-second upkeep timer while chats wait) | "
        f"{timings['calls']:,} |",
        f"| assignments they produced / applied (when a chat is queued, the plan covers the whole line but only "
        f"that chat is assigned, as in the product) | {timings['assignments']:,} / {timings['applied']:,} |",
        f"| time per assignment decision (time inside plan_assignments / assignments) | "
        f"**{timings['ms_per_assignment']:.2f} ms** |",
        f"| time per call: median / p90 / p99 / max | {call_ms['median']:.2f} / {call_ms['p90']:.2f} / "
        f"{call_ms['p99']:.1f} / {call_ms['max']:.0f} ms |",
        f"| chats waiting at the call: median / p90 / max | {sizes['median']:.0f} / {sizes['p90']:.0f} / "
        f"{sizes['max']:,} |",
        f"| calls over the product's {WAITING_LIMIT:,}-chat read limit | {timings['truncated_calls']} |",
    ]
    for trigger, t in timings["by_trigger"].items():
        lines.append(f"| {trigger}: calls / mean ms / assignments | {t['calls']:,} / {t['mean_ms']:.2f} / "
                     f"{t['assignments']:,} |")  # fmt: skip
    lines += [
        "",
        "Each call sorts the waiting list and counts free slots per queue: it skips the chats of a queue with "
        "no free slot and stops once nobody has room, so a long line with everyone busy costs one sort. "
        f"Measured on the same machine with all {len(product.agents)} agents online and full:",
        "",
        "| chats waiting | " + " | ".join(f"{size:,}" for size in worst) + " |",
        "|---|" + "---|" * len(worst),
        "| ms per call | " + " | ".join(f"{ms:.1f}" for ms in worst.values()) + " |",
        "",
        f"On this day at most {sizes['max']:,} chats waited and a call took {call_ms['median']:.2f} ms at the "
        f"median but {call_ms['p90']:.1f} ms at the p90 (calls with a long line and nobody free), "
        f"{timings['ms_per_assignment']:.2f} ms per assignment. That is small next to the database round "
        "trips around each call (not simulated). On a day where thousands wait (a long outage, a shift "
        "that does not turn up) every call costs the table's last column, and the product makes one on "
        "every queued chat, every freed slot and every 5 seconds: at this day's busiest hour's "
        f"{busiest:.1f} calls a second, 5,000 waiting chats "
        f"would keep {busiest * worst.get(5000, float('nan')) / 10:.0f}% of a core busy with routing alone, "
        "before any database work.",
        "",
        "![plan_assignments cost](routing_simulation_scale.png)",
        "",
        "## What this says about the product's routing",
        "",
        f"- **What moves dissatisfied customers up is their SLA, not their priority.** The urgency order is SLA "
        f"due time, then priority, then age; two chats have the same due time only by coincidence (here {ties} "
        f"pairs among {int(product.joined.sum()):,} queued chats), so the rules' priority boosts ({boosted:,} "
        "queued chats got one) hardly order the line. The dissatisfied customers' SLA of "
        f"{rules.dissatisfied_sla_minutes or 0:g} minutes does: it shortened the SLA of {shortened:,} queued chats. "
        "Without it (*Sensitivity*: rules without the dissatisfied customers' SLA) the free and anonymous tiers' "
        "24-hour SLA put even their upset customers behind everyone's.",
        "- **Who pays for it**: calm customers of the tiers with long SLAs, in the surge. Abandonment is "
        f"{_pct(product_m['per_tier']['free']['abandonment'])} (free) and "
        f"{_pct(product_m['per_tier']['anonymous']['abandonment'])} (anonymous) with the product's routing against "
        f"{_pct(fifo_m['per_tier']['free']['abandonment'])} and "
        f"{_pct(fifo_m['per_tier']['anonymous']['abandonment'])} with FIFO (the per-tier tables above); the p90 "
        f"time in line of everyone queued at {surge_text} is {surge_p90[PRODUCT]} with the product's routing "
        f"against {surge_p90[FIFO]} with FIFO. Of the {unhappy_all:,} dissatisfied chats, {unhappy_low:,} are of "
        "the free and anonymous tiers.",
        f"- **Overall abandonment** ({_pct(fifo_m['abandonment'])} FIFO, {_pct(product_m['abandonment'])} "
        "product): with the same agents, how many are answered is mostly set by capacity; the order decides "
        "who gives up.",
        f"- **VIPs and concierge slots**: the product keeps {_reserve_text(rules)}. A chat of another tier went to "
        f"an agent who serves concierge while a VIP waited {passed[PRODUCT]:,} times with the product's routing "
        f"({passed[FIFO]:,} with FIFO); {at_once[PRODUCT]:,} of {vips:,} VIPs were answered within a second of "
        f"being queued ({at_once[FIFO]:,} with FIFO). Without the reserve, `choose_agent` (fewest open "
        "conversations) lets the concierge agents (2 slots, serving every queue) fill up with general chats at the "
        "load where general agents (3 slots) still have room, and a VIP waits for a concierge slot to free "
        "(*Sensitivity*: rules without the reserved concierge slot). The price: those kept slots are idle when no "
        f"VIP comes. {dedicated_text}",
        f"- **Chats of customers who already left get assigned**: {product_m['ghost_assignments']:,} with the "
        f"product's routing, {fifo_m['ghost_assignments']:,} with FIFO (which serves the oldest first, the most "
        f"likely to have gone). Between leaving and being noticed ({rules.routing.customer_gone_seconds:g} s "
        "after closing the window, or up to "
        f"{(rules.routing.still_there_after_seconds + rules.routing.still_there_grace_seconds) / 60:g} minutes "
        "with it open) the chat still looks like a waiting customer.",
        "",
        "## What the simulation does not model",
        "",
        "- Measured customer behaviour: every distribution above is an assumption, not data from this product.",
        "- Callback offers while waiting (`Router.tend_waiting` offers one once the forecast passes the SLA) and "
        'customers taking them; "are you still there?" is modelled only as the way a silent departure is noticed.',
        "- Agents' breaks, after-chat work, declines, transfers, presence lost through a stale heartbeat, skill "
        "or speed differences between agents, and handle time growing with the number of chats open at once.",
        "- Pull queues (all shipped queues push), callbacks and tickets (they leave the chat line), the database "
        "(assignment is the pure plan applied at once; the live product's atomic assign can skip a pair that "
        "another process took, never relevant in one process), and days other than one weekday.",
        "- Customers coming back after giving up, and the effect of a wait on their satisfaction.",
    ]
    return "\n".join(lines)


def _summary(product: Run, fifo: Run) -> Dict[str, Any]:
    found = {PRODUCT: metrics(product), FIFO: metrics(fifo)}
    return {
        "metrics": found,
        "targets": targets(found[FIFO], found[PRODUCT]),
        "decisions": decision_counts(product),
        "timings": plan_timings(product),
    }


def _print_summary(summary: Mapping[str, Any]) -> None:
    found = summary["metrics"]
    print("\n".join(_results_table(found[FIFO], found[PRODUCT])))
    for name, a, b, ok in summary["targets"]:
        print(f"{name}: FIFO {a}, product {b}: {'met' if ok else 'MISSED'}")
    timings = summary["timings"]
    print(
        f"plan_assignments: {timings['calls']:,} calls, {timings['ms_per_assignment']:.3f} ms per assignment, "
        f"wall {timings['wall_seconds']:.1f} s"
    )


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small day, printed only (no report written)")
    args = parser.parse_args(argv)
    rules = load_rules(SHIPPED_RULES_FILE)
    if args.quick:
        started = time.perf_counter()
        product, fifo = run_day(QUICK, rules, keep_log=False)
        summary = _summary(product, fifo)
        _print_summary(summary)
        print(f"quick run: {QUICK.conversations:,} conversations, {QUICK.agents} agents, "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        return summary
    started = time.perf_counter()
    print(f"==> the full day: {FULL.conversations:,} conversations, {FULL.agents} agents", flush=True)
    product, fifo = run_day(FULL, rules, keep_log=True)
    summary = _summary(product, fifo)
    _print_summary(summary)
    worst = worst_case_calls(product.agents, reserved=rules.routing.reserved_slots)
    rows = sensitivity(FULL, rules)
    REPORTS_DIR.mkdir(exist_ok=True)
    charts(summary["metrics"][PRODUCT], summary["metrics"][FIFO], REPORTS_DIR / "routing_simulation.png")
    scale_chart(product, worst, REPORTS_DIR / "routing_simulation_scale.png")
    body = report(product, fifo, rules, summary["metrics"], rows, worst)
    body += f"\n\nThe whole benchmark took {time.perf_counter() - started:.0f} s."
    path = write_report("routing_simulation", "A simulated support day: FIFO vs the product's routing", body)
    print(f"==> report: {path}", flush=True)
    summary["sensitivity"] = rows
    summary["worst_case_ms"] = worst
    return summary


if __name__ == "__main__":
    main()
