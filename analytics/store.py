"""The analytics store, in the product's database (tables made by migrations/versions/0008_analytics.py):

- `analytics_conversations`: the fact table, one row per conversation (analytics.metrics.Fact plus the
  decision inputs the what-if replays), indexed by start time (every query is a date range), customer
  (the 24 h reopen rule) and handoff;
- `analytics_misunderstood`: the customer messages the bot did not understand, by time;
- `analytics_state`: how far the refresh has read (the tracker store's event id, the queue's last check);
- `analytics_seeded`: the seeded demo conversations and how their real times map to simulated ones.

Either source fills it the same way: `save` replaces a conversation's row and messages (idempotent, so a
conversation rebuilt twice, or an event delivered twice, never counts twice).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    and_,
    case,
    delete,
    false,
    func,
    literal,
    select,
    text,
    true,
)

from analytics.facts import ConversationFacts, TimeMap
from analytics.metrics import CLOCKS, NO_QUEUE, POSITIVE_CSAT_AT_LEAST, Fact, Tally
from common.database import Base, Database

CHUNK = 500  # ids per IN (...): well below every database's limit on bound parameters
SAVE_LOCK_KEY = 0x4C41524B  # the fact table's writers' advisory lock on PostgreSQL (any fixed number)


class ConversationFactRow(Base):
    __tablename__ = "analytics_conversations"

    conversation_id = Column(String(128), primary_key=True)
    started_at = Column(DateTime(timezone=True), nullable=False, index=True)
    day = Column(String(10), nullable=False)
    hour = Column(Integer, nullable=False)
    last_message_at = Column(DateTime(timezone=True), nullable=True)
    customer_id = Column(String(64), nullable=True, index=True)
    tier = Column(String(16), nullable=False)
    journey_stage = Column(String(16), nullable=False)
    satisfaction = Column(String(16), nullable=False)
    channel = Column(String(16), nullable=False)
    queue = Column(String(32), nullable=True)
    bot_took_part = Column(Boolean, nullable=False)
    nlu_messages = Column(Integer, nullable=False)
    nlu_fallbacks = Column(Integer, nullable=False)
    handoff_id = Column(String(36), nullable=True, index=True)
    handoff_reasons = Column(Text, nullable=False)  # codes, comma-separated
    reopened = Column(Boolean, nullable=False)
    abandoned = Column(Boolean, nullable=False)
    resolved = Column(Boolean, nullable=False)
    first_response_s = Column(Float, nullable=True)
    first_response_business_s = Column(Float, nullable=True)
    resolution_s = Column(Float, nullable=True)
    resolution_business_s = Column(Float, nullable=True)
    sla_first_response = Column(Boolean, nullable=True)
    sla_next_response = Column(Boolean, nullable=True)
    sla_resolution = Column(Boolean, nullable=True)
    csat = Column(Integer, nullable=True)
    seeded = Column(Boolean, nullable=False)
    decision_inputs = Column(Text, nullable=False)  # JSON: the customer and their messages (analytics/whatif.py)


class MisunderstoodRow(Base):
    __tablename__ = "analytics_misunderstood"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    text = Column(Text, nullable=False)
    intent = Column(String(64), nullable=False)
    confidence = Column(Float, nullable=True)
    at = Column(DateTime(timezone=True), nullable=False, index=True)


class AnalyticsStateRow(Base):
    __tablename__ = "analytics_state"

    name = Column(String(64), primary_key=True)
    value = Column(Text, nullable=False)


class SeededConversationRow(Base):
    __tablename__ = "analytics_seeded"

    conversation_id = Column(String(128), primary_key=True)
    real_start = Column(DateTime(timezone=True), nullable=False)
    simulated_start = Column(DateTime(timezone=True), nullable=False)
    scale = Column(Float, nullable=False)


# The columns a summary reads, in Fact's field order (the decision inputs stay in the database).
FACT_COLUMNS = (
    "conversation_id",
    "started_at",
    "day",
    "hour",
    "tier",
    "journey_stage",
    "satisfaction",
    "channel",
    "bot_took_part",
    "last_message_at",
    "customer_id",
    "queue",
    "nlu_messages",
    "nlu_fallbacks",
    "handoff_id",
    "handoff_reasons",
    "reopened",
    "abandoned",
    "resolved",
    "first_response_s",
    "first_response_business_s",
    "resolution_s",
    "resolution_business_s",
    "sla_first_response",
    "sla_next_response",
    "sla_resolution",
    "csat",
    "seeded",
)
_SELECTED = [getattr(ConversationFactRow, name) for name in FACT_COLUMNS]
_REASONS = FACT_COLUMNS.index("handoff_reasons")
_TIMES = (FACT_COLUMNS.index("started_at"), FACT_COLUMNS.index("last_message_at"))


def _utc(value: Optional[datetime]) -> Optional[datetime]:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _fact(row: Sequence) -> Fact:
    values = list(row)
    values[_REASONS] = tuple(values[_REASONS].split(",")) if values[_REASONS] else ()
    for index in _TIMES:
        values[index] = _utc(values[index])
    return Fact(*values)


def _sql_conditions() -> Dict[str, Any]:
    """analytics.metrics' definitions of what a number counts, as SQL conditions on the fact table (the
    summary's counts and the drill-down's lists both use them; tests hold them to the Python ones)."""
    row = ConversationFactRow
    handed = row.handoff_id.isnot(None)
    conditions = {
        "took_part": row.bot_took_part.is_(True),
        "contained": and_(row.bot_took_part.is_(True), row.handoff_id.is_(None), row.reopened.is_(False)),
        "handoffs": handed,
        "abandoned": and_(handed, row.abandoned.is_(True)),
        "resolved": and_(handed, row.resolved.is_(True)),
        "csat_responses": and_(handed, row.csat.isnot(None)),
        "csat_positive": and_(handed, row.csat >= POSITIVE_CSAT_AT_LEAST),
        "fallbacks": row.nlu_fallbacks > 0,
    }
    for clock in CLOCKS:
        column = getattr(row, f"sla_{clock}")
        conditions[f"{clock}_decided"] = and_(handed, column.isnot(None))
        conditions[f"{clock}_met"] = and_(handed, column.is_(True))
        conditions[f"{clock}_sla_missed"] = and_(handed, column.is_(False))
    return conditions


_CONDITIONS = _sql_conditions()
# Tally's counts filled from a condition each, in this order.
TALLIED = ("took_part", "contained", "handoffs", "abandoned", "resolved", "csat_responses", "csat_positive")


def _in_range(start: datetime, end: datetime) -> Any:
    return and_(ConversationFactRow.started_at >= start, ConversationFactRow.started_at < end)


def _metric_condition(metric: str) -> Any:
    """The SQL of a drill-down metric (analytics.metrics.METRICS, or `reason:<code>`)."""
    if metric == "conversations":
        return true()
    if metric.startswith("reason:"):
        code = metric.split(":", 1)[1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        listed = literal(",") + ConversationFactRow.handoff_reasons + literal(",")
        return and_(_CONDITIONS["handoffs"], listed.like(f"%,{code},%", escape="\\"))
    return _CONDITIONS[metric]


def _group_expression(by: str) -> Any:
    """The SQL of a slice's group key (analytics.metrics.group_key)."""
    if by == "none":
        return literal("total")
    if by == "queue":
        return func.coalesce(ConversationFactRow.queue, NO_QUEUE)
    return getattr(ConversationFactRow, by)


