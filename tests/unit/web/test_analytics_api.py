"""The analytics API in-process (the service's own wiring, a real SQLite product database and tracker
table): who may use it, the summary's numbers from stored conversations, drill-down, one conversation,
CSV, misunderstood messages, the rules and the what-if."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import yaml

from escalation.core.rules import round_the_clock
from escalation.rules_file import SHIPPED_RULES_FILE, read_rules_mapping

ROUTES = [
    ("GET", "/api/analytics/summary"),
    ("GET", "/api/analytics/conversations?metric=handoffs"),
    ("GET", "/api/analytics/conversations/nobody"),
    ("GET", "/api/analytics/export.csv"),
    ("GET", "/api/analytics/misunderstood"),
    ("GET", "/api/analytics/rules"),
    ("POST", "/api/analytics/whatif"),
]


@pytest.mark.parametrize("method, path", ROUTES)
def test_leads_and_trainers_may_use_every_route_agents_may_not(service, method, path):
    assert service.api(method, path, person=None).status == 401
    forbidden = service.api(method, path, person="alice")
    assert (
        forbidden.status == 403 and forbidden.json["error"] == "This needs the lead or trainer role; alice is an agent."
    )
    for person in ("lena", "tara"):
        assert service.api(method, path, person=person).status not in (401, 403)


def say(service, conversation: str, who: str, text: str, **extra) -> None:
    """An event stored as Rasa stores it, at the service's clock."""
    at = service.clock().timestamp()
    if who == "customer":
        intent = extra.pop("intent", "faq")
        parse = {
            "intent": {"name": intent, "confidence": extra.pop("confidence", 0.93)},
            "sentiment": {"compound": 0.0},
        }
        service.tracker.append(conversation, {"event": "user", "text": text, "timestamp": at, "parse_data": parse})
    else:
        service.tracker.append(conversation, {"event": "bot", "text": text, "timestamp": at, **extra})


def slots(service, conversation: str, **values) -> None:
    for name, value in values.items():
        service.tracker.append(
            conversation, {"event": "slot", "name": name, "value": value, "timestamp": service.clock().timestamp()}
        )


@pytest.fixture
def history(service):
    """A bot-contained FAQ, a misunderstood message, and a VIP handed over, answered after 90 s,
    resolved and rated 5."""
    slots(service, "faq-1", tier="standard", journey_stage="active", customer_id="cust-1")
    say(service, "faq-1", "customer", "how do I reset my password")
    say(service, "faq-1", "bot", "Use the reset link on the sign-in page.")
    service.clock.advance(minutes=1)
    slots(service, "lost-1", tier="free", journey_stage="active", customer_id="cust-2")
    say(service, "lost-1", "customer", "Flibber the gnomes", intent="nlu_fallback", confidence=0.2)
    say(service, "lost-1", "bot", "Sorry, I didn't get that.")
    service.clock.advance(minutes=1)
    slots(service, "vip-1", tier="vip", journey_stage="active", customer_id="demo-vip", nps=9, last_csat=5)
    say(service, "vip-1", "customer", "I want to talk to a person", intent="request_human")
    say(service, "vip-1", "bot", "I'm passing you to our concierge team.")
    handoff = service.services.queue.enqueue(
        "vip-1",
        "demo-vip",
        "vip",
        {"tier": "vip", "journey_stage": "active", "customer_id": "demo-vip", "nps": 9, "last_csat": 5},
        "concierge",
        1,
        [{"code": "asked_for_person", "text": "customer asked for a person"}, {"code": "segment", "text": "vip"}],
        120,
        service.clock(),
    )
    assert service.api("POST", f"/api/handoffs/{handoff.id}/claim").status == 200
    service.clock.advance(seconds=90)
    assert service.api("POST", f"/api/handoffs/{handoff.id}/messages", json={"text": "Hi, Alice here."}).status == 201
    service.clock.advance(minutes=10)
    assert (
        service.api("POST", f"/api/handoffs/{handoff.id}/resolve", json={"resolution_code": "answered"}).status == 200
    )
    service.clock.advance(seconds=30)
    service.services.queue.record_csat(handoff.id, 5, service.clock())
    say(service, "vip-1", "customer", "5", intent="rate_csat")
    return handoff


