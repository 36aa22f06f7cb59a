"""The live handoff over the real system, at the protocol level: a customer on the widget's socket,
an agent on the escalation service's API, Rasa in between. (test_browser_journey.py covers the same journey in
Chromium with the real widget and console.)"""

from __future__ import annotations

import pytest

from common.crm import CustomerRepository
from tools.widget_client import WidgetClient

COMPLAINT = "I'm still waiting for my refund, this is the third time I ask and nobody helps!!!"
FAQ = "how much does delivery cost"


def next_reply(widget: WidgetClient, timeout: float = 10) -> dict:
    return widget.replies.get(timeout=timeout)


@pytest.fixture(autouse=True)
def personas_keep_their_csat(bot):
    """Ratings given here change the demo personas' profiles; other tests rely on the seeded values."""
    customers = CustomerRepository.from_url(bot.settings.customer_db_url)
    before = [customers.get(pid) for pid in ("demo-vip", "demo-buyer")]
    yield
    customers.save_all(before)


@pytest.fixture
def vip_in_handoff(bot):
    """A VIP on the widget who complained: the bot handed the conversation to the concierge queue."""
    widget = WidgetClient(bot.settings.rasa_url, bot.token("demo-vip"))
    session_id = widget.request_session()
    widget.say(session_id, "hi")
    next_reply(widget)
    widget.say(session_id, COMPLAINT)
    told = next_reply(widget)["text"]
    waiting = bot.api("GET", "/api/handoffs?status=waiting").json()
    handoff = next(h for h in waiting if h["conversation_id"] == session_id)
    yield widget, session_id, handoff, told
    widget.close()


def test_the_whole_live_handoff(bot, vip_in_handoff):
    widget, session_id, handoff, told = vip_in_handoff
    assert "colleague" in told or "team" in told  # the customer is told a person is coming
    assert handoff["queue"] == "concierge" and handoff["reasons"]

    # The agent claims: the customer is greeted by a person.
    assert bot.api("POST", f"/api/handoffs/{handoff['id']}/claim").status_code == 200
    assert "Alice" in next_reply(widget)["text"]

    # Agent -> customer (how fast is measured by bench/relay_latency.py: goal under 1 s).
    sent = bot.api(
        "POST", f"/api/handoffs/{handoff['id']}/messages", json={"text": "I'm sorry! Let me check your refund."}
    )
    assert sent.status_code == 201, sent.text
    assert next_reply(widget)["text"] == "I'm sorry! Let me check your refund."

    # Customer -> agent, through the long-poll; the paused bot says nothing.
    cursor = bot.api("GET", f"/api/handoffs/{handoff['id']}").json()["cursor"]
    widget.say(session_id, "thank you, order 4417")
    update = bot.api("GET", f"/api/handoffs/{handoff['id']}/messages?after={cursor}&wait=10").json()
    assert [m["text"] for m in update["messages"]] == ["thank you, order 4417"]
    assert update["messages"][0]["sender"] == "customer"
    # The bot stays silent while a person has the conversation. Rasa sends a reply before it stores the
    # turn, so once the message reached the agent, any reply would already be here and in the tracker.
    assert widget.replies.empty()
    events = bot.tracker(session_id)["events"]
    last_user = max(i for i, e in enumerate(events) if e["event"] == "user")
    assert not [e for e in events[last_user:] if e["event"] == "bot"]

    detail = bot.api("GET", f"/api/handoffs/{handoff['id']}").json()
    senders = [m["sender"] for m in detail["transcript"]]
    assert senders[-3:] == ["agent", "agent", "customer"]
    assert detail["profile"]["tier"] == "vip" and detail["sentiment_trend"]
    # As the NLU stored it with the message: the combined detector's verdict, score and cues.
    assert set(detail["latest_sentiment"]) >= {
        "compound",
        "dissatisfaction",
        "dissatisfied",
        "model_probability",
        "cues",
    }
    complaint = next(m for m in detail["transcript"] if m["text"] == COMPLAINT)
    assert complaint["sentiment"]["dissatisfied"] and complaint["sentiment"]["cues"]

    # Resolve: the bot takes over again and asks for a rating with 1-5 buttons.
    log_before = bot.rasa.log_path.read_text(errors="replace")
    assert bot.api("POST", f"/api/handoffs/{handoff['id']}/resolve").status_code == 200
    question = next_reply(widget)
    assert "rate" in question["text"] and [b["title"] for b in question["quick_replies"]] == ["1", "2", "3", "4", "5"]
    payloads = [b["payload"] for b in question["quick_replies"]]
    assert payloads == [f'/rate_csat{{"csat_score": {n}}}' for n in range(1, 6)]
    new_log = bot.rasa.log_path.read_text(errors="replace")[len(log_before) :]
    assert " ERROR " not in new_log, new_log  # the buttons' payloads are not taken for slot placeholders
    widget.say(session_id, '/rate_csat{"csat_score": 4}')
    assert "Thank you" in next_reply(widget)["text"]
    rated = bot.api("GET", f"/api/handoffs/{handoff['id']}").json()
    assert rated["csat"] == 4 and rated["status"] == "resolved"
    assert CustomerRepository.from_url(bot.settings.customer_db_url).get("demo-vip").last_csat == 4

    # And the bot answers questions again, not the messages sent to the agent.
    widget.say(session_id, FAQ)
    assert "Standard delivery costs" in next_reply(widget)["text"]


def test_a_typed_rating_counts_too_and_a_low_one_flows_into_the_next_decision(bot):
    widget = WidgetClient(bot.settings.rasa_url, bot.token("demo-buyer"))
    try:
        session_id = widget.request_session()
        widget.say(session_id, "I want to talk to a person")
        next_reply(widget)
        handoff = next(
            h for h in bot.api("GET", "/api/handoffs?status=waiting").json() if h["conversation_id"] == session_id
        )
        bot.api("POST", f"/api/handoffs/{handoff['id']}/claim", agent="bob").raise_for_status()
        next_reply(widget)  # Bob's greeting
        bot.api("POST", f"/api/handoffs/{handoff['id']}/resolve", agent="bob").raise_for_status()
        next_reply(widget)  # the rating question
        widget.say(session_id, "2")
        assert "sorry" in next_reply(widget)["text"].lower()
        assert bot.api("GET", f"/api/handoffs/{handoff['id']}").json()["csat"] == 2
        assert bot.tracker(session_id)["slots"]["last_csat"] == 2
        assert CustomerRepository.from_url(bot.settings.customer_db_url).get("demo-buyer").last_csat == 2
        # A mild complaint stays with the bot for a buyer (test_escalation_conversations.py); after a
        # rating of 2 the same message reaches a person, and the reasons say why.
        widget.say(session_id, "I'm still waiting for my refund")
        next_reply(widget)
    finally:
        widget.close()
    decision = bot.tracker(session_id)["slots"]["escalation"]
    assert decision["action"] == "handover" and "low_csat" in [r["code"] for r in decision["reasons"]]
    assert "last CSAT 2/5" in [r["text"] for r in decision["reasons"]]
