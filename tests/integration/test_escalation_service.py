"""What only the running escalation service and Rasa show (every route, role and error of the API is
tested in-process in tests/unit/web/): resolving resumes the real Rasa conversation without answering
the backlog, and SLA breaches are recorded by the service's own timer."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import requests

from common.database import Database
from escalation.queue.handoffs import HandoffQueue

FAQ = "how much is shipping"


def handed_over(bot, customer_id, tier, priority, sla_seconds, text="this is the third time I ask!!!"):
    """A conversation with the bot, paused and queued as action_escalate does it."""
    chat = bot.conversation(customer_id)
    chat.send("hi")
    chat.send(text)
    requests.post(
        f"{bot.settings.rasa_url}/conversations/{chat.id}/tracker/events",
        params={"token": bot.settings.rasa_token},
        json=[{"event": "pause"}],
        timeout=10,
    ).raise_for_status()
    queue = HandoffQueue(Database.from_url(bot.settings.customer_db_url))
    handoff = queue.enqueue(
        chat.id,
        customer_id,
        tier,
        {"tier": tier},
        "general",
        priority,
        [{"code": "asked_for_person", "text": "test handoff"}],
        sla_seconds,
        datetime.now(timezone.utc),
    )
    return chat, handoff


def test_resolve_hands_back_to_the_bot_which_leaves_the_backlog_alone(bot):
    chat, handoff = handed_over(bot, "demo-detractor", "standard", 2, 3600)
    assert bot.api("POST", f"/api/handoffs/{handoff.id}/claim").status_code == 200
    # While paused, the customer's messages are recorded for the agent and the bot stays silent.
    assert chat.send("hello? is anyone there") == []
    detail = bot.api("GET", f"/api/handoffs/{handoff.id}").json()
    assert [line["text"] for line in detail["transcript"] if line["sender"] == "customer"][
        -1
    ] == "hello? is anyone there"

    resolved = bot.api("POST", f"/api/handoffs/{handoff.id}/resolve")
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    replies = chat.send(FAQ)
    assert replies and "Standard delivery costs" in replies[0]["text"]  # the bot answers again
    events = bot.tracker(chat.id)["events"]
    after_resume = events[max(i for i, e in enumerate(events) if e["event"] == "resume") :]
    bot_texts = [e["text"] for e in after_resume if e["event"] == "bot"]
    # The rating question, then the answer to the new question; nothing for the backlog sent during the handoff.
    assert len(bot_texts) == 2 and "rate" in bot_texts[0]


def test_sla_breaches_are_recorded_by_the_services_timer(bot):
    _, handoff = handed_over(bot, "demo-free", "free", 4, 1)  # due in one second
    deadline, detail = time.monotonic() + 20, {}
    while time.monotonic() < deadline and not detail.get("sla_breached_at"):
        detail = bot.api("GET", f"/api/handoffs/{handoff.id}").json()  # a read of one handoff, not the list
        time.sleep(0.5)  # polling for the condition; the timer runs every 5 s
    assert detail["sla_breached_at"], "the service's upkeep did not record the breach"