def test_the_summary_counts_what_was_stored(service, history):
    summary = service.api("GET", "/api/analytics/summary?by=tier", person="lena").json
    today = service.clock().astimezone(service.services.rules.timezone).date()
    assert (summary["from"], summary["to"], summary["by"]) == (
        (today - timedelta(days=6)).isoformat(),
        today.isoformat(),
        "tier",
    )
    total = summary["total"]
    assert (total["key"], total["conversations"], total["contained"], total["handoffs"]) == ("total", 3, 2, 1)
    assert total["containment_rate"] == round(2 / 3, 4) and total["handoff_rate"] == round(1 / 3, 4)
    assert total["handoff_reasons"] == {"asked_for_person": 1, "segment": 1}
    assert total["first_response_p50_s"] == 90.0 and total["first_response_p90_s"] == 90.0
    assert total["resolution_p50_s"] == 690.0
    assert total["sla_attainment"] == {"first_response": 1.0, "next_response": None, "resolution": 1.0}
    assert (total["abandoned"], total["csat_responses"], total["csat_positive_rate"], total["csat_response_rate"]) == (
        0,
        1,
        1.0,
        1.0,
    )
    # the rating "5" went to the bot after the hand-back: parsed, understood
    assert (total["nlu_messages"], total["nlu_fallbacks"], total["fallback_rate"]) == (4, 1, 0.25)
    vip = next(g for g in summary["groups"] if g["key"] == "vip")
    assert (vip["conversations"], vip["handoffs"], vip["containment_rate"]) == (1, 1, 0.0)
    assert summary["previous"]["conversations"] == 0 and summary["previous"]["containment_rate"] is None
    assert set(summary["previous"]) == set(total) and summary["previous"]["key"] == "total"
    # the same days just before: a week later, this week is the previous period
    later = service.clock() + timedelta(days=7)
    first, last = (later - timedelta(days=6)).date().isoformat(), later.date().isoformat()
    moved = service.api("GET", f"/api/analytics/summary?from={first}&to={last}", person="lena").json
    assert (moved["total"]["conversations"], moved["previous"]["conversations"]) == (0, 3)
    assert set(summary["total"]) == set(vip)


def test_drill_down_detail_csv_and_misunderstood(service, history):
    listed = service.api("GET", "/api/analytics/conversations?by=tier&key=vip&metric=handoffs", person="lena").json
    assert listed["count"] == 1
    row = listed["conversations"][0]
    assert (row["conversation_id"], row["handoff_id"], row["channel"], row["csat"], row["seeded"]) == (
        "vip-1",
        history.id,
        "chat",
        5,
        False,
    )
    assert row["sla"] == {"first_response": True, "next_response": None, "resolution": True}
    reason = service.api("GET", "/api/analytics/conversations?metric=reason:segment", person="tara").json
    assert reason["count"] == 1
    everyone = service.api("GET", "/api/analytics/conversations?limit=2", person="lena").json
    assert everyone["count"] == 3 and [c["conversation_id"] for c in everyone["conversations"]] == ["vip-1", "lost-1"]
    assert service.api("GET", "/api/analytics/conversations?limit=none", person="lena").status == 400
    detail = service.api("GET", "/api/analytics/conversations/vip-1", person="lena").json
    said = [(m["who"], m["text"]) for m in detail["transcript"]]
    assert said[:2] == [("customer", "I want to talk to a person"), ("bot", "I'm passing you to our concierge team.")]
    assert ("agent", "Hi, Alice here.") in said and said[-1] == ("customer", "5")
    assert service.api("GET", "/api/analytics/conversations/nobody", person="lena").status == 404

    export = service.api("GET", "/api/analytics/export.csv?by=tier", person="lena")
    assert export.status == 200 and export.headers["content-type"].startswith("text/csv")
    today = service.clock().astimezone(service.services.rules.timezone).date()
    name = f"analytics-{(today - timedelta(days=6)).isoformat()}-{today.isoformat()}-tier.csv"
    assert export.headers["content-disposition"] == f'attachment; filename="{name}"'
    rows = list(csv.DictReader(io.StringIO(export.body.decode())))
    assert [r["key"] for r in rows] == ["vip", "premium", "standard", "free", "anonymous", "total"]
    assert rows[-1]["conversations"] == "3" and rows[0]["reason:asked_for_person"] == "1"
    assert rows[0]["sla_attainment.first_response"] == "1.0"
    listed_csv = service.api("GET", "/api/analytics/export.csv?what=conversations&metric=contained", person="lena")
    assert sorted(r["conversation_id"] for r in csv.DictReader(io.StringIO(listed_csv.body.decode()))) == [
        "faq-1",
        "lost-1",
    ]

    misunderstood = service.api("GET", "/api/analytics/misunderstood?limit=5", person="lena").json
    assert misunderstood == {
        "messages": [{"text": "flibber the gnomes", "count": 1, "intent": "nlu_fallback", "confidence": 0.2}]
    }


