"""The fact table (analytics/store.py) on a real, migrated SQLite database: its SQL aggregation gives the
same summary as the metric definitions (analytics/metrics.py) for every slice, rows are replaced, never
doubled, and the reopen rule is applied across a customer's conversations."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from analytics.facts import ConversationFacts, Misunderstood
from analytics.metrics import METRICS, SLICES, Fact, drill_down, summarize, summary_of
from analytics.refresh import Refresher, TrackerEvents
from analytics.store import AnalyticsStore
from common.database import Database, migrate
from escalation.queue.handoffs import HandoffQueue
from escalation.rules_file import SHIPPED_RULES_FILE, load_rules

START = datetime(2026, 11, 16, tzinfo=timezone.utc)
FIRST, LAST = date(2026, 11, 16), date(2026, 11, 22)


@pytest.fixture
def store(tmp_path) -> AnalyticsStore:
    url = f"sqlite:///{tmp_path / 'customers.db'}"
    migrate(url)
    return AnalyticsStore(Database.from_url(url))


def random_fact(n: int, rng: random.Random) -> Fact:
    started = START + timedelta(seconds=rng.randrange(7 * 86400))
    handed = rng.random() < 0.4
    maybe = lambda: rng.choice((None, True, False))  # noqa: E731
    fact = Fact(
        conversation_id=f"c{n}",
        started_at=started,
        day=started.date().isoformat(),
        hour=started.hour,
        tier=rng.choice(("vip", "premium", "standard", "free", "anonymous")),
        journey_stage=rng.choice(("buying", "active", "at_risk")),
        satisfaction=rng.choice(("detractor", "low_csat", "other")),
        channel="bot_only",
        bot_took_part=rng.random() < 0.9,
        last_message_at=started + timedelta(minutes=5),
        customer_id=f"cust-{rng.randrange(30)}",
        nlu_messages=rng.randrange(6),
        nlu_fallbacks=rng.randrange(2),
        reopened=rng.random() < 0.2,
    )
    if not handed:
        return fact
    return replace(
        fact,
        channel=rng.choice(("chat", "callback", "ticket")),
        queue=rng.choice(("concierge", "general", "sales")),
        handoff_id=f"h{n}",
        handoff_reasons=tuple(rng.sample(("asked_for_person", "segment", "frustrated"), rng.randint(1, 3))),
        abandoned=rng.random() < 0.2,
        resolved=rng.random() < 0.7,
        first_response_s=rng.choice((None, rng.uniform(1, 900))),
        first_response_business_s=rng.choice((None, rng.uniform(0, 900))),
        resolution_s=rng.choice((None, rng.uniform(100, 9000))),
        resolution_business_s=rng.choice((None, rng.uniform(0, 9000))),
        sla_first_response=maybe(),
        sla_next_response=maybe(),
        sla_resolution=maybe(),
        csat=rng.choice((None, 1, 2, 3, 4, 5)),
    )


def built(fact: Fact) -> ConversationFacts:
    return ConversationFacts(fact, (), {"customer": {"tier": fact.tier}, "segments": []})


def test_the_databases_aggregation_matches_the_definitions_for_every_slice(store):
    rng = random.Random(7)
    facts = [random_fact(n, rng) for n in range(400)]
    store.save(built(f) for f in facts)
    start, end = START, START + timedelta(days=7)
    for by in SLICES:
        expected = summarize(facts, by, FIRST, LAST)
        assert summary_of(store.tallies(start, end, by), by, FIRST, LAST) == expected, by
    assert sorted(f.conversation_id for f in store.facts(start, end)) == sorted(f.conversation_id for f in facts)
    # a narrower range: only what started in it
    inside = [f for f in facts if f.started_at < START + timedelta(days=2)]
    total, _ = summary_of(store.tallies(start, START + timedelta(days=2), "none"), "none", FIRST, FIRST)
    assert total == summarize(inside, "none", FIRST, FIRST)[0]


DRILLED = [*METRICS, "reason:asked_for_person", "reason:segment", "reason:frustrated", "reason:asked"]


def assert_drill_down_matches_the_definitions(store: AnalyticsStore, facts) -> None:
    start, end = START, START + timedelta(days=7)
    for by, keys in (
        ("none", ["total"]),
        ("tier", ["total", "vip", "free"]),
        ("queue", ["none", "sales"]),
        ("hour", ["00", "13"]),
        ("day", ["2026-11-17"]),
    ):
        for key in keys:
            for metric in DRILLED:
                expected = drill_down(facts, by, key, metric)
                count, listed = store.drill_down(start, end, by, key, metric, limit=5)
                newest = sorted(expected, key=lambda f: (-f.started_at.timestamp(), f.conversation_id))[:5]
                assert count == len(expected), (by, key, metric)
                assert [f.conversation_id for f in listed] == [f.conversation_id for f in newest], (by, key, metric)


def test_the_databases_drill_down_lists_what_the_definitions_count(store):
    rng = random.Random(5)
    facts = [random_fact(n, rng) for n in range(300)]
    store.save(built(f) for f in facts)
    assert_drill_down_matches_the_definitions(store, facts)
    # the number behind the summary: a drill-down's count is the summary's number
    total, groups = summary_of(store.tallies(START, START + timedelta(days=7), "tier"), "tier", FIRST, LAST)
    vip = next(g for g in groups if g["key"] == "vip")
    assert store.drill_down(START, START + timedelta(days=7), "tier", "vip", "handoffs")[0] == vip["handoffs"]
    assert store.drill_down(START, START + timedelta(days=7), "none", "total", "contained")[0] == total["contained"]


def test_saving_again_replaces_a_conversation_and_its_messages(store):
    fact = random_fact(1, random.Random(1))
    lost = Misunderstood("flibber", "nlu_fallback", 0.3, fact.started_at)
    for _ in range(3):
        store.save([ConversationFacts(fact, (lost,), {})])
    assert len(store.facts(START, START + timedelta(days=7))) == 1
    found = store.misunderstood(START, START + timedelta(days=7), 10)
    assert found == [{"text": "flibber", "count": 1, "intent": "nlu_fallback", "confidence": 0.3}]
    store.forget([fact.conversation_id])
    assert (
        store.facts(START, START + timedelta(days=7)) == []
        and store.misunderstood(START, START + timedelta(days=7), 10) == []
    )


def test_a_customer_coming_back_within_24_hours_reopens_their_earlier_conversation(store, tmp_path):
    base = dict(day="2026-11-16", hour=9, tier="standard", journey_stage="active", satisfaction="other")
    first = Fact(
        "a", START, channel="bot_only", bot_took_part=True, customer_id="cust-1", last_message_at=START, **base
    )
    again = replace(
        first, conversation_id="b", started_at=START + timedelta(hours=23), last_message_at=START + timedelta(hours=23)
    )
    much_later = replace(
        first, conversation_id="c", started_at=START + timedelta(days=3), last_message_at=START + timedelta(days=3)
    )
    store.save(built(f) for f in (first, again, much_later))
    refresher = Refresher(
        store,
        TrackerEvents.for_sqlite_file(str(tmp_path / "tracker.db")),
        HandoffQueue(store.database),
        load_rules(SHIPPED_RULES_FILE),
        lambda: START,
    )
    refresher.update_reopened(["cust-1"])
    facts = {f.conversation_id: f for f in store.facts(START, START + timedelta(days=7))}
    assert (facts["a"].reopened, facts["b"].reopened, facts["c"].reopened) == (True, False, False)
    assert (facts["a"].contained, facts["b"].contained) == (False, True)
    store.save([built(first)])  # rebuilding a conversation keeps what its customer's later ones decided
    assert store.fact("a").reopened is True
