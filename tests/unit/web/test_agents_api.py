"""The agents' console API, in-process: every route, who may do what, errors, ordering, transfer,
queue membership, leases and SLA breaches (with a settable clock)."""

from __future__ import annotations

import pytest

from escalation.queue.handoffs import ClaimConflict


def test_queue_order_is_sla_due_time_then_priority_whoever_came_first(service):
    standard = service.handoff("demo-standard", priority=3, sla_seconds=3600)
    service.clock.advance(seconds=30)
    vip = service.handoff("demo-vip", priority=1, sla_seconds=120)
    listed = service.api("GET", "/api/handoffs?status=waiting").json
    assert [h["id"] for h in listed] == [vip.id, standard.id]
    assert set(listed[0]) >= {
        "id",
        "conversation_id",
        "customer_id",
        "tier",
        "queue",
        "priority",
        "sla_due_at",
        "reasons",
        "channel",
        "status",
    }
    assert listed[0]["reasons"] == [{"code": "asked_for_person", "text": "customer asked for a person"}]


@pytest.mark.parametrize("status", ["everything", "WAITING", "open"])
def test_an_unknown_status_is_refused(service, status):
    response = service.api("GET", f"/api/handoffs?status={status}")
    assert response.status == 400 and "waiting" in response.json["error"]


def test_agents_see_and_claim_only_their_queues(service):
    concierge = service.handoff("demo-vip", queue="concierge", priority=1, sla_seconds=120)
    general = service.handoff("demo-standard", queue="general")
    assert [h["id"] for h in service.api("GET", "/api/handoffs", person="bob").json] == [general.id]
    assert {h["id"] for h in service.api("GET", "/api/handoffs", person="alice").json} == {concierge.id, general.id}
    for path in (f"/api/handoffs/{concierge.id}", f"/api/handoffs/{concierge.id}/messages"):
        refused = service.api("GET", path, person="bob")
        assert refused.status == 403 and "concierge" in refused.json["error"]
    claim = service.api("POST", f"/api/handoffs/{concierge.id}/claim", person="bob")
    assert claim.status == 403 and "concierge queue, which bob does not serve" in claim.json["error"]
    assert service.services.queue.get(concierge.id).status == "waiting"  # nothing changed
    assert service.api("POST", f"/api/handoffs/{concierge.id}/claim", person="alice").status == 200
    # Once alice has it, she keeps seeing it among the assigned ones; bob still does not.
    assert [h["id"] for h in service.api("GET", "/api/handoffs?status=assigned").json] == [concierge.id]
    assert service.api("GET", "/api/handoffs?status=assigned", person="bob").json == []


def test_claim_greets_the_customer_and_only_one_agent_wins(service):
    handoff = service.handoff()
    claimed = service.api("POST", f"/api/handoffs/{handoff.id}/claim")
    assert claimed.status == 200 and claimed.json["agent_id"] == "alice" and claimed.json["status"] == "assigned"
    greeting = service.rasa.calls_named("say_as_agent")
    assert len(greeting) == 1 and "this is Alice" in greeting[0][2]
    taken = service.api("POST", f"/api/handoffs/{handoff.id}/claim", person="bob")
    assert taken.status == 409 and "alice" in taken.json["error"]


def test_a_callback_is_claimed_without_a_chat_greeting(service):
    handoff = service.services.queue.enqueue(
        "conversation-cb",
        "demo-churn-risk",
        "premium",
        {},
        "retention",
        2,
        [],
        600,
        service.clock(),
        channel="phone_callback",
    )
    assert service.api("POST", f"/api/handoffs/{handoff.id}/claim").status == 200
    assert service.rasa.calls_named("say_as_agent") == []


def test_a_claim_stands_when_the_greeting_cannot_be_delivered(service):
    handoff = service.handoff()
    service.rasa.down = True
    assert service.api("POST", f"/api/handoffs/{handoff.id}/claim").status == 200
    assert service.services.queue.get(handoff.id).agent_id == "alice"


def test_detail_has_profile_transcript_and_sentiment_and_renews_only_the_owners_lease(service):
    handoff = service.handoff("demo-detractor")
    service.api("POST", f"/api/handoffs/{handoff.id}/claim")
    lease = service.services.queue.get(handoff.id).lease_expires_at
    service.clock.advance(minutes=1)
    service.api("GET", f"/api/handoffs/{handoff.id}", person="bob")
    assert service.services.queue.get(handoff.id).lease_expires_at == lease  # bob looking renews nothing
    detail = service.api("GET", f"/api/handoffs/{handoff.id}").json
    assert detail["lease_expires_at"] > lease.isoformat()
    assert detail["profile"]["customer_id"] == "demo-detractor" and detail["profile"]["last_csat"] == 1
    senders = [line["sender"] for line in detail["transcript"]]
    assert senders == ["customer", "agent"]  # the complaint, then alice's greeting
    assert detail["sentiment_trend"] and detail["sentiment_trend"][0] < 0
    assert detail["cursor"] == detail["transcript"][-1]["id"]


def test_messages_after_a_cursor_and_the_long_poll(service):
    handoff = service.handoff()
    first = service.api("GET", f"/api/handoffs/{handoff.id}/messages?after=0").json
    assert [m["text"] for m in first["messages"]] == ["this is the third time I ask!!!"]
    nothing = service.api("GET", f"/api/handoffs/{handoff.id}/messages?after={first['cursor']}&wait=0.3").json
    assert nothing["messages"] == [] and nothing["cursor"] == first["cursor"] and nothing["status"] == "waiting"
    service.tracker.customer_says(handoff.conversation_id, "hello?")
    later = service.api("GET", f"/api/handoffs/{handoff.id}/messages?after={first['cursor']}&wait=5").json
    assert [m["text"] for m in later["messages"]] == ["hello?"]


