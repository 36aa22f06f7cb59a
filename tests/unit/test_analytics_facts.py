"""One conversation's facts from its Rasa events and its handoff (analytics/facts.py), and the what-if
replay (analytics/whatif.py): pure, table by table."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from analytics.facts import TimeMap, conversation_facts
from analytics.seed import simulated_moments
from analytics.whatif import Staff, replay
from escalation.core.rules import parse_rules, round_the_clock
from escalation.queue.handoffs import Handoff
from escalation.rules_file import SHIPPED_RULES_FILE, read_rules_mapping

RULES = parse_rules(read_rules_mapping(SHIPPED_RULES_FILE))  # Amsterdam, Mon-Fri 08-20, Sat 09-17, Sun closed


def always_open() -> dict:
    """The shipped rules, open round the clock, without slots reserved for a queue (so that one agent's
    one slot is everybody's)."""
    data = round_the_clock(read_rules_mapping(SHIPPED_RULES_FILE))
    data.setdefault("routing", {})["reserved_slots"] = {}
    return data


ALWAYS = parse_rules(always_open())
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)  # a Tuesday, 10:00 in Amsterdam


def at(seconds: float) -> float:
    return (T0 + timedelta(seconds=seconds)).timestamp()


def user(text: str, seconds: float, intent: str = "faq", confidence: float = 0.9, compound: float = 0.0) -> dict:
    parse = {"intent": {"name": intent, "confidence": confidence}, "sentiment": {"compound": compound}}
    return {"event": "user", "text": text, "timestamp": at(seconds), "parse_data": parse}


def bot(text: str, seconds: float, agent: str = None, automatic: bool = False) -> dict:
    metadata = {"agent": agent, **({"automatic": True} if automatic else {})} if agent else {}
    return {"event": "bot", "text": text, "timestamp": at(seconds), "metadata": metadata}


def slot(name: str, value, seconds: float = 0) -> dict:
    return {"event": "slot", "name": name, "value": value, "timestamp": at(seconds)}


def handoff(**values) -> Handoff:
    base = dict(
        id="h1",
        conversation_id="c1",
        customer_id="demo-vip",
        tier="vip",
        segment={"tier": "vip", "journey_stage": "active", "customer_id": "demo-vip", "nps": 9, "last_csat": 5},
        queue="concierge",
        priority=1,
        channel="live_chat",
        reasons=[{"code": "asked_for_person", "text": ""}, {"code": "asked_for_person", "text": ""}],
        status="resolved",
        agent_id="alice",
        created_at=T0 + timedelta(seconds=10),
        sla_due_at=T0 + timedelta(seconds=130),
        claimed_at=T0 + timedelta(seconds=20),
        lease_expires_at=None,
        resolved_at=T0 + timedelta(seconds=610),
        sla_breached_at=None,
    )
    return Handoff(**{**base, **values})


HANDED = [
    slot("tier", "vip"),
    user("I want to talk to a person", 5, "request_human"),
    bot("I'm passing you to our concierge team.", 6),
    {"event": "pause", "timestamp": at(6)},
    bot("Hi, Alice here (greeting).", 20, agent="alice", automatic=True),
    user("order 4417", 30, "faq", 0.2),  # to the agent: not the bot's to understand
    bot("Found it.", 100, agent="alice"),
    user("thanks", 150, "thanks"),
    bot("Anything else?", 160, agent="alice"),
    {"event": "resume", "timestamp": at(610)},
    user("/rate_csat", 640, "rate_csat"),
]


