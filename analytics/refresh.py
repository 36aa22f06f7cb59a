"""Keeps the fact table up to date from the product's stores (`make demo`): incrementally, on read and
by the service's upkeep timer. A refresh rebuilds every conversation that changed since the last one:

- those with tracker events newer than the stored cursor (the tracker store's event id: Rasa's SQL
  store numbers its events in order), and
- those whose handoff changed without a tracker event (abandoned, claimed, rated) since the last check
  (the queue's times, with a minute of slack for clocks and commits in flight),

each rebuilt whole from its events and handoffs (so nothing is counted twice, whatever is read again),
then re-decides the 24 h reopen rule for their customers. A conversation's events are read straight from
Rasa's `events` table (common.conversation_log's table description), which Rasa alone writes.

The scaled configuration's event-broker consumer would fill the same table the same way: store each
broker event it receives (keyed by conversation and the event's timestamp and type, so a redelivery is a
no-op), mark the conversation changed, and call `rebuild` with its stored events; the queries are the same.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Callable, Dict, List, Protocol, Sequence, Set, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from analytics.facts import conversation_facts
from analytics.metrics import reopened_flags
from analytics.store import CHUNK, AnalyticsStore
from common.conversation_log import EVENTS, tracker_store_engine
from common.database import Database
from escalation.core.rules import Rules
from escalation.queue.handoffs import Handoff, HandoffQueue, HandoffRow

logger = logging.getLogger(__name__)
CURSOR, QUEUE_CHECKED = "tracker_cursor", "queue_checked_at"
QUEUE_SLACK = timedelta(minutes=1)
COMMIT_SLACK = timedelta(minutes=1)  # how long an event may take from its time stamp to its commit
BATCH = 200  # conversations rebuilt per transaction


class EventSource(Protocol):
    """Where a refresh reads Rasa's events: the tracker store (TrackerEvents) or what the event broker
    delivered (analytics.broker_events.BrokerEvents)."""

    def changed_since(self, cursor: int) -> Tuple[Set[str], int]: ...

    def of(self, conversation_ids: Sequence[str]) -> Dict[str, List[dict]]: ...

    def delete(self, conversation_ids: Sequence[str]) -> None: ...


class TrackerEvents:
    """Rasa's events, read from its SQL tracker store (SQLite in `make demo`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def for_sqlite_file(cls, path: str) -> "TrackerEvents":
        return cls.for_tracker_store(f"sqlite:///{path}")

    @classmethod
    def for_tracker_store(cls, url: str) -> "TrackerEvents":
        """Rasa's SQL tracker store at `url`: its SQLite file (read while Rasa writes it in WAL mode) or
        a PostgreSQL database."""
        return cls(tracker_store_engine(url, pool_size=2, max_overflow=2))

    def changed_since(self, cursor: int) -> Tuple[Set[str], int]:
        """The conversations with events after event id `cursor`, and the newest event id. SQLite numbers
        events in commit order; PostgreSQL hands ids out at insert, so a slow commit can land below the
        cursor (common/conversation_log.py): there, the events stamped in the last COMMIT_SLACK are
        looked at again each time."""
        newer = EVENTS.c.id > cursor
        if self._engine.dialect.name != "sqlite":
            recent = (datetime.now(timezone.utc) - COMMIT_SLACK).timestamp()
            newer = sa.or_(newer, EVENTS.c.timestamp >= recent)
        query = sa.select(EVENTS.c.sender_id, sa.func.max(EVENTS.c.id)).where(newer).group_by(EVENTS.c.sender_id)
        rows = self._rows(query)
        return {row[0] for row in rows}, max([cursor, *(row[1] for row in rows)])

    def of(self, conversation_ids: Sequence[str]) -> Dict[str, List[dict]]:
        """Each conversation's events, oldest first."""
        found: Dict[str, List[dict]] = defaultdict(list)
        for start in range(0, len(conversation_ids), CHUNK):
            chunk = list(conversation_ids[start : start + CHUNK])
            query = (
                sa.select(EVENTS.c.sender_id, EVENTS.c.data)
                .where(EVENTS.c.sender_id.in_(chunk))
                .order_by(EVENTS.c.sender_id, EVENTS.c.id)
            )
            for sender, data in self._rows(query):
                found[sender].append(json.loads(data))
        return found

    def delete(self, conversation_ids: Sequence[str]) -> None:
        """Deletes these conversations' events: only for the seeded demo history's removal
        (analytics/seed.py), which Rasa created for conversations nobody will continue."""
        with self._engine.begin() as connection:
            connection.execute(sa.delete(EVENTS).where(EVENTS.c.sender_id.in_(list(conversation_ids))))

    def _rows(self, query) -> list:
        try:
            with self._engine.connect() as connection:
                return connection.execute(query).all()
        except (OperationalError, ProgrammingError) as error:
            if "no such table" in str(error) or "does not exist" in str(error):
                return []  # Rasa has not written anything yet
            raise


