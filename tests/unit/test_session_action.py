"""action_session_start with rasa_sdk trackers: identity -> segment slots, table-driven."""

import asyncio
import time
from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import session
from common.crm import CustomerRepository
from common.names import SEGMENT_SLOTS, Slot
from common.settings import throwaway_settings
from common.tokens import mint
from tests.support.database import migrated_database
from tools.seed import seed_customers


@pytest.fixture
def action_env(tmp_path: Path, monkeypatch):
    settings = throwaway_settings(tmp_path)
    repository = CustomerRepository(migrated_database(tmp_path / "customers.db"))
    seed_customers(repository, 20)
    monkeypatch.setattr(session, "_settings", lambda: settings)
    monkeypatch.setattr(session, "_repository", lambda: repository)
    return settings


def run_session_start(metadata):
    tracker = Tracker.from_dict(
        {
            "sender_id": "c-1",
            "slots": {"session_started_metadata": metadata},
            "latest_message": {"text": "hi"},
            "events": [],
        }
    )
    dispatcher = CollectingDispatcher()
    events = asyncio.run(session.ActionSessionStart().run(dispatcher, tracker, {}))
    assert dispatcher.messages == []  # identity is silent: nothing is shown to the customer
    return events


def token_for(settings, customer_id, secret=None, ttl=3600, now=None):
    return mint(customer_id, secret or settings.customer_token_secret, settings.customer_token_issuer, ttl, now=now)


@pytest.mark.parametrize(
    "case, metadata_for, tier, stage, customer_id",
    [
        ("vip", lambda s: {"customer_token": token_for(s, "demo-vip")}, "vip", "active", "demo-vip"),
        (
            "churn risk",
            lambda s: {"customer_token": token_for(s, "demo-churn-risk")},
            "premium",
            "at_risk",
            "demo-churn-risk",
        ),
        ("buyer", lambda s: {"customer_token": token_for(s, "demo-buyer")}, "free", "buying", "demo-buyer"),
        ("no metadata", lambda s: None, "anonymous", "unknown", None),
        ("no token", lambda s: {"other": 1}, "anonymous", "unknown", None),
        (
            "forged",
            lambda s: {"customer_token": token_for(s, "demo-vip", secret="forged-" * 8)},
            "anonymous",
            "unknown",
            None,
        ),
        (
            "expired",
            lambda s: {"customer_token": token_for(s, "demo-vip", now=time.time() - 90000)},
            "anonymous",
            "unknown",
            None,
        ),
        ("malformed", lambda s: {"customer_token": "abc.def"}, "anonymous", "unknown", None),
        ("not a string", lambda s: {"customer_token": {"sub": "demo-vip"}}, "anonymous", "unknown", None),
        ("unknown customer", lambda s: {"customer_token": token_for(s, "nobody-42")}, "anonymous", "unknown", None),
    ],
)
def test_session_start_sets_segment_slots(action_env, case, metadata_for, tier, stage, customer_id):
    events = run_session_start(metadata_for(action_env))
    assert events[0] == SessionStarted()
    assert events[-1] == ActionExecuted("action_listen")
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert set(slots) == set(SEGMENT_SLOTS)
    assert slots[Slot.TIER] == tier
    assert slots[Slot.JOURNEY_STAGE] == stage
    assert slots[Slot.CUSTOMER_ID] == customer_id
    assert slots[Slot.IDENTITY_STATUS] == ("verified" if customer_id else "anonymous")


def test_detractor_history_reaches_the_tracker(action_env):
    events = run_session_start({"customer_token": token_for(action_env, "demo-detractor")})
    assert SlotSet(Slot.LAST_CSAT, 1) in events
    assert SlotSet(Slot.NPS, 2) in events


def test_crm_outage_serves_the_customer_as_anonymous(action_env, monkeypatch):
    def broken():
        raise RuntimeError("database is down")

    monkeypatch.setattr(session, "_repository", broken)
    events = run_session_start({"customer_token": token_for(action_env, "demo-vip")})
    assert SlotSet(Slot.TIER, "anonymous") in events


def test_refused_tokens_are_logged(action_env, caplog):
    run_session_start({"customer_token": token_for(action_env, "demo-vip", secret="forged-" * 8)})
    assert "bad signature" in caplog.text
