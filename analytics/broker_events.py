"""Rasa's events as the scaled configuration delivers them: through its event broker (RabbitMQ), kept
in the product's database by analytics/event_consumer.py, and read back here with the same interface as
analytics.refresh.TrackerEvents, so the refresh and every query are the same for both sources.

A broker delivers at least once: a consumer that stops between storing an event and acknowledging it
gets it again. Each event is stored under a key made from its whole content (conversation included), so
a second delivery of the same event is no new row, and nothing is counted twice.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Set, Tuple

import sqlalchemy as sa
from sqlalchemy import Column, DateTime, Integer, String, Text
from sqlalchemy.dialects import postgresql, sqlite

from common.database import Base, Database

CHUNK = 500  # ids per IN (...)


class BrokerEventRow(Base):
    __tablename__ = "analytics_broker_events"

    id = Column(Integer, primary_key=True, autoincrement=True)  # the order they were stored in
    sender_id = Column(String(255), nullable=False, index=True)
    event_key = Column(String(64), nullable=False, unique=True)
    timestamp = Column(sa.Float, nullable=True)  # the event's own time (Rasa's)
    data = Column(Text, nullable=False)
    received_at = Column(DateTime(timezone=True), nullable=False)


def event_key(event: Mapping[str, Any]) -> str:
    """The same event, delivered twice, gets the same key; two different events never do."""
    return hashlib.sha256(json.dumps(event, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class BrokerEvents:
    """The broker's events in the database: `record` (the consumer), and `changed_since`, `of`, `delete`
    (analytics.refresh.Refresher, as with the tracker store)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def record(self, events: Iterable[Mapping[str, Any]], now: datetime | None = None) -> int:
        """Stores the events not stored yet; returns how many were new. Events without a conversation
        are not Rasa's tracker events and are left out."""
        received = now or datetime.now(timezone.utc)
        rows = [
            {
                "sender_id": str(event["sender_id"]),
                "event_key": event_key(event),
                "timestamp": event.get("timestamp"),
                "data": json.dumps(event),
                "received_at": received,
            }
            for event in events
            if event.get("sender_id")
        ]
        if not rows:
            return 0
        table = BrokerEventRow.__table__
        dialect = self.database.engine.dialect.name
        if dialect == "postgresql":
            statement = postgresql.insert(table).on_conflict_do_nothing(index_elements=["event_key"])
        elif dialect == "sqlite":
            statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=["event_key"])
        else:  # pragma: no cover - the product runs on SQLite and PostgreSQL
            raise RuntimeError(f"storing broker events is not supported on {dialect}")
        with self.database.engine.begin() as connection:
            result = connection.execute(statement, rows)
        return max(0, result.rowcount or 0)

    def changed_since(self, cursor: int) -> Tuple[Set[str], int]:
        """The conversations with events stored after row `cursor`, and the newest row id."""
        table = BrokerEventRow.__table__
        query = (
            sa.select(table.c.sender_id, sa.func.max(table.c.id)).where(table.c.id > cursor).group_by(table.c.sender_id)
        )
        with self.database.engine.connect() as connection:
            rows = connection.execute(query).all()
        return {row[0] for row in rows}, max((row[1] for row in rows), default=cursor)

    def of(self, conversation_ids: Sequence[str]) -> Dict[str, List[dict]]:
        """Each conversation's events in the order Rasa made them (its timestamps; the order of arrival
        for equal ones)."""
        table = BrokerEventRow.__table__
        found: Dict[str, List[dict]] = defaultdict(list)
        with self.database.engine.connect() as connection:
            for start in range(0, len(conversation_ids), CHUNK):
                chunk = list(conversation_ids[start : start + CHUNK])
                query = (
                    sa.select(table.c.sender_id, table.c.data)
                    .where(table.c.sender_id.in_(chunk))
                    .order_by(table.c.sender_id, table.c.timestamp, table.c.id)
                )
                for sender, data in connection.execute(query):
                    found[sender].append(json.loads(data))
        return found

    def delete(self, conversation_ids: Sequence[str]) -> None:
        table = BrokerEventRow.__table__
        with self.database.engine.begin() as connection:
            for start in range(0, len(conversation_ids), CHUNK):
                chunk = list(conversation_ids[start : start + CHUNK])
                connection.execute(sa.delete(table).where(table.c.sender_id.in_(chunk)))

    def count(self) -> int:
        with self.database.engine.connect() as connection:
            return int(
                connection.execute(sa.select(sa.func.count()).select_from(BrokerEventRow.__table__)).scalar_one()
            )
