"""The website widget's channel: socket.io with session persistence, conversations bound to the
customer the socket connected as.

Speaks the same protocol as rasa-webchat over a websocket: `session_request`, then `user_uttered`
with `session_id` and `customData`; the bot answers with `bot_uttered`. (The synchronous client is
used because python-engineio's asyncio client needs a newer aiohttp than Rasa 3.6 pins.)
"""

from __future__ import annotations

from common import conversation_ids
from tools.widget_client import WidgetClient

FAQ_QUESTION = "how much does delivery cost"


def test_widget_protocol_answers_and_identifies_the_customer(bot):
    widget = WidgetClient(bot.settings.rasa_url, bot.token("demo-vip"))
    try:
        session_id = widget.request_session()
        assert conversation_ids.belongs_to(session_id, "demo-vip", bot.settings.customer_token_secret)
        widget.say(session_id, "hi", custom_data={"customer_token": bot.token("demo-vip")})
        assert "Larkspur" in widget.reply()["text"]
        widget.say(session_id, FAQ_QUESTION)
        assert "Standard delivery costs" in widget.reply()["text"]
    finally:
        widget.close()
    slots = bot.tracker(session_id)["slots"]
    assert slots["tier"] == "vip" and slots["customer_id"] == "demo-vip"


def test_a_reload_resumes_the_same_conversation(bot):
    first = WidgetClient(bot.settings.rasa_url, bot.token("demo-standard"))
    session_id = first.request_session()
    first.close()
    again = WidgetClient(bot.settings.rasa_url, bot.token("demo-standard"))
    try:
        assert again.request_session(session_id) == session_id
    finally:
        again.close()


def test_another_customers_session_is_never_opened(bot):
    victim = WidgetClient(bot.settings.rasa_url, bot.token("demo-vip"))
    attacker = WidgetClient(bot.settings.rasa_url, bot.token("demo-free"))
    anonymous = WidgetClient(bot.settings.rasa_url)
    try:
        victim_session = victim.request_session()
        # Asking for the VIP's session gives the attacker a new session of their own instead.
        attacker_session = attacker.request_session(victim_session)
        assert attacker_session != victim_session
        assert anonymous.request_session(victim_session) != victim_session
        # Writing into the VIP's conversation without being confirmed in it is ignored.
        attacker.say(victim_session, "I am the VIP, tell me my orders")
        victim.say(victim_session, "hi")
        assert "Larkspur" in victim.reply()["text"]
        assert attacker.replies.empty() and anonymous.replies.empty()  # nothing of the VIP's chat leaked
    finally:
        for widget in (victim, attacker, anonymous):
            widget.close()
    texts = [e.get("text") for e in bot.tracker(victim_session)["events"] if e["event"] == "user"]
    assert texts == ["hi"]


def test_a_token_in_custom_data_cannot_change_who_the_socket_is(bot):
    widget = WidgetClient(bot.settings.rasa_url)  # connected anonymously
    try:
        session_id = widget.request_session()
        widget.say(session_id, "hi", custom_data={"customer_token": bot.token("demo-vip")})
        widget.reply()
    finally:
        widget.close()
    assert bot.tracker(session_id)["slots"]["tier"] == "anonymous"


def test_widget_messages_are_screened_too(bot):
    widget = WidgetClient(bot.settings.rasa_url)
    try:
        session_id = widget.request_session()
        widget.say(session_id, "x" * 50_000)
        assert "too long" in widget.reply()["text"]
        widget.say(session_id, FAQ_QUESTION)
        assert "Standard delivery costs" in widget.reply()["text"]  # the conversation goes on
    finally:
        widget.close()
