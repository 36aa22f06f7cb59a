"""The scaled configuration (make demo-scaled) on real PostgreSQL, Redis, RabbitMQ and nginx: two Rasa
replicas, one action server and two escalation-service processes behind the proxy, on a throwaway
database, RabbitMQ queue and free ports. Agent messages across replicas, and the faults of issue 14:
a Rasa replica killed during 20 live conversations, the RabbitMQ connections closed under the bot, an
escalation-service process killed while agents claim handoffs.

Skipped, saying which, only when one of those services is absent."""

from __future__ import annotations

import asyncio
import queue
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import psycopg2
import pytest
import requests
import socketio
from playwright.sync_api import expect

from analytics.broker_events import BrokerEvents
from analytics.refresh import TrackerEvents
from common import conversation_ids
from common.database import Database
from common.rasa_api import RasaClient
from common.settings import throwaway_settings
from common.tokens import mint
from escalation.queue.agents import agent_token
from escalation.rules_file import write_round_the_clock_copy
from tools import launcher, scaled
from tools.widget_client import WidgetClient
from training import release
from training.project import BotProject

from .conftest import copy_project
from .test_browser_journey import (  # noqa: F401  (browser: the Chromium fixture)
    WAIT_MS,
    browser,
    console_errors,
    customer_says,
    last_bot_message,
    open_website_as,
    sign_in,
)

ASK_FOR_A_PERSON = "I want to talk to a human"
COMPLAINT = "I'm still waiting for my refund, this is the third time I ask and nobody helps!!!"
# Eight turns of a routine chat (the same the load bench uses), none of which hands over.
TURNS = (
    "hi",
    "how long does delivery take?",
    "how much does delivery cost",
    "can I return an item?",
    "how do I reset my password?",
    "what payment methods do you accept?",
    "do you ship abroad?",
    "thanks, bye",
)


def run_async(coroutine):
    """asyncio.run in a thread of its own: Playwright's sync API keeps an event loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass
class Scaled:
    system: scaled.ScaledSystem
    name: str  # of the database, the event queue and its exchange

    @property
    def settings(self):
        return self.system.settings

    def token(self, customer_id: str) -> str:
        s = self.settings
        return mint(customer_id, s.customer_token_secret, s.customer_token_issuer, 3600)

    def api(self, method: str, path: str, agent: str = "alice", **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {agent_token(agent, self.settings.agent_token_secret)}"}
        return requests.request(method, f"{self.system.escalation_url}{path}", headers=headers, timeout=30, **kwargs)

    def tracker(self, conversation_id: str) -> dict:
        return RasaClient(self.settings.rasa_url, self.settings.rasa_token).tracker(conversation_id)

    def rest(self, conversation_id: str, text: str, token: Optional[str]) -> List[dict]:
        body = {"sender": conversation_id, "message": text, "metadata": {"customer_token": token} if token else {}}
        response = requests.post(f"{self.settings.rasa_url}/webhooks/rest/webhook", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def kill(self, name: str) -> launcher.Service:
        """kill -9 of one process; returns the killed one (the supervisor starts another)."""
        killed = self.system.service(name)
        killed.process.kill()
        killed.process.wait()
        return killed

    def wait_restarted(self, name: str, killed: launcher.Service, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.system.service(name) is killed:
            assert time.monotonic() < deadline, f"the {name} was not restarted"
            time.sleep(0.2)
        self.system.wait_until_up()

    def stored_events(self, conversations: List[str]) -> Dict[str, List[dict]]:
        """What the analytics consumer took off the event broker's queue and stored, per conversation."""
        return BrokerEvents(Database.from_url(self.system.shared.customer_db_url)).of(conversations)


@pytest.fixture(scope="module")
def scaled_system(trained_model: Path, tmp_path_factory) -> Scaled:
    tmp = tmp_path_factory.mktemp("scaled")
    name = f"larkspur_test_{uuid.uuid4().hex[:10]}"
    (tmp / "project").mkdir()
    model = copy_project(tmp / "project", trained_model)  # releases write into the project's models/
    settings = throwaway_settings(
        tmp,
        BOT_PROJECT_DIR=tmp / "project",
        **scaled.throwaway_services(name),
        SCALED_PORT_BASE=scaled.free_port_base(),
        RASA_REPLICAS=2,
        ACTION_SERVERS=1,
        SERVICE_PROCESSES=2,
        ESCALATION_RULES_FILE=write_round_the_clock_copy(tmp / "rules_24x7.yml", routing="pull"),
        SIGN_IN_FAILURES_PER_ADDRESS="100000",
        **launcher.ALL_DAY_PRESENCE,
    )
    missing = scaled.problems(settings)
    if missing:
        pytest.skip("The scaled configuration needs these services: " + " ".join(missing))
    try:
        with scaled.running_scaled_system(settings, model, tmp / "run") as system:
            system.put_on_shift(("alice", "bob"))
            yield Scaled(system, name)
    finally:
        scaled.drop_throwaway_services(settings)