def _key(by: str, value: Any) -> str:
    return f"{int(value):02d}" if by == "hour" else str(value)


def _row_values(facts: ConversationFacts) -> dict:
    fact = facts.fact
    values = {name: getattr(fact, name) for name in FACT_COLUMNS}
    values["handoff_reasons"] = ",".join(fact.handoff_reasons)
    values["decision_inputs"] = json.dumps(facts.decision_inputs)
    return values


def _chunks(items: Sequence, size: int = CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class AnalyticsStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # --- writing -------------------------------------------------------------------------------------

    def save(self, built: Iterable[ConversationFacts]) -> int:
        """Replaces each conversation's row and misunderstood messages, in one transaction."""
        built = list(built)
        with self.database.session() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Several service processes refresh at once (on requests, on the timer): one writer at a
                # time, as SQLite has it anyway, so the replace below never inserts a row twice.
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SAVE_LOCK_KEY})
            ids = [b.fact.conversation_id for b in built]
            for chunk in _chunks(ids):
                session.execute(delete(MisunderstoodRow).where(MisunderstoodRow.conversation_id.in_(chunk)))
            existing = set()
            for chunk in _chunks(ids):
                existing.update(
                    session.execute(
                        select(ConversationFactRow.conversation_id).where(
                            ConversationFactRow.conversation_id.in_(chunk)
                        )
                    ).scalars()
                )
            for item in built:
                values = _row_values(item)
                if item.fact.conversation_id in existing:
                    values.pop("reopened")  # the customer's later conversations decide it (set_reopened)
                    session.query(ConversationFactRow).filter_by(conversation_id=item.fact.conversation_id).update(
                        values, synchronize_session=False
                    )
                else:
                    session.add(ConversationFactRow(**values))
                session.add_all(
                    MisunderstoodRow(
                        conversation_id=item.fact.conversation_id,
                        text=m.text,
                        intent=m.intent,
                        confidence=m.confidence,
                        at=m.at,
                    )
                    for m in item.misunderstood
                )
        return len(built)

    def customers_conversations(self, customer_ids: Sequence[str]) -> Dict[str, List[Tuple[str, datetime, datetime]]]:
        found: Dict[str, List[Tuple[str, datetime, datetime]]] = {}
        with self.database.session() as session:
            for chunk in _chunks(list(customer_ids)):
                rows = session.execute(
                    select(
                        ConversationFactRow.customer_id,
                        ConversationFactRow.conversation_id,
                        ConversationFactRow.started_at,
                        ConversationFactRow.last_message_at,
                    ).where(ConversationFactRow.customer_id.in_(chunk))
                )
                for customer, conversation, started, last in rows:
                    found.setdefault(customer, []).append((conversation, _utc(started), _utc(last or started)))
        return found

    def set_reopened(self, flags: Dict[str, bool]) -> None:
        with self.database.session() as session:
            for value in (True, False):
                ids = [c for c, flag in flags.items() if flag is value]
                for chunk in _chunks(ids):
                    session.query(ConversationFactRow).filter(ConversationFactRow.conversation_id.in_(chunk)).update(
                        {"reopened": value}, synchronize_session=False
                    )

    def state(self, name: str) -> Optional[str]:
        with self.database.session() as session:
            row = session.get(AnalyticsStateRow, name)
            return row.value if row else None

    def set_state(self, name: str, value: str) -> None:
        with self.database.session() as session:
            row = session.get(AnalyticsStateRow, name)
            if row is None:
                session.add(AnalyticsStateRow(name=name, value=value))
            else:
                row.value = value

    # --- seeded demo history ---------------------------------------------------------------------------

    def mark_seeded(self, conversation_id: str, time_map: TimeMap) -> None:
        with self.database.session() as session:
            session.merge(
                SeededConversationRow(
                    conversation_id=conversation_id,
                    real_start=time_map.real_start,
                    simulated_start=time_map.simulated_start,
                    scale=time_map.scale,
                )
            )

    def time_maps(self, conversation_ids: Sequence[str]) -> Dict[str, TimeMap]:
        found = {}
        with self.database.session() as session:
            for chunk in _chunks(list(conversation_ids)):
                for row in session.execute(
                    select(SeededConversationRow).where(SeededConversationRow.conversation_id.in_(chunk))
                ).scalars():
                    found[row.conversation_id] = TimeMap(_utc(row.real_start), _utc(row.simulated_start), row.scale)
        return found

    def seeded_ids(self) -> List[str]:
        with self.database.session() as session:
            return list(session.execute(select(SeededConversationRow.conversation_id)).scalars())

    def forget(self, conversation_ids: Sequence[str]) -> None:
        """Removes the conversations' rows (the seeded history's removal)."""
        with self.database.session() as session:
            for chunk in _chunks(list(conversation_ids)):
                for table in (ConversationFactRow, MisunderstoodRow, SeededConversationRow):
                    session.execute(delete(table).where(table.conversation_id.in_(chunk)))

    # --- reading -------------------------------------------------------------------------------------

    def facts(self, start: datetime, end: datetime) -> List[Fact]:
        """The conversations that started in [start, end)."""
        query = select(*_SELECTED).where(ConversationFactRow.started_at >= start, ConversationFactRow.started_at < end)
        with self.database.engine.connect() as connection:
            return [_fact(row) for row in connection.execute(query)]

    def fact(self, conversation_id: str) -> Optional[Fact]:
        with self.database.engine.connect() as connection:
            row = connection.execute(
                select(*_SELECTED).where(ConversationFactRow.conversation_id == conversation_id)
            ).first()
        return _fact(row) if row else None

    def tallies(self, start: datetime, end: datetime, by: str) -> Dict[str, Tally]:
        """Per group key of the slice `by`, the tally of the conversations that started in [start, end),
        aggregated by the database (analytics.metrics.Tally.add's definitions, in SQL): the counts in one
        GROUP BY; only the handoffs' reasons and durations are fetched (for the reasons and percentiles)."""
        row, key, where = ConversationFactRow, _group_expression(by), _CONDITIONS

        def count(condition: Any) -> Any:
            return func.sum(case((condition, 1), else_=0))

        counted = [
            func.count(),
            *(count(where[name]) for name in TALLIED),
            func.coalesce(func.sum(row.nlu_messages), 0),
            func.coalesce(func.sum(row.nlu_fallbacks), 0),
        ]
        for clock in CLOCKS:
            counted += [count(where[f"{clock}_decided"]), count(where[f"{clock}_met"])]
        in_range, handed = _in_range(start, end), where["handoffs"]
        groups: Dict[str, Tally] = {}
        with self.database.engine.connect() as connection:
            totals = select(key, *counted).where(in_range)  # by=none: one row (PostgreSQL groups by no constant)
            for found in connection.execute(totals if by == "none" else totals.group_by(key)):
                tally = groups[_key(by, found[0])] = Tally()
                tally.conversations = int(found[1])
                for index, name in enumerate(TALLIED, start=2):
                    setattr(tally, name, int(found[index] or 0))
                tally.nlu_messages, tally.nlu_fallbacks = int(found[9] or 0), int(found[10] or 0)
                for index, clock in enumerate(CLOCKS):
                    tally.sla_decided[clock] = int(found[11 + 2 * index] or 0)
                    tally.sla_met[clock] = int(found[12 + 2 * index] or 0)
            # The handoffs only (a fraction of the conversations): their reasons and durations.
            handoffs = select(
                key,
                row.handoff_reasons,
                row.first_response_s,
                row.first_response_business_s,
                row.resolution_s,
                row.resolution_business_s,
            ).where(in_range, handed)
            for group, codes, *values in connection.execute(handoffs):
                tally = groups[_key(by, group)]
                if codes:
                    tally.reasons.update(codes.split(","))
                for samples, value in zip(
                    (tally.first_response, tally.first_response_business, tally.resolution, tally.resolution_business),
                    values,
                ):
                    if value is not None:
                        samples.append(value)
        return groups

    def drill_down(
        self, start: datetime, end: datetime, by: str, key: str, metric: str, limit: Optional[int] = None
    ) -> Tuple[int, List[Fact]]:
        """How many conversations of [start, end) in group `key` of slice `by` (or "total") the number
        `metric` counts, and the newest `limit` of them (all without a limit), filtered by the database."""
        condition = and_(_in_range(start, end), _metric_condition(metric))
        if key != "total" and by != "none":
            group = _group_expression(by)
            condition = and_(condition, group == (int(key) if by == "hour" and key.isdigit() else key))
        elif key != "total":
            condition = and_(condition, false())  # with no slice there is only the total
        order = (ConversationFactRow.started_at.desc(), ConversationFactRow.conversation_id)
        with self.database.engine.connect() as connection:
            count = int(connection.execute(select(func.count()).where(condition)).scalar_one())
            listed = select(*_SELECTED).where(condition).order_by(*order).limit(limit)
            return count, [_fact(row) for row in connection.execute(listed)]

    def decision_inputs(self, start: datetime, end: datetime) -> List[Tuple[str, datetime, dict]]:
        query = (
            select(
                ConversationFactRow.conversation_id, ConversationFactRow.started_at, ConversationFactRow.decision_inputs
            )
            .where(ConversationFactRow.started_at >= start, ConversationFactRow.started_at < end)
            .order_by(ConversationFactRow.started_at)
        )
        with self.database.engine.connect() as connection:
            return [(c, _utc(s), json.loads(d)) for c, s, d in connection.execute(query)]

    def misunderstood(self, start: datetime, end: datetime, limit: int) -> List[dict]:
        """The most frequent texts the bot did not understand (case and spacing folded), each with its
        latest intent and the mean confidence."""
        text = func.lower(func.trim(MisunderstoodRow.text))
        query = (
            select(text, func.count(), func.max(MisunderstoodRow.intent), func.avg(MisunderstoodRow.confidence))
            .where(MisunderstoodRow.at >= start, MisunderstoodRow.at < end)
            .group_by(text)
            .order_by(func.count().desc(), text)
            .limit(limit)
        )
        with self.database.engine.connect() as connection:
            return [
                {"text": t, "count": n, "intent": i, "confidence": None if c is None else round(float(c), 3)}
                for t, n, i, c in connection.execute(query)
            ]