@pytest.mark.parametrize("query", ["after=abc", "wait=soon", "after=1.5"])
def test_bad_cursors_are_refused(service, query):
    handoff = service.handoff()
    assert service.api("GET", f"/api/handoffs/{handoff.id}/messages?{query}").status == 400


def test_writing_to_the_customer(service):
    handoff = service.handoff()
    path = f"/api/handoffs/{handoff.id}/messages"
    not_claimed = service.api("POST", path, json={"text": "hi"})
    assert not_claimed.status == 403 and "claim it first" in not_claimed.json["error"]
    service.api("POST", f"/api/handoffs/{handoff.id}/claim")
    assert service.api("POST", path, person="bob", json={"text": "hi"}).status == 403
    assert service.api("POST", path, person=None, json={"text": "hi"}).status == 401
    for bad in ({"text": "   "}, {"text": "x" * 100_000}, {"text": 5}, {}, ["hi"]):
        assert service.api("POST", path, json=bad).status == 400, bad
    sent = service.api("POST", path, json={"text": "  I'm on it.\x00 "})
    assert sent.status == 201 and sent.json == {"sent": True, "text": "I'm on it."}
    assert service.rasa.calls_named("say_as_agent")[-1][1:] == (handoff.conversation_id, "I'm on it.", "alice")
    service.rasa.down = True
    undelivered = service.api("POST", path, json={"text": "still there?"})
    assert undelivered.status == 502 and "try again" in undelivered.json["error"]


def test_resolve_hands_back_to_the_bot_and_closes_the_handoff(service):
    handoff = service.handoff()
    assert service.api("POST", f"/api/handoffs/{handoff.id}/resolve").status == 403  # not claimed
    service.api("POST", f"/api/handoffs/{handoff.id}/claim")
    assert service.api("POST", f"/api/handoffs/{handoff.id}/resolve", person="bob").status == 403
    service.rasa.down = True
    assert service.api("POST", f"/api/handoffs/{handoff.id}/resolve").status == 502
    assert service.services.queue.get(handoff.id).status == "assigned"  # nothing half-done
    service.rasa.down = False
    resolved = service.api("POST", f"/api/handoffs/{handoff.id}/resolve")
    assert resolved.status == 200 and resolved.json["status"] == "resolved"
    assert service.rasa.calls_named("hand_back_asking_for_csat") == [
        ("hand_back_asking_for_csat", handoff.conversation_id, handoff.id)
    ]
    closed = service.api("POST", f"/api/handoffs/{handoff.id}/messages", json={"text": "still there?"})
    assert closed.status == 409 and "resolved" in closed.json["error"]


def test_transfer_only_to_an_existing_queue_and_only_by_the_owner(service):
    handoff = service.handoff("demo-churn-risk", sla_seconds=600)
    service.api("POST", f"/api/handoffs/{handoff.id}/claim")
    assert (
        service.api("POST", f"/api/handoffs/{handoff.id}/transfer", person="bob", json={"queue": "retention"}).status
        == 403
    )
    for bad in ({"queue": "nowhere"}, {"queue": None}, {}):
        refused = service.api("POST", f"/api/handoffs/{handoff.id}/transfer", json=bad)
        assert refused.status == 400 and "retention" in refused.json["error"]
    moved = service.api("POST", f"/api/handoffs/{handoff.id}/transfer", json={"queue": "retention"}).json
    assert moved["queue"] == "retention" and moved["status"] == "waiting" and moved["agent_id"] is None
    assert moved["sla_due_at"] == handoff.sla_due_at.isoformat()  # the customer's clock keeps running
    assert service.api("GET", "/api/queues").json == {"queues": list(service.services.rules.queues)}


@pytest.mark.parametrize(
    "method, suffix",
    [("GET", ""), ("GET", "/messages"), ("POST", "/claim"), ("POST", "/resolve"), ("POST", "/messages")],
)
def test_unknown_handoffs_are_404(service, method, suffix):
    response = service.api(method, f"/api/handoffs/no-such-id{suffix}", json={"text": "hi"})
    assert response.status == 404 and response.json["error"]


def test_upkeep_records_sla_breaches_once_and_returns_silent_agents_handoffs(service):
    due_soon = service.handoff(sla_seconds=60)
    claimed = service.handoff(sla_seconds=30)  # the next in line: alice takes it by hand
    assert service.api("POST", f"/api/handoffs/{claimed.id}/claim").status == 200
    service.clock.advance(minutes=2)
    assert service.services.queue.upkeep(service.clock()) == (0, 1)
    breached_at = service.api("GET", f"/api/handoffs/{due_soon.id}").json["sla_breached_at"]
    assert breached_at == service.clock().isoformat()
    service.clock.advance(minutes=10)  # alice went silent past her lease
    # Her handoff is back in the queue, and now waiting past its own SLA: its breach is recorded too.
    assert service.services.queue.upkeep(service.clock()) == (1, 1)
    assert service.api("GET", f"/api/handoffs/{due_soon.id}").json["sla_breached_at"] == breached_at  # once
    back = service.api("GET", f"/api/handoffs/{claimed.id}").json
    assert back["status"] == "waiting" and back["agent_id"] is None


def test_a_claim_holds_only_while_the_handoff_is_in_a_queue_the_agent_serves(service):
    # bob saw it in general, then its owner transferred it to concierge before his claim arrived.
    handoff = service.handoff(queue="concierge")
    bob = service.services.agents.get("bob")
    with pytest.raises(ClaimConflict, match="concierge queue"):
        service.services.queue.claim(handoff.id, "bob", service.clock(), queues=bob.queues)
    assert service.services.queue.get(handoff.id).status == "waiting"