def waiting_handoff(s: Scaled, conversation_id: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        waiting = s.api("GET", "/api/handoffs?status=waiting").json()
        found = [h for h in waiting if h["conversation_id"] == conversation_id]
        if found or time.monotonic() > deadline:
            assert found, f"no waiting handoff for {conversation_id}"
            return found[0]
        time.sleep(0.2)


def test_the_proxy_serves_both_public_addresses_and_the_bot_answers_from_postgresql(scaled_system: Scaled):
    s = scaled_system
    assert requests.get(f"{s.system.escalation_url}/health", timeout=5).ok
    conversation = conversation_ids.issue(None, s.settings.customer_token_secret)
    replies = s.rest(conversation, "how long does delivery take?", None)
    assert any("delivery" in r.get("text", "").lower() for r in replies)
    with psycopg2.connect(s.settings.scaled_database_url) as db, db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events WHERE sender_id = %s AND type_name = 'user'", (conversation,))
        assert cursor.fetchone()[0] == 1  # Rasa's tracker store is the shared PostgreSQL database
    for url in s.system.layout.rasa_urls:  # every replica serves the model
        assert RasaClient(url, s.settings.rasa_token).loaded_model().endswith(".tar.gz")


def test_agent_messages_reach_the_widget_on_another_replica_within_a_second(scaled_system: Scaled):
    s = scaled_system
    holder, other = s.system.layout.rasa_urls
    widget = WidgetClient(holder, s.token("demo-vip"))  # the customer's socket is on replica 1
    try:
        session_id = widget.request_session()
        widget.say(session_id, "hi")
        widget.reply()
        widget.say(session_id, COMPLAINT)
        widget.reply()
        handoff = waiting_handoff(s, session_id)
        assert s.api("POST", f"/api/handoffs/{handoff['id']}/claim").status_code == 200
        assert "Alice" in widget.reply()["text"]
        latencies = []
        # 40 through the service (nginx gives its calls to both replicas in turn) ...
        for n in range(40):
            started = time.monotonic()
            sent = s.api("POST", f"/api/handoffs/{handoff['id']}/messages", json={"text": f"service message {n}"})
            assert sent.status_code == 201, sent.text
            assert widget.reply()["text"] == f"service message {n}"
            latencies.append(time.monotonic() - started)
        # ... and 40 straight into replica 2's HTTP API, which holds no socket of this customer.
        rasa = RasaClient(other, s.settings.rasa_token)
        for n in range(40):
            started = time.monotonic()
            rasa.say_as_agent(session_id, f"replica message {n}", "alice", "Alice")
            assert widget.reply()["text"] == f"replica message {n}"
            latencies.append(time.monotonic() - started)
        assert max(latencies) < 1.0, sorted(latencies)[-5:]
        assert widget.replies.empty()  # each once
        s.api("POST", f"/api/handoffs/{handoff['id']}/resolve").raise_for_status()
    finally:
        widget.close()


@pytest.mark.browser
def test_the_website_journey_in_chromium_through_the_proxy(scaled_system: Scaled, browser):  # noqa: F811
    """The real rasa-webchat widget (it starts on socket.io's long-polling transport, then upgrades) and
    the console, both through nginx in front of two replicas and two service processes."""
    s = scaled_system
    customer = open_website_as(browser, s.system, "demo-vip")  # the greeting arrived: the socket works
    customer_errors = console_errors(customer)
    customer_says(customer, "how long does delivery take?")
    expect(last_bot_message(customer)).to_contain_text("Standard delivery", timeout=WAIT_MS)
    agent = sign_in(browser, s.system)
    customer_says(customer, COMPLAINT)
    expect(last_bot_message(customer)).to_contain_text(re.compile("team|colleague"), timeout=WAIT_MS)
    top = agent.locator("#queue .handoff").first
    expect(top).to_contain_text("demo-vip", timeout=WAIT_MS)
    top.locator("button.claim").click()
    expect(last_bot_message(customer)).to_contain_text("Alice", timeout=WAIT_MS)
    for n in range(3):  # each through the service and whichever replica nginx picks
        agent.fill("#reply", f"Checking your refund ({n})")
        agent.press("#reply", "Enter")
        expect(last_bot_message(customer)).to_contain_text(f"Checking your refund ({n})", timeout=WAIT_MS)
    customer_says(customer, "Thanks! Order 4417.")
    expect(agent.locator("#transcript .from-customer").last).to_contain_text("Order 4417", timeout=WAIT_MS)
    assert customer_errors == []
    handoff = assigned_handoff(s, "demo-vip")
    s.api("POST", f"/api/handoffs/{handoff}/resolve").raise_for_status()
    customer.close()
    agent.close()


def assigned_handoff(s: Scaled, customer_id: str) -> str:
    handoffs = s.api("GET", "/api/handoffs?status=assigned").json()
    return next(h["id"] for h in handoffs if h.get("customer_id") == customer_id)


def test_the_consoles_long_poll_sees_the_customer_whichever_service_process_answers(scaled_system: Scaled):
    s = scaled_system
    widget = WidgetClient(s.settings.rasa_url, s.token("demo-vip"))
    try:
        session_id = widget.request_session()
        widget.say(session_id, COMPLAINT)
        widget.reply()
        handoff = waiting_handoff(s, session_id)
        s.api("POST", f"/api/handoffs/{handoff['id']}/claim").raise_for_status()
        widget.reply()  # the greeting
        for n in range(4):  # consecutive requests reach both service processes (nginx takes turns)
            cursor = s.api("GET", f"/api/handoffs/{handoff['id']}").json()["cursor"]
            widget.say(session_id, f"order 44{n}")
            update = s.api("GET", f"/api/handoffs/{handoff['id']}/messages?after={cursor}&wait=10").json()
            assert [m["text"] for m in update["messages"]] == [f"order 44{n}"]
        presence = [s.api("GET", "/api/me").json().get("presence") for _ in range(4)]
        assert set(presence) == {"online"}, presence  # presence is in the database, not in a process
        s.api("POST", f"/api/handoffs/{handoff['id']}/resolve").raise_for_status()
    finally:
        widget.close()


@dataclass
class Chat:
    """One customer's widget through the proxy, reconnecting as rasa-webchat does when its socket drops
    (a new socket asks for the same session), and resending a message only if it was not stored."""

    s: Scaled
    session_id: str = ""
    received: List[str] = field(default_factory=list)
    reconnects: int = 0
    resent: int = 0
    history: List[str] = field(default_factory=list)  # what happened, for the failure message
    widget: Optional[WidgetClient] = None

    def connect(self) -> None:
        # Anonymous visitors: a signed-in customer's profile may hand the chat to a person at once.
        widget = WidgetClient(self.s.settings.rasa_url, None, timeout=20)
        widget.client.on("disconnect", lambda: widget.replies.put(None))  # the socket dropped
        self.widget = widget
        confirmed = widget.request_session(self.session_id or None)
        assert not self.session_id or confirmed == self.session_id, "the conversation was not resumed"
        self.session_id = confirmed

    def stored_user_texts(self) -> List[str]:
        return [e["text"] for e in self.s.tracker(self.session_id)["events"] if e["event"] == "user"]

    def send(self, text: str) -> None:
        """Sends on the socket; one that dropped since the last answer is opened again first."""
        for _ in range(3):
            if not self.widget.client.connected:
                self.widget.close()
                self._reconnect()
            try:
                self.widget.say(self.session_id, text)
                self.history.append(f"{time.strftime('%X')} sent {text!r}")
                return
            except socketio.exceptions.BadNamespaceError:  # dropped just now
                continue
        raise AssertionError(f"{self.session_id}: could not send {text!r}")

    def turn(self, text: str, deadline_seconds: float = 180) -> None:
        # Patient: after a replica dies, one replica carries all 20 conversations, some wait out the dead
        # one's conversation lock (SCALED_LOCK_LIFETIME_SECONDS) and the test suite's other worker may be
        # training a model beside it. A message that was lost is never answered however long one waits.
        deadline = time.monotonic() + deadline_seconds
        self.send(text)
        while time.monotonic() < deadline:
            try:
                reply = self.widget.replies.get(timeout=5)
            except queue.Empty:
                continue  # slow (the other replica carries everyone now): keep waiting, as a customer does
            if isinstance(reply, dict):
                self.received.append(reply.get("text", ""))
                self._collect_rest_of_turn()
                return
            # The replica holding the socket died: the widget connects again (to the other replica). Rasa
            # sends a turn's answer before it stores the turn, so a stored message was answered (to the
            # socket that is gone); one not stored was lost with the replica, and the customer sends it again.
            self.widget.close()
            self._reconnect()
            if self.stored_user_texts().count(text) > self.sent_before(text):
                return
            self.resent += 1
            self.send(text)
        events = [(e["event"], e.get("text") or e.get("name")) for e in self.s.tracker(self.session_id)["events"]]
        raise AssertionError(
            f"{self.session_id}: no answer to {text!r} in {deadline_seconds} s; {self.history}; stored: {events[-8:]}"
        )

    def sent_before(self, text: str) -> int:
        return TURNS[: TURNS.index(text)].count(text) if text in TURNS else 0

    def _reconnect(self) -> None:
        for _ in range(30):
            try:
                self.connect()
                self.reconnects += 1
                self.history.append(f"{time.strftime('%X')} reconnected")
                return
            except Exception:  # the proxy may still pick the dead replica once, or it is restarting
                time.sleep(1)
        raise AssertionError(f"{self.session_id}: could not reconnect")

    def _collect_rest_of_turn(self) -> None:
        while True:
            try:
                more = self.widget.replies.get(timeout=0.3)
            except queue.Empty:
                return
            if isinstance(more, dict):
                self.received.append(more.get("text", ""))


def test_a_rasa_replica_killed_during_20_live_conversations_loses_nothing(scaled_system: Scaled):
    s = scaled_system
    chats = [Chat(s) for _ in range(20)]
    halfway = threading.Barrier(len(chats) + 1)

    def run(chat: Chat) -> Chat:
        chat.connect()
        for n, text in enumerate(TURNS):
            if n == 3:
                halfway.wait(timeout=120)
            chat.turn(text)
        return chat

    victim = s.system.rasa_names[0]
    with ThreadPoolExecutor(len(chats)) as pool:
        futures = [pool.submit(run, chat) for chat in chats]
        try:
            halfway.wait(timeout=120)
        except threading.BrokenBarrierError:
            for future in futures:
                future.result(timeout=1)  # a chat's own failure says more than the barrier's
            raise
        time.sleep(0.3)  # turn 4 is in flight on both replicas
        killed = s.kill(victim)
        results = [f.result(timeout=600) for f in futures]
    s.wait_restarted(victim, killed)

    assert sum(c.reconnects for c in results) >= 1  # some sockets were on the killed replica
    for chat in results:
        events = s.tracker(chat.session_id)["events"]
        users = [e["text"] for e in events if e["event"] == "user"]
        assert users == list(TURNS), (chat.session_id, users)  # every message stored once, in order
        # Each message was handled once: one listen after it, and never a second answer to it.
        listens_after = Counter()
        turn = -1
        for event in events:
            if event["event"] == "user":
                turn += 1
            elif event["event"] == "action" and event["name"] == "action_listen" and turn >= 0:
                listens_after[turn] += 1
        assert all(listens_after[t] == 1 for t in range(len(TURNS))), (chat.session_id, listens_after)
        stored_bot = Counter(e["text"] for e in events if e["event"] == "bot" and e.get("text"))
        extra = Counter(chat.received) - stored_bot
        assert not extra, f"{chat.session_id}: the widget got replies the conversation does not hold: {extra}"


def test_a_release_reaches_every_replica_and_a_restarted_replica_serves_it(scaled_system: Scaled):
    s = scaled_system
    project = Path(s.settings.bot_project_dir)
    before = next((project / "models").glob("*.tar.gz"))
    candidate = project / "models" / "candidates" / f"released-{uuid.uuid4().hex[:6]}.tar.gz"
    candidate.parent.mkdir(exist_ok=True)
    shutil.copy(before, candidate)  # a model that passed the gate (the gate has tests of its own)
    release.load_live(s.system.shared, candidate, previous=before)  # what a release does, on every replica
    for url in s.system.layout.rasa_urls:
        assert RasaClient(url, s.settings.rasa_token).loaded_model() == candidate.name
    state = release.read_state(BotProject(project))
    state.update(live=str(candidate), previous=str(before))
    release.write_state(BotProject(project), state)

    victim = s.system.rasa_names[1]
    killed = s.kill(victim)
    s.wait_restarted(victim, killed)
    restarted_url = s.system.layout.rasa_urls[1]
    assert RasaClient(restarted_url, s.settings.rasa_token).loaded_model() == candidate.name

    release.rollback(BotProject(project), s.system.shared)  # and back, on every replica
    for url in s.system.layout.rasa_urls:
        assert RasaClient(url, s.settings.rasa_token).loaded_model() == before.name


def test_a_release_that_cannot_reach_a_replica_leaves_every_replica_on_the_old_model(scaled_system: Scaled):
    s = scaled_system
    project = Path(s.settings.bot_project_dir)
    serving = RasaClient(s.system.layout.rasa_urls[0], s.settings.rasa_token).loaded_model()
    live = next(project.rglob(serving))
    candidate = project / "models" / "candidates" / f"unreached-{uuid.uuid4().hex[:6]}.tar.gz"
    candidate.parent.mkdir(parents=True, exist_ok=True)  # made by the first trained candidate, if any ran before
    shutil.copy(live, candidate)
    down = s.system.rasa_names[1]
    with s.system.supervisor.holding(down):  # replica 2 is down while the release loads
        killed = s.kill(down)
        with pytest.raises(RuntimeError, match=f"failed on {s.system.layout.rasa_urls[1]}"):
            release.load_live(s.system.shared, candidate, previous=live)
        # replica 1 had taken the candidate: it was given the live model back
        assert RasaClient(s.system.layout.rasa_urls[0], s.settings.rasa_token).loaded_model() == live.name
    s.wait_restarted(down, killed)
    for url in s.system.layout.rasa_urls:
        assert RasaClient(url, s.settings.rasa_token).loaded_model() == live.name


def _our_rabbitmq_connections(s: Scaled) -> List[str]:
    """The RabbitMQ connections (their broker-side ids) of this system's Rasa replicas, found by the
    replicas' local ports, so that closing them leaves every other client of the broker alone."""
    pids = {s.system.service(name).process.pid for name in s.system.rasa_names}
    ports = set()
    listing = subprocess.run(["ss", "-tnpH", "state", "established"], capture_output=True, text=True).stdout
    for line in listing.splitlines():  # local, peer, process
        local, peer, process = line.split()[-3:]
        if peer.endswith(":5672") and any(f"pid={pid}," in process for pid in pids):
            ports.add(local.rsplit(":", 1)[1])
    rows = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "name", "pid"], capture_output=True, text=True, timeout=120
    ).stdout.splitlines()
    named = [row.split("\t") for row in rows if "\t" in row]
    return [pid for name, pid in named if re.match(rf"^[^ ]+:({'|'.join(ports)}) -> ", name)] if ports else []


