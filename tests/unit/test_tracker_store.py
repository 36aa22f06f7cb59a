"""The project's tracker store against Rasa's own SQLTrackerStore, on a real SQLite file."""

import asyncio
import copy
from pathlib import Path

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_plugins.tracker_store import SupportSQLTrackerStore

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet]
slots:
  tier:
    type: any
    mappings: [{type: custom}]
"""
)


def conversation(sender: str, sessions: int) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    for index in range(sessions):
        tracker.update(ActionExecuted("action_session_start"))
        tracker.update(SessionStarted())
        tracker.update(SlotSet("tier", f"tier-{index}"))
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered(f"hello {index}", {"name": "greet", "confidence": 1.0}))
        tracker.update(BotUttered(f"hi {index}"))
    return tracker


@pytest.mark.parametrize("sessions", [1, 3])
def test_same_trackers_as_rasa_store(tmp_path: Path, sessions: int):
    ours = SupportSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "ours.db"))
    rasas = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"))

    original = conversation("c1", sessions)
    follow_up = UserUttered("again", {"name": "greet", "confidence": 1.0})

    async def scenario(store):
        await store.save(copy.deepcopy(original))
        tracker = await store.retrieve("c1")  # as Rasa does each turn: the latest session
        tracker.update(copy.deepcopy(follow_up))
        await store.save(tracker)  # only the new event is appended
        latest = await store.retrieve("c1")
        everything = await store.retrieve_full_tracker("c1")
        missing = await store.retrieve("nobody")
        return latest, everything, missing

    ours_result = asyncio.run(scenario(ours))
    rasa_result = asyncio.run(scenario(rasas))
    assert ours_result[2] is None and rasa_result[2] is None
    assert len(ours_result[1].events) == len(original.events) + 1
    for mine, theirs in zip(ours_result[:2], rasa_result[:2]):
        assert [e.as_dict() for e in mine.events] == [e.as_dict() for e in theirs.events]
        assert mine.current_slot_values() == theirs.current_slot_values()


def test_sqlite_runs_in_wal_mode_with_a_pool(tmp_path: Path):
    store = SupportSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"))
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert type(store.engine.pool).__name__ == "QueuePool"
