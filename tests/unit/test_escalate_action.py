"""action_escalate with rasa_sdk trackers and a real (temporary SQLite) queue."""

import asyncio
from datetime import datetime, timezone
from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import escalation as action_module
from actions import stores as action_stores
from common.database import Database, migrate
from common.names import ReasonCode
from escalation.core.rules import parse_rules
from escalation.queue.agents import AgentDirectory
from escalation.queue.handoffs import HandoffQueue
from escalation.rules_file import SHIPPED_RULES_FILE, read_rules_mapping


def rules_with_hours(hours):
    data = read_rules_mapping(SHIPPED_RULES_FILE)
    data["business_hours"]["days"] = {day: hours for day in data["business_hours"]["days"]}
    return parse_rules(data)


@pytest.fixture
def stores(tmp_path: Path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    migrate(url)
    database = Database.from_url(url)
    queue, agents = HandoffQueue(database), AgentDirectory(database)
    agents.seed_demo_agents()
    monkeypatch.setattr(action_stores, "handoff_queue", lambda: queue)
    monkeypatch.setattr(action_stores, "agent_directory", lambda: agents)
    queue.agents = agents  # for the tests: who is online
    return queue


def run(slots, text, intent="complain", compound=-0.9):
    events = [
        {"event": "session_started"},
        {
            "event": "user",
            "text": text,
            "parse_data": {"intent": {"name": intent}, "sentiment": {"compound": compound}},
        },
    ]
    tracker = Tracker("conv-1", slots, {"text": text}, events, False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    result = asyncio.run(action_module.ActionEscalate().run(dispatcher, tracker, {}))
    return result, dispatcher.messages


VIP = {"tier": "vip", "journey_stage": "active", "last_csat": 5, "nps": 10, "customer_id": "demo-vip"}


def test_handover_goes_to_an_online_agent_at_once_and_pauses(stores, monkeypatch):
    monkeypatch.setattr(action_stores, "rules", lambda: rules_with_hours(["00:00", "24:00"]))
    stores.agents.set_presence("alice", "online", datetime.now(timezone.utc))
    stores.agents.set_presence("bob", "online", datetime.now(timezone.utc))  # online, but not concierge
    events, messages = run(VIP, "this is useless")
    assert any(e["event"] == "pause" for e in events)
    handoff = stores.open_for("conv-1")
    assert handoff.queue == "concierge" and handoff.channel == "live_chat"
    assert (handoff.status, handoff.agent_id) == ("assigned", "alice")
    assert messages[0]["text"] == "Alice from our concierge team has joined and will answer you here."


def test_a_busy_agent_means_a_place_in_line(stores, monkeypatch):
    monkeypatch.setattr(action_stores, "rules", lambda: rules_with_hours(["00:00", "24:00"]))
    stores.agents.update("alice", known_queues=("concierge", "retention", "sales", "general"), capacity=1)
    stores.agents.set_presence("alice", "online", datetime.now(timezone.utc))
    stores.enqueue("earlier", "demo-vip", "vip", {}, "concierge", 1, [], 120, datetime.now(timezone.utc))
    stores.assign(stores.open_for("earlier").id, "alice", datetime.now(timezone.utc))
    events, messages = run(VIP, "this is useless")
    assert any(e["event"] == "pause" for e in events)
    assert stores.open_for("conv-1").status == "waiting"
    assert messages[0]["text"].startswith("I'm passing you to our concierge team. You are 1st in line, about 6 minutes")


def test_nobody_online_is_said_honestly_and_a_callback_is_booked(stores, monkeypatch):
    monkeypatch.setattr(action_stores, "rules", lambda: rules_with_hours(["00:00", "24:00"]))
    events, messages = run(VIP, "this is useless")
    assert not any(e["event"] == "pause" for e in events)
    assert stores.open_for("conv-1").channel == "phone_callback"
    assert messages[0]["text"].startswith(
        "Nobody from our team can take a chat right now. I've booked a phone callback"
    )


def test_outside_hours_arranges_a_callback_and_the_bot_stays(stores, monkeypatch):
    monkeypatch.setattr(action_stores, "rules", lambda: rules_with_hours(None))  # never open
    events, messages = run(VIP, "talk to a person", intent="request_human", compound=0.0)
    assert not any(e["event"] == "pause" for e in events)  # the bot keeps helping meanwhile
    handoff = stores.open_for("conv-1")
    assert handoff.channel == "phone_callback"  # a person follows up: no dead end
    assert "booked a phone callback" in messages[0]["text"]
    slot = next(e for e in events if e.get("name") == "escalation")["value"]
    assert slot["action"] == "offer_options" and slot["handoff_id"] == handoff.id
    assert [r["code"] for r in slot["reasons"]] == [r["code"] for r in handoff.reasons]
    assert {ReasonCode.ASKED_FOR_PERSON.value, ReasonCode.OUTSIDE_BUSINESS_HOURS.value} <= set(handoff.reason_codes)


def test_routing_from_the_action_assigns_only_its_own_chat(stores, monkeypatch):
    # Another chat waits (nobody was online when it came); the action must not hand it out unannounced:
    # the service's timer assigns it and greets its customer.
    monkeypatch.setattr(action_stores, "rules", lambda: rules_with_hours(["00:00", "24:00"]))
    now = datetime.now(timezone.utc)
    earlier = stores.enqueue("earlier", "demo-standard", "standard", {}, "general", 3, [], 3600, now)
    stores.agents.set_presence("alice", "online", now)
    events, messages = run(VIP, "this is useless")
    assert stores.open_for("conv-1").agent_id == "alice"
    assert stores.get(earlier.id).status == "waiting"