def test_closing_the_rabbitmq_connections_keeps_the_bot_answering_and_every_event_arrives(scaled_system: Scaled):
    s = scaled_system
    if subprocess.run(["rabbitmqctl", "-q", "status"], capture_output=True, timeout=120).returncode != 0:
        pytest.skip("rabbitmqctl cannot manage the local RabbitMQ here (it closes the broker's connections)")
    connections = _our_rabbitmq_connections(s)
    # at least one per replica: Rasa opens a new one with each model it loads (PUT /model) and keeps the old
    assert len(connections) >= len(s.system.rasa_names), connections
    conversations = [conversation_ids.issue(None, s.settings.customer_token_secret) for _ in range(6)]
    for connection in connections:  # what a broker restart or a network cut does to the replicas
        subprocess.run(["rabbitmqctl", "-q", "close_connection", connection, "test: connection lost"], check=True)
    for text in TURNS[:4]:  # the bot answers while the replicas reconnect
        for conversation in conversations:
            assert s.rest(conversation, text, None), "the bot did not answer"
    expected = {c: len(s.tracker(c)["events"]) for c in conversations}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = {c: len(events) for c, events in s.stored_events(conversations).items()}
        if all(got.get(c, 0) >= expected[c] for c in conversations):
            break
        time.sleep(1)
    got = {c: len(events) for c, events in s.stored_events(conversations).items()}
    # every stored event went through the broker to the analytics consumer (stored once: a redelivery adds nothing)
    assert {c: got.get(c, 0) for c in conversations} == expected


