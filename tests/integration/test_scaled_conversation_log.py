"""The console's and the inbox's reading of conversations (common.conversation_log) when Rasa's tracker
store is PostgreSQL, as in make demo-scaled: the project's tracker store writes on a throwaway database,
ConversationLog reads the same rows, with the same cursor, as on SQLite."""

from __future__ import annotations

import asyncio
import uuid

import psycopg2
import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

from common.conversation_log import ConversationLog
from common.settings import load_settings
from rasa_plugins.tracker_store import SupportSQLTrackerStore
from tools.scaled import ensure_database, tracker_store_config

DOMAIN = Domain.from_yaml('version: "3.1"\nintents: [greet]\n')


@pytest.fixture
def postgres_tracker_url():
    server = load_settings().test_postgres_url
    name = f"larkspur_log_{uuid.uuid4().hex[:10]}"
    url = str(make_url(server).set(database=name))
    try:
        ensure_database(url)
    except psycopg2.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at {server} ({error}); set TEST_POSTGRES_URL")
    yield url
    connection = psycopg2.connect(server)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


def store_for(url: str) -> SupportSQLTrackerStore:
    """The store as a Rasa replica builds it from the generated endpoints (tools/scaled.py)."""
    config = {k: v for k, v in tracker_store_config(url).items() if k != "type"}
    return SupportSQLTrackerStore(domain=DOMAIN, host=config.pop("url"), **config)


def test_the_log_reads_what_the_replicas_store_in_postgresql(postgres_tracker_url: str):
    store = store_for(postgres_tracker_url)
    tracker = DialogueStateTracker("conversation-a", DOMAIN.slots)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("where is my order?", {"name": "greet", "confidence": 1.0}))
    tracker.update(BotUttered("Let me check.", metadata={}))
    asyncio.run(store.save(tracker))
    other = DialogueStateTracker("conversation-b", DOMAIN.slots)
    other.update(UserUttered("someone else's", {"name": "greet", "confidence": 1.0}))
    asyncio.run(store.save(other))

    log = ConversationLog.for_tracker_store(postgres_tracker_url)
    messages = log.messages("conversation-a")
    assert [(m.sender, m.text) for m in messages] == [("customer", "where is my order?"), ("bot", "Let me check.")]

    tracker.update(BotUttered("It ships today.", metadata={"agent": "alice", "agent_name": "Alice"}))
    asyncio.run(store.save(tracker))  # the next turn: only the new event is written
    newer = log.messages("conversation-a", after=messages[-1].id)
    assert [(m.sender, m.text, m.agent) for m in newer] == [("agent", "It ships today.", "alice")]
    assert log.latest_customer_message("conversation-a")[1] == "where is my order?"
    assert [event[1] for event in log.recent_events(10)] == [
        "conversation-a",
        "conversation-a",
        "conversation-b",
        "conversation-a",
    ]


def test_an_empty_database_reads_as_no_messages(postgres_tracker_url: str):
    # The service starts before Rasa has created its table.
    assert ConversationLog.for_tracker_store(postgres_tracker_url).messages("anyone") == []
