"""Analytics over the REAL running system (`rasa run`, the action server and the escalation service, on a
system of this module's own, so that the other tests' conversations never change the numbers): known
conversations played through the bot and the console's API, then every number of the summary and of the
drill-down checked, the counts reconciled with the raw stores (Rasa's tracker store and the queue), who
may call the API, and the seeded demo history (played, marked, removed)."""

from __future__ import annotations

import json
import random
import threading
import uuid
from datetime import datetime, timedelta, timezone

import numpy
import pytest
import sqlalchemy as sa

from analytics import seed as demo_history
from analytics.facts import ConversationFacts, Misunderstood
from analytics.metrics import SLICES, summarize, summary_of
from analytics.store import AnalyticsStore
from common.conversation_log import EVENTS
from common.database import Database, migrate
from escalation.queue.handoffs import HandoffQueue
from escalation.rules_file import load_rules
from tests.integration.conftest import running_system
from tests.integration.test_handoff_queue import POSTGRES_ADMIN_URL
from tests.unit.test_analytics_store import (
    FIRST,
    LAST,
    START,
    assert_drill_down_matches_the_definitions,
    built,
    random_fact,
)

FAQ = "how long does delivery take?"
NOT_UNDERSTOOD = "qwxz blorft zzzk"
PERSON = "I want to talk to a person"


@pytest.fixture(scope="module")
def system(trained_model, tmp_path_factory):
    with running_system(trained_model, tmp_path_factory.mktemp("analytics")) as running:
        yield running


def queue_of(system) -> HandoffQueue:
    return HandoffQueue(Database.from_url(system.settings.customer_db_url))


def tracker_events(system, conversation_id: str) -> list:
    engine = sa.create_engine(f"sqlite:///{system.settings.tracker_db_path}")
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(EVENTS.c.data).where(EVENTS.c.sender_id == conversation_id).order_by(EVENTS.c.id)
        ).all()
    engine.dispose()
    return [json.loads(row[0]) for row in rows]


def handed_over(system, chat) -> dict:
    handoff = queue_of(system).open_for(chat.id)
    assert handoff is not None, "the bot handed the conversation over"
    return handoff


def today(system) -> str:
    rules = load_rules(system.settings.escalation_rules_file)
    return datetime.now(timezone.utc).astimezone(rules.timezone).date()


@pytest.fixture(scope="module")
def known(system):
    """3 VIP handoffs answered and resolved (two rated: 5 and 2; in one the customer writes to the agent
    and gets an answer), 2 FAQs the bot answers alone (one after a message it does not understand), and
    1 premium customer who leaves while waiting."""
    vips = []
    for score in (5, 2, None):
        chat = system.conversation("demo-vip")
        assert "passing you to our concierge team" in " ".join(r.get("text", "") for r in chat.send(PERSON))
        handoff = handed_over(system, chat)
        system.api("POST", f"/api/handoffs/{handoff.id}/claim").raise_for_status()
        system.api("POST", f"/api/handoffs/{handoff.id}/messages", json={"text": "Hi, Alice here."}).raise_for_status()
        if score == 5:
            assert chat.send("thanks, it is order 4417") == []  # to the agent: the paused bot stays silent
            system.api("POST", f"/api/handoffs/{handoff.id}/messages", json={"text": "Found it."}).raise_for_status()
        system.api(
            "POST", f"/api/handoffs/{handoff.id}/resolve", json={"resolution_code": "answered"}
        ).raise_for_status()
        if score is not None:
            assert "Thank you" in chat.send(f'/rate_csat{{"csat_score": {score}}}')[0]["text"]
        vips.append((chat.id, handoff.id))
    contained = []
    for persona, messages in (("demo-standard", [FAQ]), ("demo-free", [NOT_UNDERSTOOD, FAQ])):
        chat = system.conversation(persona)
        for text in messages:
            assert chat.send(text), "the bot answers"
        contained.append(chat.id)
    lost = [e for e in tracker_events(system, contained[1]) if e["event"] == "user"][0]
    assert lost["parse_data"]["intent"]["name"] in ("nlu_fallback", "out_of_scope"), lost["parse_data"]["intent"]
    chat = system.conversation("demo-churn-risk")
    chat.send(PERSON)
    waiting = handed_over(system, chat)
    assert queue_of(system).abandon(waiting.id, datetime.now(timezone.utc), "the customer left")
    return {"vips": vips, "contained": contained, "abandoned": (chat.id, waiting.id)}


