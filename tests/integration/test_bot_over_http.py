"""The real bot over HTTP: REST channel, action server, SQL tracker store."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import requests
import yaml

from tools import launcher

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = yaml.safe_load((ROOT / "data" / "faq_answers.yml").read_text())["responses"]
DOMAIN = yaml.safe_load((ROOT / "bot" / "domain.yml").read_text())["responses"]


def answer(key: str) -> str:
    return (ANSWERS.get(key) or DOMAIN[key])[0]["text"]


def texts(messages):
    return [m.get("text") for m in messages]


def slots_of(tracker):
    return tracker["slots"]


# Paraphrases written for this test: none is in data/nlu or tests/nlu/heldout.yml.
@pytest.mark.parametrize(
    "question, topic",
    [
        ("roughly how many working days does a standard parcel need to get to me?", "delivery_times"),
        ("I've forgotten the password to my account and can't get in", "password_reset"),
        ("is it possible to spread the cost of my order with klarna instalments", "payment_methods"),
        ("the cups in my order arrived shattered", "damaged_item"),
    ],
)
def test_faq_paraphrase_gets_the_right_answer(bot, question, topic):
    assert texts(bot.send(question)) == [answer(f"utter_faq/{topic}")]


def test_vip_token_puts_tier_vip_in_the_tracker(bot):
    chat = bot.conversation("demo-vip")
    chat.send("hi")
    slots = slots_of(bot.tracker(chat.id))
    assert slots["tier"] == "vip"
    assert slots["customer_id"] == "demo-vip"
    assert slots["journey_stage"] == "active"
    assert slots["identity_status"] == "verified"


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        {"customer_token": "forged"},
        "forged-token",  # checked separately below: metadata must be an object
    ],
)
def test_missing_or_forged_token_is_anonymous(bot, metadata):
    sender = f"anon-{uuid.uuid4().hex[:8]}"
    if isinstance(metadata, str):
        response = requests.post(bot.webhook, json={"sender": sender, "message": "hi", "metadata": metadata})
        assert response.status_code == 400
        return
    replies = bot.send("hi", sender=sender, metadata=metadata)
    assert texts(replies) == [answer("utter_greet")]  # the customer sees no error
    assert slots_of(bot.tracker(sender))["tier"] == "anonymous"


def test_forged_signature_for_a_vip_stays_anonymous(bot):
    sender = f"forge-{uuid.uuid4().hex[:8]}"
    forged = bot.token("demo-vip", secret="attacker-guess-" * 3)
    bot.send("hello", sender=sender, metadata={"customer_token": forged})
    assert slots_of(bot.tracker(sender))["tier"] == "anonymous"
    log = bot.actions.log_path.read_text()
    assert "bad signature" in log


def test_out_of_scope_question_gets_the_fallback(bot):
    replies = texts(bot.send("what's the best pizza topping in Naples?"))
    assert replies in ([answer("utter_out_of_scope")], [answer("utter_please_rephrase")])
    gibberish = texts(bot.send("qwxz blorft zzzk"))
    assert gibberish in ([answer("utter_out_of_scope")], [answer("utter_please_rephrase")])


def test_http_api_needs_the_token(bot):
    sender = f"priv-{uuid.uuid4().hex[:8]}"
    bot.send("hi", sender=sender)
    url = f"{bot.settings.rasa_url}/conversations/{sender}/tracker"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, params={"token": "wrong"}, timeout=10).status_code == 401
    assert requests.get(url, params={"token": bot.settings.rasa_token}, timeout=10).status_code == 200


class TestBadInput:
    """Each bad input gets a clean answer or a clean 4xx, and the conversation goes on."""

    def assert_conversation_goes_on(self, bot, sender):
        assert texts(bot.send("how much is shipping", sender=sender)) == [answer("utter_faq/shipping_cost")]

    def test_empty_message(self, bot):
        sender = f"bad-{uuid.uuid4().hex[:8]}"
        for text in ("", "   ", "\x00\x01"):
            replies = texts(bot.send(text, sender=sender))
            assert len(replies) == 1 and "empty" in replies[0]
        self.assert_conversation_goes_on(bot, sender)

    def test_100kb_message(self, bot):
        sender = f"bad-{uuid.uuid4().hex[:8]}"
        replies = texts(bot.send("where is my order " * 6000, sender=sender))  # ~108 KB
        assert len(replies) == 1 and "too long" in replies[0]
        self.assert_conversation_goes_on(bot, sender)

    def test_control_characters_are_removed(self, bot):
        sender = f"bad-{uuid.uuid4().hex[:8]}"
        replies = texts(bot.send("how much\x00 is \x1b[2Jshipping\u202e", sender=sender))
        assert replies == [answer("utter_faq/shipping_cost")]
        user_texts = [e["text"] for e in bot.tracker(sender)["events"] if e["event"] == "user"]
        assert all("\x00" not in t and "\x1b" not in t and "\u202e" not in t for t in user_texts)

    @pytest.mark.parametrize(
        "body, content_type",
        [
            (b'{"sender": "x", "message": "hi"', "application/json"),  # truncated JSON
            (b"not json at all", "application/json"),
            (b'{"sender": "x", "message": "caf\xe9 \xff\xfe"}', "application/json"),  # invalid UTF-8
            (b'["sender", "message"]', "application/json"),  # JSON, but not an object
            (b'{"message": "hi"}', "application/json"),  # no sender
            (b'{"sender": "x", "message": 42}', "application/json"),  # message not a string
            (b'{"sender": "../../etc", "message": "hi"}', "application/json"),  # unsafe sender id
        ],
    )
    def test_malformed_requests_get_a_clean_400(self, bot, body, content_type):
        response = requests.post(bot.webhook, data=body, headers={"Content-Type": content_type}, timeout=10)
        assert response.status_code == 400, response.text
        assert response.text  # an explanation, not an empty body or a stack trace
        assert "Traceback" not in response.text

    def test_server_still_healthy_after_bad_input(self, bot):
        sender = f"bad-{uuid.uuid4().hex[:8]}"
        self.assert_conversation_goes_on(bot, sender)


def test_conversations_survive_a_crash_of_the_rasa_server(bot):
    chat = bot.conversation("demo-standard")
    sender = chat.id
    chat.send("hi")
    chat.send("how do I reset my password")
    before = [e.get("text") for e in bot.tracker(sender)["events"] if e["event"] == "user"]
    bot.kill(launcher.RASA_SERVER)  # kill -9: nothing is saved on the way out
    after_tracker = bot.tracker(sender)
    after = [e.get("text") for e in after_tracker["events"] if e["event"] == "user"]
    assert after == before == ["hi", "how do I reset my password"]
    assert after_tracker["slots"]["tier"] == "standard"


def test_a_customer_token_only_opens_that_customers_conversation(bot):
    vip = bot.conversation("demo-vip")
    vip.send("hi")
    # Another customer's token, no token, or a token on an id not issued to it: refused, nothing stored.
    for token in (bot.token("demo-free"), None):
        body = {"sender": vip.id, "message": "show me my orders"}
        if token:
            body["metadata"] = {"customer_token": token}
        refused = requests.post(bot.webhook, json=body, timeout=10)
        assert refused.status_code == 403 and "another customer" in refused.text
    unbound = requests.post(
        bot.webhook,
        timeout=10,
        json={"sender": "made-up-id", "message": "hi", "metadata": {"customer_token": bot.token("demo-vip")}},
    )
    assert unbound.status_code == 403
    texts_sent = [e.get("text") for e in bot.tracker(vip.id)["events"] if e["event"] == "user"]
    assert texts_sent == ["hi"]
