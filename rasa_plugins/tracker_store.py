"""Rasa's SQL tracker store, with SQLite set up for a server rather than for a desktop app.

Every customer turn reads the conversation and writes its new events. SQLAlchemy 1.4 gives SQLite
files no connection pool, so each read and write opened a new connection; this store keeps a small
pool. SQLite's defaults (rollback journal, a full fsync per commit) made the write the slowest part
of a turn; write-ahead logging
with synchronous=NORMAL keeps the database consistent after a crash of the process and lets reads
run beside the writer. After a power loss the last few committed turns may be lost, which is
acceptable for the single-machine default; the scale-out configuration uses PostgreSQL.

Reading a conversation also selects only the stored event JSON and counts rows in SQL, instead of
building an ORM object per event (Rasa's queries and their filters are reused unchanged); a turn's new
events are written in one INSERT. The same store runs on PostgreSQL in the scaled configuration
(docs/scaling.md): the SQLite set-up applies only to SQLite.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Iterator, Optional, Text

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import event
from sqlalchemy.pool import QueuePool

SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=10000")


def _apply_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


class SupportSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            url = self.engine.url
            self.engine.dispose()
            # Rasa uses the store from the server's event loop thread; the pool stays small.
            self.engine = sa.create_engine(
                url,
                poolclass=QueuePool,
                pool_size=2,
                max_overflow=8,
                connect_args={"check_same_thread": False, "timeout": 10},
            )
            event.listen(self.engine, "connect", _apply_sqlite_pragmas)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def _retrieve(self, sender_id: Text, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions)
            events = [json.loads(data) for (data,) in query.with_entities(self.SQLEvent.data).all()]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's save (the same rows), with the turn's new events written in one multi-row INSERT
        instead of one INSERT per event: on PostgreSQL each statement is a round trip to the server,
        taken while the replica's event loop waits."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            rows = []
            for event in self._additional_events(session, tracker):
                data = event.as_dict()
                rows.append(
                    {
                        "sender_id": tracker.sender_id,
                        "type_name": event.type_name,
                        "timestamp": data.get("timestamp"),
                        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        "action_name": data.get("name"),
                        "data": json.dumps(data),
                    }
                )
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        query = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False)
        stored = query.order_by(None).with_entities(sa.func.count(self.SQLEvent.id)).scalar()
        return itertools.islice(tracker.events, stored, len(tracker.events))