def summary(system, by: str = "none", person: str = "lena") -> dict:
    day = today(system)
    answer = system.api("GET", f"/api/analytics/summary?from={day - timedelta(days=1)}&to={day}&by={by}", agent=person)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_every_number_of_the_known_conversations(system, known):
    queue = queue_of(system)
    vips = [queue.get(handoff_id) for _, handoff_id in known["vips"]]
    # From the raw stores: the first agent message (not the greeting sent on assignment) and the resolution.
    first_responses, resolutions = [], []
    for (conversation, _), handoff in zip(known["vips"], vips):
        written = [
            e["timestamp"]
            for e in tracker_events(system, conversation)
            if e["event"] == "bot" and (e.get("metadata") or {}).get("agent") and not e["metadata"].get("automatic")
        ]
        first_responses.append(min(written) - handoff.created_at.timestamp())
        resolutions.append((handoff.resolved_at - handoff.created_at).total_seconds())
    total = summary(system)["total"]
    reasons = {}
    for handoff in vips + [queue.get(known["abandoned"][1])]:
        for code in dict.fromkeys(handoff.reason_codes):
            reasons[code] = reasons.get(code, 0) + 1
    assert reasons["asked_for_person"] == 4
    expected = {
        "key": "total",
        "conversations": 6,
        "contained": 2,
        "containment_rate": round(2 / 6, 4),
        "handoffs": 4,
        "handoff_rate": round(4 / 6, 4),
        "handoff_reasons": dict(sorted(reasons.items())),
        "sla_attainment": {"first_response": 1.0, "next_response": 1.0, "resolution": 1.0},
        "abandoned": 1,
        "abandonment_rate": 0.25,
        "csat_responses": 2,
        "csat_positive_rate": 0.5,
        "csat_response_rate": round(2 / 3, 4),
        # customer messages to the bot: 3 asks for a person, 2 ratings, 3 in the FAQs, 1 from the one who left
        "nlu_messages": 9,
        "nlu_fallbacks": 1,
        "fallback_rate": round(1 / 9, 4),
    }
    assert {k: total[k] for k in expected} == expected
    for field, values, share in (
        ("first_response_p50_s", first_responses, 50),
        ("first_response_p90_s", first_responses, 90),
        ("resolution_p50_s", resolutions, 50),
        ("resolution_p90_s", resolutions, 90),
    ):
        assert total[field] == pytest.approx(float(numpy.percentile(values, share)), abs=0.06), field
    # round the clock in this system: business hours are all hours
    assert total["first_response_p50_business_s"] == pytest.approx(total["first_response_p50_s"], abs=0.1)

    tiers = {g["key"]: g for g in summary(system, "tier")["groups"]}
    assert [(tiers[t]["conversations"], tiers[t]["handoffs"], tiers[t]["contained"]) for t in tiers] == [
        (3, 3, 0),  # vip
        (1, 1, 0),  # premium: the one who left
        (1, 0, 1),  # standard
        (1, 0, 1),  # free
        (0, 0, 0),  # anonymous
    ]
    assert tiers["vip"]["csat_positive_rate"] == 0.5 and tiers["premium"]["abandoned"] == 1
    channels = {g["key"]: g["conversations"] for g in summary(system, "channel")["groups"]}
    assert channels == {"chat": 4, "callback": 0, "ticket": 0, "bot_only": 2}
    queues = {g["key"]: g["handoffs"] for g in summary(system, "queue")["groups"]}
    assert queues == {"concierge": 3, "none": 0, "retention": 1}

    # Drill-down: the list behind each number is as long as the number, and is the right conversations.
    day = today(system)
    for key, metric, number, ids in (
        ("total", "conversations", 6, None),
        ("total", "contained", 2, set(known["contained"])),
        ("total", "handoffs", 4, {c for c, _ in known["vips"]} | {known["abandoned"][0]}),
        ("total", "abandoned", 1, {known["abandoned"][0]}),
        ("total", "csat_responses", 2, {c for c, _ in known["vips"][:2]}),
        ("total", "csat_positive", 1, {known["vips"][0][0]}),
        ("total", "fallbacks", 1, {known["contained"][1]}),
        ("total", "reason:asked_for_person", 4, None),
        ("total", "first_response_sla_missed", 0, set()),
        ("vip", "handoffs", 3, {c for c, _ in known["vips"]}),
    ):
        listed = system.api(
            "GET",
            f"/api/analytics/conversations?from={day - timedelta(days=1)}&to={day}&by=tier&key={key}&metric={metric}",
            agent="lena",
        ).json()
        assert listed["count"] == number == len(listed["conversations"]), (key, metric)
        if ids is not None:
            assert {c["conversation_id"] for c in listed["conversations"]} == ids, (key, metric)
    detail = system.api("GET", f"/api/analytics/conversations/{known['vips'][0][0]}", agent="lena").json()
    said = [(m["who"], m["text"]) for m in detail["transcript"]]
    assert said[0] == ("customer", PERSON) and ("agent", "Found it.") in said
    assert detail["facts"]["csat"] == 5 and detail["facts"]["seeded"] is False

    misunderstood = system.api("GET", "/api/analytics/misunderstood", agent="lena").json()["messages"]
    assert [(m["text"], m["count"]) for m in misunderstood] == [(NOT_UNDERSTOOD, 1)]