@pytest.mark.parametrize(
    "changes, field, expected",
    [
        ({}, "first_response_s", 90.0),  # queued at 10 s, the greeting at 20 s does not count, Alice at 100 s
        ({}, "resolution_s", 600.0),
        ({}, "first_response_business_s", 90.0),  # Tuesday 10:00: open
        ({}, "sla_first_response", True),  # 90 s within the VIP's 2 minutes
        ({}, "sla_next_response", True),  # "thanks" at 150 s answered at 160 s
        ({}, "sla_resolution", True),  # 600 s within 30 minutes
        ({"resolved_at": T0 + timedelta(hours=1)}, "sla_resolution", False),
        ({}, "handoff_reasons", ("asked_for_person",)),  # each code once
        ({}, "nlu_messages", 2),  # before the pause and after the resume only
        ({}, "channel", "chat"),
        ({"channel": "phone_callback"}, "channel", "callback"),
        ({"segment": {"tier": "vip", "nps": 3}}, "satisfaction", "detractor"),
        ({"segment": {"tier": "vip", "last_csat": 1}}, "satisfaction", "low_csat"),
        # abandoned before the due time: the clock is undecided; after it: breached
        (
            {"status": "abandoned", "resolved_at": None, "abandoned_at": T0 + timedelta(seconds=50)},
            "sla_first_response",
            None,
        ),
        (
            {"status": "abandoned", "resolved_at": None, "abandoned_at": T0 + timedelta(seconds=90)},
            "abandoned",
            True,
        ),
    ],
)
def test_a_handed_over_conversations_facts(changes, field, expected):
    events = HANDED
    if changes.get("abandoned_at") or changes.get("resolved_at") == T0 + timedelta(hours=1):
        events = [e for e in HANDED if e["event"] != "resume" and e.get("text") not in ("Found it.", "Anything else?")]
    built = conversation_facts("c1", events, [handoff(**changes)], RULES, T0 + timedelta(hours=2))
    assert getattr(built.fact, field) == expected


def test_an_abandoned_wait_past_its_due_time_breaches_the_first_response():
    gone = handoff(status="abandoned", resolved_at=None, abandoned_at=T0 + timedelta(seconds=300))
    events = [e for e in HANDED[:5]]
    fact = conversation_facts("c1", events, [gone], RULES, T0 + timedelta(hours=2)).fact
    assert (fact.sla_first_response, fact.first_response_s, fact.abandoned) == (False, None, True)


def test_a_bot_only_conversation_and_what_it_did_not_understand():
    events = [
        slot("tier", "free"),
        slot("customer_id", "cust-7"),
        user("qwxz blorft", 0, "nlu_fallback", 0.2),
        bot("Sorry?", 1),
        user("where is my order", 60),
        bot("Here: ...", 61),
    ]
    built = conversation_facts("c2", events, [], RULES, T0 + timedelta(hours=1))
    fact = built.fact
    assert (fact.tier, fact.channel, fact.contained, fact.handed_off, fact.customer_id) == (
        "free",
        "bot_only",
        True,
        False,
        "cust-7",
    )
    assert (fact.nlu_messages, fact.nlu_fallbacks, fact.day, fact.hour) == (2, 1, "2026-11-24", 10)
    assert [(m.text, m.intent, m.confidence) for m in built.misunderstood] == [("qwxz blorft", "nlu_fallback", 0.2)]
    assert [len(s) for s in built.decision_inputs["segments"]] == [2]
    assert conversation_facts("c3", [slot("tier", "free")], [], RULES, T0) is None  # the customer never wrote


def test_business_hours_durations_skip_the_closed_hours():
    # Queued Saturday 16:50 in Amsterdam (closed from 17:00 to Monday 08:00), answered Monday 08:10.
    queued = datetime(2026, 11, 21, 15, 50, tzinfo=timezone.utc)
    answered = datetime(2026, 11, 23, 7, 10, tzinfo=timezone.utc)
    h = handoff(
        tier="free",
        segment={"tier": "free"},
        created_at=queued,
        sla_due_at=queued + timedelta(days=1),
        resolved_at=answered + timedelta(minutes=5),
    )
    events = [
        {**user("help", 0, "request_human"), "timestamp": queued.timestamp() - 5},
        {**bot("Answer", 0, agent="bob"), "timestamp": answered.timestamp()},
    ]
    fact = conversation_facts("c1", events, [h], RULES, answered + timedelta(hours=1)).fact
    assert fact.first_response_s == (answered - queued).total_seconds()
    assert fact.first_response_business_s == 20 * 60  # 10 min on Saturday + 10 min on Monday


def test_a_seeded_conversation_stands_for_its_simulated_time_but_keeps_its_sla_targets():
    simulated = datetime(2026, 11, 19, 13, 0, tzinfo=timezone.utc)
    time_map = TimeMap(T0, simulated, scale=2.0)
    fact = conversation_facts("c1", HANDED, [handoff()], RULES, T0 + timedelta(hours=2), time_map, seeded=True).fact
    assert fact.seeded and fact.started_at == simulated + timedelta(seconds=10)  # 5 s x 2
    assert fact.first_response_s == 180.0  # 90 s stretched x 2
    assert fact.sla_first_response is False  # 3 minutes is past the VIP's 2: the due time is not stretched
    assert fact.day == "2026-11-19"