def _without_sender(event: dict) -> dict:
    return {k: v for k, v in event.items() if k != "sender_id"}  # the broker adds it; the tracker store has a column


def test_the_analytics_read_the_event_brokers_events_and_they_match_the_tracker_store(scaled_system: Scaled):
    s = scaled_system
    conversations = [conversation_ids.issue(None, s.settings.customer_token_secret) for _ in range(3)]
    for text in TURNS[:3]:
        for conversation in conversations:
            assert s.rest(conversation, text, None)
    s.rest(conversations[0], ASK_FOR_A_PERSON, None)
    tracker = TrackerEvents.for_tracker_store(s.system.shared.tracker_store_url)
    deadline = time.monotonic() + 60
    while True:
        from_tracker, from_broker = tracker.of(conversations), s.stored_events(conversations)
        brokered = {
            c: [{k: v for k, v in e.items() if k != "sender_id"} for e in from_broker[c]] for c in conversations
        }
        if all(brokered[c] == from_tracker[c] for c in conversations) or time.monotonic() > deadline:
            break
        time.sleep(1)
    for c in conversations:
        assert brokered[c] == from_tracker[c]  # the same events, in the same order: the same facts either way
    listed = s.api("GET", "/api/analytics/conversations?key=total&metric=conversations", agent="lena").json()
    ids = {row["conversation_id"] for row in listed["conversations"]}
    assert set(conversations) <= ids
    handed = s.api("GET", "/api/analytics/conversations?key=total&metric=handoffs", agent="lena").json()
    handed_ids = {row["conversation_id"] for row in handed["conversations"]}
    assert conversations[0] in handed_ids and not set(conversations[1:]) & handed_ids