def test_the_counts_reconcile_with_the_raw_stores(system, known):
    total = summary(system)["total"]
    engine = sa.create_engine(f"sqlite:///{system.settings.tracker_db_path}")
    with engine.connect() as connection:
        talked = connection.execute(
            sa.select(sa.func.count(sa.distinct(EVENTS.c.sender_id))).where(EVENTS.c.type_name == "user")
        ).scalar()
    engine.dispose()
    handoffs = queue_of(system).list(None)
    assert total["conversations"] == talked
    assert total["handoffs"] == len({h.conversation_id for h in handoffs})
    assert total["abandoned"] == sum(h.status == "abandoned" for h in handoffs)
    assert total["csat_responses"] == sum(h.csat is not None for h in handoffs)
    assert total["csat_positive_rate"] == round(
        sum((h.csat or 0) >= 4 for h in handoffs) / sum(h.csat is not None for h in handoffs), 4
    )


@pytest.mark.parametrize("person, status", [("lena", 200), ("tara", 200), ("alice", 403), (None, 401)])
def test_who_may_read_the_analytics(system, person, status):
    for method, path, body in (
        ("GET", "/api/analytics/summary?by=tier", None),
        ("GET", "/api/analytics/export.csv?by=day", None),
        ("GET", "/api/analytics/rules", None),
        ("POST", "/api/analytics/whatif", {"rules_yaml": "queues: [general]", "days": 7}),
    ):
        answer = system.api(method, path, agent=person, json=body)
        expected = 400 if status == 200 and method == "POST" else status  # those rules are incomplete
        assert answer.status_code == expected, (person, path, answer.text)
        if expected >= 400:
            assert "error" in answer.json()