def conversation(customer: dict, *messages: tuple) -> dict:
    return {
        "customer": customer,
        "segments": [
            [
                {
                    "event": "user",
                    "text": text,
                    "timestamp": at(seconds),
                    "parse_data": {"intent": {"name": intent}, "sentiment": {"compound": compound}},
                }
                for text, intent, compound, seconds in messages
            ]
        ],
    }


VIP = {"tier": "vip", "journey_stage": "active"}
STANDARD = {"tier": "standard", "journey_stage": "active"}
STAFF = [Staff("alice", ("concierge", "retention", "sales", "general"), 1)]


def test_the_replay_decides_every_message_until_a_person_takes_over():
    conversations = [
        (
            "vip",
            T0,
            conversation(VIP, ("how long does delivery take", "faq", 0.0, 0), ("a person", "request_human", 0.0, 60)),
        ),
        ("std", T0, conversation(STANDARD, ("how long does delivery take", "faq", 0.0, 30))),
        ("std2", T0, conversation(STANDARD, ("a person please", "request_human", 0.0, 90))),
    ]
    data = always_open()
    data["segments"]["vip"]["queue"] = "general"
    candidate = parse_rules(data)
    result = replay(conversations, ALWAYS, candidate, STAFF, {q: 600.0 for q in ALWAYS.queues})
    assert result["conversations"] == 3
    assert result["current"]["by_queue"] == {"concierge": 1, "general": 1}
    assert result["candidate"]["by_queue"] == {"general": 2}
    assert (result["current"]["stays"], result["current"]["by_tier"]) == (1, {"standard": 1, "vip": 1})
    assert result["changed_count"] == 1 and result["changed"][0]["conversation_id"] == "vip"
    # One agent with one slot: the standard customer 30 s after the VIP waits for the chat to end (600 s),
    # past nothing in the current rules (standard SLA 60 min) ...
    assert result["current"]["sla_attainment_expected"] == {"standard": 1.0, "vip": 1.0}
    # ... while with a 1-minute standard SLA the policy sees the line (the VIP holds the only slot for
    # 10 minutes) and honestly offers a callback instead
    data["segments"]["standard"]["sla_minutes"] = 1
    tight = replay(conversations, ALWAYS, parse_rules(data), STAFF, {q: 600.0 for q in ALWAYS.queues})
    assert (tight["candidate"]["offers"], tight["candidate"]["sla_attainment_expected"]) == (1, {"vip": 1.0})
    changed = {c["conversation_id"]: c for c in tight["changed"]}
    assert set(changed) == {"vip", "std2"}  # the one who stayed with the bot has no SLA to compare
    assert (
        changed["std2"]["candidate"]["action"] == "offer_options" and changed["std2"]["current"]["action"] == "handover"
    )


def test_a_candidate_with_nobody_online_offers_callbacks_or_tickets():
    conversations = [("std", T0, conversation(STANDARD, ("a person please", "request_human", 0.0, 0)))]
    result = replay(conversations, ALWAYS, ALWAYS, [], {q: 600.0 for q in ALWAYS.queues})
    assert result["current"]["offers"] == 1 and result["current"]["sla_attainment_expected"] == {}
    assert replace(ALWAYS) == ALWAYS


@pytest.mark.parametrize("days, count", [(1, 5), (7, 140), (30, 60)])
def test_seeded_moments_spread_over_the_last_days_and_stay_in_the_past(days, count):
    now = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
    moments = simulated_moments(days, count, RULES, random.Random(1), now)
    first_day = now.astimezone(RULES.timezone).date() - timedelta(days=days - 1)
    assert len(moments) == count and moments == sorted(moments)
    assert all(m < now - timedelta(hours=1) and m.astimezone(RULES.timezone).date() >= first_day for m in moments)
    if count >= 60:  # busier by day than by night
        daytime = sum(9 <= m.astimezone(RULES.timezone).hour < 18 for m in moments)
        assert daytime > count / 2