@pytest.mark.parametrize(
    "query, message",
    [
        ("by=colour", "by must be one of"),
        ("from=2026-13-01", "from must be a date"),
        ("from=2026-11-20&to=2026-11-01", "from must not be after to"),
        ("from=2024-01-01&to=2026-11-01", "At most 366 days"),
    ],
)
def test_bad_summary_requests_say_what_is_wrong(service, query, message):
    answer = service.api("GET", f"/api/analytics/summary?{query}", person="lena")
    assert answer.status == 400 and message in answer.json["error"]
    drill = service.api("GET", "/api/analytics/conversations?metric=everything", person="lena")
    assert drill.status == 400 and "metric must be one of" in drill.json["error"]


def test_the_rules_and_the_what_if(service, history):
    live = service.api("GET", "/api/analytics/rules", person="lena").json["yaml"]
    with open(service.settings.escalation_rules_file) as rules_file:
        assert live == rules_file.read()

    bad = service.api("POST", "/api/analytics/whatif", person="lena", json={"rules_yaml": "segments: 3\nqueues: []"})
    assert bad.status == 400 and bad.json["problems"] and all(isinstance(p, str) for p in bad.json["problems"])
    assert service.api("POST", "/api/analytics/whatif", person="lena", json={"days": 7}).status == 400
    assert (
        service.api("POST", "/api/analytics/whatif", person="lena", json={"rules_yaml": live, "days": 0}).status == 400
    )

    candidate = round_the_clock(read_rules_mapping(SHIPPED_RULES_FILE))
    candidate["segments"]["vip"]["queue"] = "general"  # VIPs to the general queue
    candidate["segments"]["vip"]["sla_minutes"] = 5
    answer = service.api(
        "POST", "/api/analytics/whatif", person="lena", json={"rules_yaml": yaml.safe_dump(candidate), "days": 7}
    )
    assert answer.status == 200, answer.body
    result = answer.json
    assert result["conversations"] == 3 and result["days"] == 7
    assert result["current"]["by_queue"] == {"concierge": 1} and result["candidate"]["by_queue"] == {"general": 1}
    assert result["current"]["by_tier"] == {"vip": 1} and result["current"]["stays"] == 2
    assert result["changed_count"] == 1
    change = result["changed"][0]
    assert (change["conversation_id"], change["tier"]) == ("vip-1", "vip")
    assert change["current"]["queue"] == "concierge" and change["candidate"] == {
        "action": "handover",
        "queue": "general",
        "priority": 1,
        "sla_minutes": 5.0,
    }
    assert set(result["current"]["sla_attainment_expected"]) == {"vip"}