def test_the_what_if_replays_the_known_conversations(system, known):
    live = system.api("GET", "/api/analytics/rules", agent="lena").json()["yaml"]
    same = system.api("POST", "/api/analytics/whatif", agent="lena", json={"rules_yaml": live, "days": 1}).json()
    assert same["conversations"] == 6 and same["changed_count"] == 0 and same["current"] == same["candidate"]
    assert same["current"]["by_tier"] == {"premium": 1, "vip": 3} and same["current"]["stays"] == 2
    candidate = live.replace("queue: concierge", "queue: general")
    moved = system.api("POST", "/api/analytics/whatif", agent="lena", json={"rules_yaml": candidate, "days": 1}).json()
    assert moved["candidate"]["by_queue"].get("concierge", 0) == 0 and moved["changed_count"] == 3
    assert {c["conversation_id"] for c in moved["changed"]} == {c for c, _ in known["vips"]}


def test_seeded_history_is_played_through_the_system_marked_and_removed(system, known):
    before = summary(system)["total"]
    try:
        played = demo_history.seed(system.settings, days=2, per_day=3)
        assert played == 6
        day = today(system)
        listed = system.api(
            "GET",
            f"/api/analytics/conversations?from={day - timedelta(days=2)}&to={day}&metric=conversations",
            agent="lena",
        ).json()["conversations"]
        seeded = [c for c in listed if c["seeded"]]
        assert len(seeded) == 6 and all(c["started_at"] < datetime.now(timezone.utc).isoformat() for c in seeded)
    finally:
        demo_history.remove(system.settings)
        system.put_on_shift(("alice", "bob"))  # the simulated agents went offline at the end
    assert summary(system)["total"] == before
    assert not [c for c in queue_of(system).list(None) if c.conversation_id in {s["conversation_id"] for s in seeded}]


@pytest.fixture
def postgres_database():
    """A throwaway PostgreSQL database, migrated (the scaled configuration's product database)."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    name = f"analytics_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({error.orig}); set TEST_POSTGRES_URL")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield Database.from_url(url)
    finally:
        Database.from_url(url).engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_the_fact_table_on_postgresql_counts_as_the_definitions_do(postgres_database):
    store = AnalyticsStore(postgres_database)
    rng = random.Random(11)
    facts = [random_fact(n, rng) for n in range(300)]
    store.save(built(f) for f in facts)
    store.save(built(f) for f in facts[:50])  # saved again: replaced, not doubled
    start, end = START, START + timedelta(days=7)
    for by in SLICES:
        assert summary_of(store.tallies(start, end, by), by, FIRST, LAST) == summarize(facts, by, FIRST, LAST), by
    assert len(store.facts(start, end)) == 300
    assert_drill_down_matches_the_definitions(store, facts)
    lost = [
        Misunderstood(text, "nlu_fallback", 0.25, START + timedelta(hours=1)) for text in ("Blorp", " blorp", "zing")
    ]
    store.save([ConversationFacts(facts[0], tuple(lost), {"segments": []})])
    assert store.misunderstood(start, end, 5) == [
        {"text": "blorp", "count": 2, "intent": "nlu_fallback", "confidence": 0.25},
        {"text": "zing", "count": 1, "intent": "nlu_fallback", "confidence": 0.25},
    ]
    assert len(store.decision_inputs(start, end)) == 300


def test_service_processes_saving_the_same_conversations_at_once_count_each_once(postgres_database):
    """Two service processes refresh at once (a request each, or a request and the timer)."""
    rng = random.Random(12)
    facts = [random_fact(n, rng) for n in range(60)]
    lost = (Misunderstood("blorp", "nlu_fallback", 0.25, START + timedelta(hours=1)),)
    batch = [ConversationFacts(f, lost, {"segments": []}) for f in facts]
    stores = [AnalyticsStore(Database(sa.create_engine(postgres_database.engine.url))) for _ in range(2)]
    errors = []

    def save_three_times(store):
        try:
            for _ in range(3):
                store.save(batch)
        except Exception as error:  # noqa: BLE001  (any failure is the finding)
            errors.append(error)

    threads = [threading.Thread(target=save_three_times, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    start, end = START, START + timedelta(days=7)
    assert len(stores[0].facts(start, end)) == 60
    assert stores[0].misunderstood(start, end, 5)[0]["count"] == 60  # one per conversation, not doubled
