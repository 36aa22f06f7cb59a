"""What probing the running product as an attacker and as an unlucky operator found (2026-11-24), each
replayed against the real processes: every one of these worked before it was fixed."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from common.database import Database, migrate
from common.settings import throwaway_settings
from escalation.queue.agents import agent_token
from escalation.queue.handoffs import HandoffQueue
from tools import launcher
from tools.attacks import StuckServer, claimed_handoffs, forged_action_call, listening_addresses

IBAN_SCAM = "send the refund to my new IBAN NL00 FAKE 0000 0000 00"


def user_texts(bot, conversation_id: str):
    return [e.get("text") for e in bot.tracker(conversation_id)["events"] if e["event"] == "user"]


def texts(replies):
    return [r.get("text") for r in replies]


@pytest.mark.parametrize(
    "path",
    [f"/webhooks/rest/webhook{suffix}" for suffix in ("/", "//", "/?a=b", "?a=b")],
)
def test_no_spelling_of_the_webhook_skips_conversation_ownership(bot, path):
    vip = bot.conversation("demo-vip")
    vip.send("hi")
    posted = requests.post(f"{bot.settings.rasa_url}{path}", json={"sender": vip.id, "message": IBAN_SCAM}, timeout=30)
    assert posted.status_code in (403, 404), (path, posted.status_code, posted.text)
    assert IBAN_SCAM not in user_texts(bot, vip.id)


def test_the_action_server_answers_only_rasa_and_only_on_localhost(bot):
    url = f"http://127.0.0.1:{bot.settings.action_server_port}"
    sender = f"forged-{uuid.uuid4().hex[:8]}"
    forged = forged_action_call(sender)
    token = bot.settings.action_server_token
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}, {"X-Token": token}):
        refused = requests.post(f"{url}/webhook", json=forged, headers=headers, timeout=10)
        assert refused.status_code == 401, (headers.keys(), refused.text)
    assert requests.get(f"{url}/actions", timeout=10).status_code == 401
    assert requests.get(f"{url}/health", timeout=10).status_code == 200  # health checks need no token
    for status in ("waiting", "assigned"):
        assert sender not in [h["conversation_id"] for h in bot.api("GET", f"/api/handoffs?status={status}").json()]
    assert listening_addresses(bot.settings.action_server_port) == {"127.0.0.1"}


def back_to_normal(bot) -> None:
    """Once the supervisor has restarted the killed action server: everything answers, the queue is empty."""
    deadline = time.monotonic() + 60
    while bot.actions.process.poll() is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    bot.wait_until_up()
    bot.clear_queue()


def test_a_customer_who_asks_for_a_person_while_the_action_server_is_dead_still_reaches_the_queue(bot):
    chat = bot.conversation("demo-vip")
    chat.send("hi")
    log_start = len(bot.rasa.log_path.read_text(errors="replace"))
    with bot.supervisor.holding(launcher.ACTION_SERVER):  # it stays dead for this turn
        bot.actions.process.kill()  # kill -9
        bot.actions.process.wait()
        told = texts(chat.send("I want to talk to a person, nobody answers my emails"))
        assert told and any("team" in text or "colleague" in text for text in told), told
        waiting = bot.api("GET", "/api/handoffs?status=waiting").json()
        assert [h for h in waiting if h["conversation_id"] == chat.id], "no handoff was queued"
        rasa_log = bot.rasa.log_path.read_text(errors="replace")[log_start:]
        assert rasa_log.count("Action server unreachable for action_escalate; retrying") == 3
        assert "running action_escalate in the Rasa server instead" in rasa_log
    back_to_normal(bot)
    # Back to normal: the restarted action server runs the actions again.
    log_start = len(bot.rasa.log_path.read_text(errors="replace"))
    assert bot.conversation("demo-standard").send("hi")
    assert "in the Rasa server instead" not in bot.rasa.log_path.read_text(errors="replace")[log_start:]


def test_a_killed_action_server_never_leaves_a_silent_turn(bot):
    # Not held down: whether the restarted server answers a retry or Rasa runs the action itself depends
    # on how fast it starts; either way the customer gets an answer.
    chat = bot.conversation("demo-standard")
    chat.send("hi")
    log_start = len(bot.rasa.log_path.read_text(errors="replace"))
    bot.actions.process.kill()  # the supervisor restarts it after 1 s, while Rasa retries
    told = texts(chat.send("I want to talk to a person please"))
    assert told, "a silent turn"
    rasa_log = bot.rasa.log_path.read_text(errors="replace")[log_start:]
    assert "Action server unreachable" in rasa_log
    back_to_normal(bot)


def test_killing_the_escalation_service_loses_no_handoff(bot):
    chat = bot.conversation("demo-vip")
    chat.send("I want to talk to a person, this is the third time I ask!")
    before = [h for h in bot.api("GET", "/api/handoffs?status=waiting").json() if h["conversation_id"] == chat.id]
    assert before
    bot.kill(launcher.ESCALATION_SERVICE)
    after = [h for h in bot.api("GET", "/api/handoffs?status=waiting").json() if h["conversation_id"] == chat.id]
    assert [h["id"] for h in after] == [h["id"] for h in before]
    assert bot.api("POST", f"/api/handoffs/{after[0]['id']}/claim").status_code == 200
    bot.clear_queue()


def test_typing_an_intent_payload_still_gets_an_answer(bot):
    log_start = len(bot.rasa.log_path.read_text(errors="replace"))
    for payload in ("/faq", "/greet", '/rate_csat{"csat_score": 3}'):
        assert texts(bot.send(payload)), payload
    assert "KeyError" not in bot.rasa.log_path.read_text(errors="replace")[log_start:]


def test_the_service_stays_responsive_while_rasa_hangs(tmp_path: Path):
    stuck = StuckServer()
    settings = throwaway_settings(tmp_path, RASA_PORT=str(stuck.port))
    migrate(settings.customer_db_url)
    handoffs = claimed_handoffs(settings.customer_db_url, settings.demo_agent_password, 12, "c")
    queue = HandoffQueue(Database.from_url(settings.customer_db_url))
    service = launcher.start_escalation_service(settings, log_dir=tmp_path / "logs")
    url = f"http://127.0.0.1:{settings.escalation_port}"
    headers = {"Authorization": f"Bearer {agent_token('alice', settings.agent_token_secret)}"}
    try:
        launcher.wait_until_up(service)
        with ThreadPoolExecutor(max_workers=12) as pool:
            resolves = [
                pool.submit(requests.post, f"{url}/api/handoffs/{h}/resolve", headers=headers, timeout=60)
                for h in handoffs
            ]
            time.sleep(0.5)  # the resolves are now waiting for Rasa
            slowest = 0.0
            for path in ("/health", "/api/handoffs?status=assigned", f"/api/handoffs/{handoffs[0]}/messages?after=0"):
                started = time.monotonic()
                answered = requests.get(f"{url}{path}", headers=headers, timeout=30)
                slowest = max(slowest, time.monotonic() - started)
                assert answered.status_code == 200, (path, answered.text)
            assert slowest < 2.0, f"the service took {slowest:.1f} s to answer while Rasa hung"
            statuses = [future.result().status_code for future in resolves]
        assert statuses == [502] * len(handoffs)  # "try again", and each agent keeps their customer
        assert {queue.get(h).status for h in handoffs} == {"assigned"}
    finally:
        service.stop()
        stuck.close()


def test_sign_in_cannot_be_guessed_at_speed(bot):
    # An unknown name, so the shared system's real accounts stay usable; the limits count it the same.
    name = f"mallory-{uuid.uuid4().hex[:6]}"
    url = f"{bot.escalation_url}/api/sign-in"
    limit = bot.settings.sign_in_failures_per_account
    with ThreadPoolExecutor(max_workers=limit) as pool:
        answers = list(
            pool.map(lambda _: requests.post(url, json={"agent": name, "password": "guess"}, timeout=30), range(limit))
        )
    assert [a.status_code for a in answers] == [401] * limit
    limited = requests.post(url, json={"agent": name, "password": "another guess"}, timeout=30)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_clients_cannot_store_what_they_like_in_the_tracker(bot):
    chat = bot.conversation("demo-standard")
    huge = requests.post(
        bot.webhook,
        json={"sender": chat.id, "message": "hi", "metadata": {"customer_token": chat.token, "x": "y" * 20_000_000}},
        timeout=60,
    )
    assert huge.status_code == 413
    junk = {"customer_token": chat.token, "x": ["y"] * 1000, "tier": "vip"}
    assert texts(bot.send("hi", chat.id, junk))
    stored = [e.get("metadata") for e in bot.tracker(chat.id)["events"] if e["event"] == "user"]
    rasas_own = {"assistant_id", "model_id"}  # Rasa adds these itself
    assert stored and all(set(m or {}) <= {"customer_token", *rasas_own} for m in stored), stored


def test_typed_control_payloads_neither_wipe_identity_nor_interrupt_an_agent(bot):
    chat = bot.conversation("demo-standard")
    chat.send("hi")
    for typed in ("/restart", "/session_start", "/back"):
        chat.send(typed)
        slots = bot.tracker(chat.id)["slots"]
        assert (slots["tier"], slots["customer_id"]) == ("standard", "demo-standard"), typed
    vip = bot.conversation("demo-vip")
    vip.send("I want to talk to a person, this is the third time I ask!")  # handed over: the bot is paused
    try:
        assert texts(vip.send("/restart")) == []  # the bot stays silent while a person has the chat
    finally:
        bot.clear_queue()
