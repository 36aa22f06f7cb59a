"""The website widget's channel: socket.io with session persistence and `customData` metadata.

Speaks the same protocol as rasa-webchat over a websocket: `session_request`, then `user_uttered`
with `session_id` and `customData`; the bot answers with `bot_uttered`. (The synchronous client is
used because python-engineio's asyncio client needs a newer aiohttp than Rasa 3.6 pins.)
"""
from __future__ import annotations

import queue
import threading
import uuid

import socketio

FAQ_QUESTION = "how much does delivery cost"


def chat(url: str, session_id: str, messages, custom_data=None, timeout: float = 20):
    client = socketio.Client(reconnection=False)
    confirmed = threading.Event()
    replies: queue.Queue = queue.Queue()
    client.on("session_confirm", lambda data: confirmed.set())
    client.on("bot_uttered", lambda data: replies.put(data))
    client.connect(url, socketio_path="/socket.io", transports=["websocket"], wait_timeout=timeout)
    try:
        client.emit("session_request", {"session_id": session_id})
        assert confirmed.wait(timeout), "no session_confirm from the server"
        answers = []
        for text in messages:
            payload = {"message": text, "session_id": session_id}
            if custom_data is not None:
                payload["customData"] = custom_data
            client.emit("user_uttered", payload)
            answers.append(replies.get(timeout=timeout))
        return answers
    finally:
        client.disconnect()


def test_widget_protocol_answers_and_identifies_the_customer(bot):
    session_id = uuid.uuid4().hex
    answers = chat(bot.settings.rasa_url, session_id, ["hi", FAQ_QUESTION],
                   custom_data={"customer_token": bot.token("demo-vip")})
    assert "Larkspur" in answers[0]["text"]
    assert "Standard delivery costs" in answers[1]["text"]
    slots = bot.tracker(session_id)["slots"]
    assert slots["tier"] == "vip" and slots["customer_id"] == "demo-vip"


def test_widget_messages_are_screened_too(bot):
    session_id = uuid.uuid4().hex
    answers = chat(bot.settings.rasa_url, session_id, ["x" * 50_000, FAQ_QUESTION])
    assert "too long" in answers[0]["text"]
    assert "Standard delivery costs" in answers[1]["text"]  # the conversation goes on
