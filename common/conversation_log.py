"""Reads a conversation's messages straight from Rasa's tracker store, for the agent console.

Rasa's SQL tracker store keeps one row per event (table `events`: an autoincrement `id`,
`sender_id`, `type_name` and the event's JSON in `data`); the row id orders events and serves as a
cursor, so the console can ask "what is new since message N" every few hundred milliseconds with one
indexed query, without loading the whole tracker through Rasa's HTTP API. Reading only: every write
still goes through Rasa (agents' messages are pushed with its tracker events API), so Rasa remains
the one writer of its store.

On PostgreSQL (the scaled configuration) event ids come from a sequence: they are handed out at
insert, so across conversations a later commit can carry a smaller id. Within one conversation they
still follow the order of commits, because Rasa writes a conversation only under its lock (the Redis
lock store when several replicas share the store), which is what the per-conversation cursor needs.

Who said what: `user` events are the customer's; `bot` events carry `metadata.agent` when an agent
wrote them (common.rasa_api.RasaClient.say_as_agent sets it), otherwise they are the bot's.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import List, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

EVENTS = sa.table(
    "events", sa.column("id"), sa.column("sender_id"), sa.column("type_name"), sa.column("timestamp"), sa.column("data")
)


@dataclass(frozen=True)
class Message:
    id: int  # the tracker store's event id: a cursor for "newer than"
    sender: str  # "customer", "bot" or "agent"
    text: str
    timestamp: Optional[float]
    agent: Optional[str] = None  # the agent's name for agent messages
    automatic: bool = False  # sent for the agent (the greeting on assignment), not written by them
    sentiment: Optional[dict] = None  # a customer message's, as the NLU stored it (rasa_plugins/escalation.py)

    def as_json(self) -> dict:
        return asdict(self)


def _message(event_id: int, type_name: str, data: str) -> Optional[Message]:
    event = json.loads(data)
    text = event.get("text")
    if not text:
        return None
    if type_name == "user":
        sentiment = (event.get("parse_data") or {}).get("sentiment")
        return Message(event_id, "customer", text, event.get("timestamp"), sentiment=sentiment)
    metadata = event.get("metadata") or {}
    agent = metadata.get("agent")
    return Message(
        event_id,
        "agent" if agent else "bot",
        text,
        event.get("timestamp"),
        agent,
        automatic=bool(metadata.get("automatic")),
    )


def tracker_store_engine(url: str, pool_size: int, max_overflow: int) -> Engine:
    """An engine that reads Rasa's tracker store at `url` beside Rasa."""
    if url.startswith("sqlite"):
        # Read-only use of the file Rasa writes in WAL mode: readers never block the writer.
        return sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
    # Pooled, and checked before use so that a restarted database costs one retry instead of an error.
    return sa.create_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True)


class ConversationLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def for_sqlite_file(cls, path: str) -> "ConversationLog":
        return cls.for_tracker_store(f"sqlite:///{path}")

    @classmethod
    def for_tracker_store(cls, url: str) -> "ConversationLog":
        """The log of the tracker store at `url` (settings.tracker_store_url): Rasa's SQLite file, or the
        PostgreSQL database the replicas of the scaled configuration share."""
        # Every service process polls for its consoles: a few pooled connections each.
        return cls(tracker_store_engine(url, pool_size=4, max_overflow=8))

    def messages(
        self, conversation_id: str, after: int = 0, limit: int = 500, since: Optional[datetime] = None
    ) -> List[Message]:
        """The conversation's customer, bot and agent messages newer than event id `after` (and, with
        `since`, stored at or after that time: one handoff's part of a long conversation), oldest first."""
        query = sa.select(EVENTS.c.id, EVENTS.c.type_name, EVENTS.c.data).where(
            EVENTS.c.sender_id == conversation_id, EVENTS.c.id > after, EVENTS.c.type_name.in_(("user", "bot"))
        )
        if since is not None:
            query = query.where(EVENTS.c.timestamp >= since.timestamp() - 1)  # a second of slack: clocks differ
        query = query.order_by(EVENTS.c.id).limit(limit)
        return [m for m in (_message(*row) for row in self._rows(query)) if m is not None]

    def latest_customer_message(self, conversation_id: str) -> Optional[Tuple[datetime, str]]:
        """When the customer last wrote in the conversation, and what."""
        query = (
            sa.select(EVENTS.c.data)
            .where(EVENTS.c.sender_id == conversation_id, EVENTS.c.type_name == "user")
            .order_by(EVENTS.c.id.desc())
            .limit(1)
        )
        rows = self._rows(query)
        if not rows:
            return None
        event = json.loads(rows[0][0])
        return datetime.fromtimestamp(float(event.get("timestamp") or 0), timezone.utc), str(event.get("text") or "")

    def recent_events(self, limit: int) -> List[Tuple[int, str, str, dict]]:
        """The latest `limit` user and bot events of all conversations, oldest first, as
        (event id, conversation id, "user" or "bot", the event's JSON): the trainers' inbox reads these."""
        query = (
            sa.select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.data)
            .where(EVENTS.c.type_name.in_(("user", "bot")))
            .order_by(EVENTS.c.id.desc())
            .limit(limit)
        )
        return [(row[0], row[1], row[2], json.loads(row[3])) for row in reversed(self._rows(query))]

    def _rows(self, query) -> list:
        try:
            with self._engine.connect() as connection:
                return connection.execute(query).all()
        except (OperationalError, ProgrammingError) as error:
            if "no such table" in str(error) or "does not exist" in str(error):
                return []  # Rasa has not written anything yet
            raise
