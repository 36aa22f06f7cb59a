"""The agents' API against the real escalation service and Rasa server.

The Rasa side of a handoff (pausing the conversation when the policy says so) is not wired in yet;
these tests pause the conversation through Rasa's API the way the escalation action will.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
import requests

from escalation.queue.agents import agent_token
from escalation.queue.handoffs import HandoffQueue
from common.crm import engine_for

FAQ = "how much is shipping"


def api(bot, method, path, agent="alice", **kwargs):
    headers = {"Authorization": f"Bearer {agent_token(agent, bot.settings.agent_token_secret)}"} if agent else {}
    return requests.request(method, f"{bot.escalation_url}{path}", headers=headers, timeout=15, **kwargs)


def handed_over(bot, customer_id, tier, priority, sla_seconds, text="this is the third time I ask!!!"):
    """A conversation with the bot, paused and queued as the escalation action will do it."""
    chat = bot.conversation(customer_id)
    sender = chat.id
    chat.send("hi")
    chat.send(text)
    requests.post(f"{bot.settings.rasa_url}/conversations/{sender}/tracker/events",
                  params={"token": bot.settings.rasa_token}, json=[{"event": "pause"}], timeout=10).raise_for_status()
    queue = HandoffQueue(engine_for(bot.settings.customer_db_url))
    handoff = queue.enqueue(sender, customer_id, tier, {"tier": tier}, "general", priority, ["test handoff"],
                            sla_seconds, datetime.now(timezone.utc))
    return chat, handoff


def test_credentials_are_required(bot):
    assert api(bot, "GET", "/api/handoffs", agent=None).status_code == 401
    forged = requests.get(f"{bot.escalation_url}/api/handoffs", timeout=10,
                          headers={"Authorization": f"Bearer {agent_token('alice', 'not-the-secret')}"})
    assert forged.status_code == 401 and "error" in forged.json()
    assert api(bot, "GET", "/api/handoffs", agent="mallory").status_code == 401  # not an agent


def test_queue_order_vip_first_even_when_later(bot):
    _, standard = handed_over(bot, "demo-standard", "standard", 3, 3600)
    _, vip = handed_over(bot, "demo-vip", "vip", 1, 120)
    listed = api(bot, "GET", "/api/handoffs?status=waiting").json()
    ids = [h["id"] for h in listed]
    assert ids.index(vip.id) < ids.index(standard.id)
    entry = next(h for h in listed if h["id"] == vip.id)
    for field in ("id", "conversation_id", "customer_id", "tier", "queue", "priority", "sla_due_at", "reasons"):
        assert field in entry


def test_claim_work_and_resolve_hands_back_to_the_bot(bot):
    chat, handoff = handed_over(bot, "demo-detractor", "standard", 2, 3600)
    sender = chat.id
    assert api(bot, "POST", f"/api/handoffs/{handoff.id}/claim").status_code == 200
    taken = api(bot, "POST", f"/api/handoffs/{handoff.id}/claim", agent="bob")
    assert taken.status_code == 409 and "alice" in taken.json()["error"]
    assert api(bot, "POST", f"/api/handoffs/{handoff.id}/resolve", agent="bob").status_code == 403
    assert api(bot, "POST", f"/api/handoffs/{handoff.id}/transfer", agent="bob",
               json={"queue": "retention"}).status_code == 403

    # While paused, the customer's messages are recorded for the agent and the bot stays silent.
    assert chat.send("hello? is anyone there") == []
    claimed_lease = api(bot, "GET", f"/api/handoffs/{handoff.id}", agent="bob").json()["lease_expires_at"]
    detail = api(bot, "GET", f"/api/handoffs/{handoff.id}").json()
    assert detail["lease_expires_at"] > claimed_lease  # alice looking at it renews her lease; bob's look did not
    assert detail["profile"]["customer_id"] == "demo-detractor" and detail["profile"]["last_csat"] == 1
    assert [line["text"] for line in detail["transcript"] if line["sender"] == "customer"][-1] == "hello? is anyone there"
    assert detail["sentiment_trend"] and min(detail["sentiment_trend"]) < 0

    resolved = api(bot, "POST", f"/api/handoffs/{handoff.id}/resolve")
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    replies = chat.send(FAQ)
    assert replies and "Standard delivery costs" in replies[0]["text"]  # the bot answers again
    events = bot.tracker(sender)["events"]
    after_resume = events[max(i for i, e in enumerate(events) if e["event"] == "resume"):]
    bot_texts = [e["text"] for e in after_resume if e["event"] == "bot"]
    # The rating question, then the answer to the new question; nothing for the backlog sent during the handoff.
    assert len(bot_texts) == 2 and "rate" in bot_texts[0]


def test_transfer_and_errors_are_json(bot):
    _, handoff = handed_over(bot, "demo-churn-risk", "premium", 2, 600)
    assert api(bot, "POST", f"/api/handoffs/{handoff.id}/claim").status_code == 200
    bad = api(bot, "POST", f"/api/handoffs/{handoff.id}/transfer", json={"queue": "nowhere"})
    assert bad.status_code == 400 and "retention" in bad.json()["error"]
    moved = api(bot, "POST", f"/api/handoffs/{handoff.id}/transfer", json={"queue": "retention"})
    assert moved.status_code == 200 and moved.json()["queue"] == "retention" and moved.json()["status"] == "waiting"
    missing = api(bot, "GET", "/api/handoffs/no-such-id")
    assert missing.status_code == 404 and missing.json()["error"]
    assert api(bot, "GET", "/api/handoffs?status=everything").status_code == 400


def test_sla_breaches_are_recorded_on_a_timer(bot):
    _, handoff = handed_over(bot, "demo-free", "free", 4, 1)  # due in one second
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        detail = api(bot, "GET", f"/api/handoffs/{handoff.id}").json()  # a read of one handoff, not the list
        if detail["sla_breached_at"]:
            break
        time.sleep(1)
    assert detail["sla_breached_at"], "the service's upkeep did not record the breach"