def _changed_handoffs(database: Database, since: datetime) -> Set[str]:
    """Conversations whose handoff changed (by its own times) at or after `since`."""
    times = (
        HandoffRow.created_at,
        HandoffRow.claimed_at,
        HandoffRow.resolved_at,
        HandoffRow.abandoned_at,
        HandoffRow.csat_at,
    )
    with database.session() as session:
        query = sa.select(HandoffRow.conversation_id).where(sa.or_(*(t >= since for t in times))).distinct()
        return set(session.execute(query).scalars())


def _handoffs_of(database: Database, queue: HandoffQueue, conversation_ids: Sequence[str]) -> Dict[str, List[Handoff]]:
    found: Dict[str, List[Handoff]] = defaultdict(list)
    with database.session() as session:
        rows = []
        for start in range(0, len(conversation_ids), CHUNK):
            chunk = list(conversation_ids[start : start + CHUNK])
            rows += session.execute(
                sa.select(HandoffRow.id).where(HandoffRow.conversation_id.in_(chunk)).order_by(HandoffRow.created_at)
            ).scalars()
    for handoff_id in rows:
        handoff = queue.get(handoff_id)
        found[handoff.conversation_id].append(handoff)
    return found


class Refresher:
    def __init__(
        self,
        store: AnalyticsStore,
        events: EventSource,
        queue: HandoffQueue,
        rules: Rules,
        clock: Callable[[], datetime],
    ) -> None:
        self.store, self.events, self.queue, self.rules, self.clock = store, events, queue, rules, clock
        self._lock = threading.Lock()  # one refresh at a time per process (others wait, then find little)

    def refresh(self) -> int:
        """Rebuilds what changed since the last refresh; returns how many conversations."""
        with self._lock:
            now = self.clock()
            cursor = int(self.store.state(CURSOR) or 0)
            checked = self.store.state(QUEUE_CHECKED)
            changed, newest = self.events.changed_since(cursor)
            if checked:
                changed |= _changed_handoffs(self.store.database, datetime.fromisoformat(checked) - QUEUE_SLACK)
            rebuilt = self.rebuild(sorted(changed), now)
            self.store.set_state(CURSOR, str(newest))
            self.store.set_state(QUEUE_CHECKED, now.isoformat())
            return rebuilt

    def rebuild(self, conversation_ids: Sequence[str], now: datetime) -> int:
        """Rebuilds these conversations' rows from their events and handoffs, then their customers'
        reopen flags."""
        rebuilt, customers = 0, set()
        for start in range(0, len(conversation_ids), BATCH):
            batch = list(conversation_ids[start : start + BATCH])
            events, handoffs = self.events.of(batch), _handoffs_of(self.store.database, self.queue, batch)
            maps = self.store.time_maps(batch)
            built = []
            for conversation_id in batch:
                facts = conversation_facts(
                    conversation_id,
                    events.get(conversation_id, []),
                    handoffs.get(conversation_id, []),
                    self.rules,
                    now,
                    maps.get(conversation_id),
                    seeded=conversation_id in maps,
                )
                if facts is not None:
                    built.append(facts)
                    if facts.fact.customer_id:
                        customers.add(facts.fact.customer_id)
            rebuilt += self.store.save(built)
        self.update_reopened(sorted(customers))
        return rebuilt

    def update_reopened(self, customer_ids: Sequence[str]) -> None:
        flags: Dict[str, bool] = {}
        for conversations in self.store.customers_conversations(customer_ids).values():
            flags.update(reopened_flags(conversations))
        self.store.set_reopened(flags)