def test_a_service_process_killed_while_agents_claim_loses_no_handoff_and_claims_none_twice(scaled_system: Scaled):
    s = scaled_system
    conversations = []
    for n in range(8):
        customer = f"cust-{101 + n:04d}"
        conversation = conversation_ids.issue(customer, s.settings.customer_token_secret)
        s.rest(conversation, "hi", s.token(customer))
        s.rest(conversation, ASK_FOR_A_PERSON, s.token(customer))  # always hands over, whoever asks
        conversations.append(conversation)
    handoffs = [waiting_handoff(s, c)["id"] for c in conversations]
    wins: Dict[str, List[str]] = {h: [] for h in handoffs}
    first_claim = threading.Event()

    def claim_all(agent: str) -> None:
        for handoff in handoffs:
            for _ in range(20):  # a request cut by the kill (502) is tried again, as the console does
                try:
                    response = s.api("POST", f"/api/handoffs/{handoff}/claim", agent=agent)
                except requests.RequestException:
                    time.sleep(0.3)
                    continue
                if response.status_code in (502, 503, 504):
                    time.sleep(0.3)
                    continue
                if response.status_code == 200:
                    wins[handoff].append(agent)
                    first_claim.set()
                break
            time.sleep(0.2)  # an agent reads a chat before taking the next: the kill falls among the claims

    victim = s.system.service_names[0]
    agents = [threading.Thread(target=claim_all, args=(a,)) for a in ("alice", "bob")]
    for thread in agents:
        thread.start()
    assert first_claim.wait(timeout=60)
    killed = s.kill(victim)
    for thread in agents:
        thread.join(timeout=300)
    s.wait_restarted(victim, killed)

    for handoff in handoffs:
        detail = s.api("GET", f"/api/handoffs/{handoff}").json()
        assert detail["status"] in ("waiting", "assigned"), detail  # none lost
        assert len(wins[handoff]) <= 1, (handoff, wins[handoff])  # never given to two agents
        if detail["status"] == "assigned":
            assert wins[handoff] == [detail["agent_id"]] or not wins[handoff], (handoff, wins[handoff], detail)
    for handoff in handoffs:
        detail = s.api("GET", f"/api/handoffs/{handoff}").json()
        if detail["status"] == "assigned":
            s.api("POST", f"/api/handoffs/{handoff}/resolve", agent=detail["agent_id"]).raise_for_status()
