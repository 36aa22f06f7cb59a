"""Stand-ins for what the fast tests keep out: Rasa's server and the wall clock.

`RecordingRasa` records what the service asks of Rasa and, for agents' messages, appends a `bot`
event to a tracker-store table shaped like Rasa's SQLTrackerStore (`events`), as Rasa does; customer
messages are appended with `customer_says`. `Clock` is a settable clock.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import List, Optional

import sqlalchemy as sa

from common.rasa_api import RasaUnavailable

EVENTS_TABLE = """CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, sender_id VARCHAR(255),
                  type_name VARCHAR(255), timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255),
                  data TEXT)"""


class Clock:
    def __init__(self, now: Optional[datetime] = None) -> None:
        self.now = now or datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class TrackerTable:
    """Rasa's `events` table in a SQLite file, written the way the SQL tracker store writes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine = sa.create_engine(f"sqlite:///{path}")
        with self.engine.begin() as connection:
            connection.exec_driver_sql(EVENTS_TABLE)

    def append(self, conversation_id: str, event: dict) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (:sender, :type, :ts, :data)"
                ),
                {
                    "sender": conversation_id,
                    "type": event["event"],
                    "ts": event.get("timestamp", 0),
                    "data": json.dumps(event),
                },
            )

    def customer_says(self, conversation_id: str, text: str, intent: str = "complain", at: float = 1.0) -> None:
        self.append(
            conversation_id,
            {
                "event": "user",
                "text": text,
                "timestamp": at,
                "parse_data": {"intent": {"name": intent, "confidence": 0.9}},
            },
        )


class RecordingRasa:
    """The service's Rasa client, answering like a Rasa server would; `down = True` makes every call fail."""

    def __init__(self, tracker: TrackerTable, clock: Optional[Clock] = None) -> None:
        self.tracker = tracker
        self.clock = clock  # what it stamps on the messages it stores (as Rasa would, with its time)
        self.calls: List[tuple] = []
        self.down = False
        self.model = "20261124-000000.tar.gz"

    def _now(self) -> float:
        return self.clock().timestamp() if self.clock else 2.0

    def _call(self, *call: object) -> None:
        if self.down:
            raise RasaUnavailable("connection refused (test)")
        self.calls.append(call)

    def say_as_agent(
        self, conversation_id: str, text: str, agent: str, agent_name: str, automatic: bool = False
    ) -> None:
        self._call("say_as_agent", conversation_id, text, agent)
        metadata = {"agent": agent, "agent_name": agent_name, **({"automatic": True} if automatic else {})}
        self.tracker.append(
            conversation_id, {"event": "bot", "text": text, "timestamp": self._now(), "metadata": metadata}
        )

    def hand_back_asking_for_csat(self, conversation_id: str, handoff_id: str) -> None:
        self._call("hand_back_asking_for_csat", conversation_id, handoff_id)

    def append_events(self, conversation_id: str, events: List[dict], deliver: bool = False) -> None:
        self._call("append_events", conversation_id, events, deliver)
        for event in events:
            if event.get("event") == "bot":
                self.tracker.append(conversation_id, {**event, "timestamp": self._now()})

    def resume(self, conversation_id: str, slots: Optional[dict] = None) -> None:
        self._call("resume", conversation_id)

    def said_by_bot(self, conversation_id: str) -> List[str]:
        """What the bot (not an agent) said into the conversation through append_events."""
        return [
            event["text"]
            for call in self.calls_named("append_events")
            if call[1] == conversation_id
            for event in call[2]
            if event.get("event") == "bot"
        ]

    def loaded_model(self) -> str:
        self._call("loaded_model")
        return self.model

    def calls_named(self, name: str) -> List[tuple]:
        return [call for call in self.calls if call[0] == name]
