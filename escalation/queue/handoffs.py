"""The human queue: handoffs waiting for, or being worked by, agents. SQLAlchemy on any database.

Guarantees, on SQLite and PostgreSQL alike:
- enqueueing is idempotent per conversation: one open handoff per conversation (a unique
  `open_key`, set while the handoff is open and cleared when it closes);
- claiming is atomic: a compare-and-set UPDATE ... WHERE status = 'waiting', so two agents can
  never both get a handoff, and a losing claim is reported as a conflict;
- a claimed handoff carries a lease; an agent who goes silent past it loses the handoff, which
  returns to the queue (`release_expired_leases`);
- an SLA breach is recorded once, when a handoff is still waiting past its due time;
- assignment (pushed by routing, or claimed) never puts an agent over their capacity: the agent's
  row is locked (SELECT ... FOR UPDATE on PostgreSQL) and the UPDATE counts their open handoffs in
  its own WHERE, so concurrent assignments to one agent from several processes queue up;
- a waiting customer who leaves (their chat window gone past a grace period, or no answer to "are you
  still there?") makes the handoff `abandoned`, which frees it from the queue.
Reasons are stored as JSON objects `{"code", "text"}` (escalation.core.reasons.Reason).
The schema is made and changed by the migrations in migrations/ (common.database.migrate).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from common.database import Base, Database
from common.names import CSAT_SCALE, HandoffChannel, HandoffStatus
from escalation.queue.agents import AgentRow

WAITING, ASSIGNED, RESOLVED, ABANDONED = (
    HandoffStatus.WAITING,
    HandoffStatus.ASSIGNED,
    HandoffStatus.RESOLVED,
    HandoffStatus.ABANDONED,
)
DEFAULT_LEASE = timedelta(minutes=5)


class HandoffRow(Base):
    __tablename__ = "handoffs"

    id = Column(String(36), primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    open_key = Column(String(128), unique=True, nullable=True)  # = conversation_id while open
    # played by the seeded demo history (analytics/seed.py): not a measured handle time
    demo_history = Column(Boolean, nullable=False, default=False, server_default=false())
    customer_id = Column(String(64), nullable=True)
    tier = Column(String(16), nullable=False)
    segment = Column(Text, nullable=False)  # JSON snapshot of the segment at handoff time
    queue = Column(String(32), nullable=False, index=True)
    priority = Column(Integer, nullable=False)
    channel = Column(
        String(16), nullable=False, default=HandoffChannel.LIVE_CHAT, server_default=HandoffChannel.LIVE_CHAT
    )  # live_chat / phone_callback / ticket
    reasons = Column(Text, nullable=False)  # JSON list of {"code", "text"}
    status = Column(String(16), nullable=False, index=True)
    agent_id = Column(String(64), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
    sla_due_at = Column(DateTime(timezone=True), nullable=False, index=True)
    claimed_at = Column(DateTime(timezone=True), nullable=True)
    lease_expires_at = Column(DateTime(timezone=True), nullable=True)
    resolved_at = Column(DateTime(timezone=True), nullable=True)
    sla_breached_at = Column(DateTime(timezone=True), nullable=True)
    csat = Column(Integer, nullable=True)  # the customer's 1-5 rating after the resolution
    csat_at = Column(DateTime(timezone=True), nullable=True)
    declined_by = Column(Text, nullable=False, default="[]", server_default="[]")  # JSON list of agent names
    routing_log = Column(Text, nullable=False, default="[]", server_default="[]")  # JSON list of {"at", "event", ...}
    position_told = Column(Integer, nullable=True)  # the place in line the customer was last told
    position_told_at = Column(DateTime(timezone=True), nullable=True)
    callback_offered_at = Column(DateTime(timezone=True), nullable=True)  # the forecast passed the SLA
    still_there_asked_at = Column(DateTime(timezone=True), nullable=True)
    customer_left_at = Column(DateTime(timezone=True), nullable=True)  # their chat window closed
    abandoned_at = Column(DateTime(timezone=True), nullable=True)
    resolution_code = Column(String(64), nullable=True)  # the agent's wrap-up (rules: workspace.resolution_codes)
    summary = Column(Text, nullable=True)


class NoteRow(Base):
    """A private note on a handoff: agents only, never sent to the customer."""

    __tablename__ = "handoff_notes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    handoff_id = Column(String(36), nullable=False, index=True)
    agent_id = Column(String(64), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)


class SlaEventRow(Base):
    """An SLA clock of a handoff turning at risk or breached, or ending met: once per clock and state."""

    __tablename__ = "sla_events"
    __table_args__ = (UniqueConstraint("handoff_id", "clock", "state", name="uq_sla_events_once"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    handoff_id = Column(String(36), nullable=False, index=True)
    clock = Column(String(32), nullable=False)
    state = Column(String(16), nullable=False)
    tier = Column(String(16), nullable=False)
    queue = Column(String(32), nullable=False)
    at = Column(DateTime(timezone=True), nullable=False)


@dataclass(frozen=True)
class Note:
    id: int
    handoff_id: str
    agent_id: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class Handoff:
    id: str
    conversation_id: str
    customer_id: Optional[str]
    tier: str
    segment: dict
    queue: str
    priority: int
    channel: str
    reasons: List[dict]  # {"code": a common.names.ReasonCode value, "text": words for agents}
    status: str
    agent_id: Optional[str]
    created_at: datetime
    sla_due_at: datetime
    claimed_at: Optional[datetime]
    lease_expires_at: Optional[datetime]
    resolved_at: Optional[datetime]
    sla_breached_at: Optional[datetime]
    csat: Optional[int] = None
    csat_at: Optional[datetime] = None
    declined_by: Tuple[str, ...] = ()
    routing_log: Tuple[dict, ...] = ()
    position_told: Optional[int] = None
    position_told_at: Optional[datetime] = None
    callback_offered_at: Optional[datetime] = None
    still_there_asked_at: Optional[datetime] = None
    customer_left_at: Optional[datetime] = None
    abandoned_at: Optional[datetime] = None
    resolution_code: Optional[str] = None
    summary: Optional[str] = None

    @property
    def reason_codes(self) -> List[str]:
        return [reason["code"] for reason in self.reasons]


class ClaimConflict(Exception):
    """Another agent has the handoff, or it is no longer waiting."""


class AtCapacity(ClaimConflict):
    """The agent already has as many open conversations as their capacity allows."""


class NotFound(Exception):
    """No handoff with that id."""


def _utc(value: Optional[datetime]) -> Optional[datetime]:
    # SQLite returns naive datetimes; everything here is UTC.
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _to_handoff(row: HandoffRow) -> Handoff:
    return Handoff(
        row.id,
        row.conversation_id,
        row.customer_id,
        row.tier,
        json.loads(row.segment),
        row.queue,
        row.priority,
        row.channel,
        json.loads(row.reasons),
        row.status,
        row.agent_id,
        _utc(row.created_at),
        _utc(row.sla_due_at),
        _utc(row.claimed_at),
        _utc(row.lease_expires_at),
        _utc(row.resolved_at),
        _utc(row.sla_breached_at),
        row.csat,
        _utc(row.csat_at),
        tuple(json.loads(row.declined_by or "[]")),
        tuple(json.loads(row.routing_log or "[]")),
        row.position_told,
        _utc(row.position_told_at),
        _utc(row.callback_offered_at),
        _utc(row.still_there_asked_at),
        _utc(row.customer_left_at),
        _utc(row.abandoned_at),
        row.resolution_code,
        row.summary,
    )


def _log(session: Any, handoff_id: str, now: datetime, event: str, **details: Any) -> None:
    """Appends to the handoff's routing log, inside the transaction that changed it (the row is the
    transaction's own by then, so the read-modify-write cannot lose another process's entry)."""
    row = session.get(HandoffRow, handoff_id)
    if row is not None:
        row.routing_log = json.dumps(
            [*json.loads(row.routing_log or "[]"), {"at": now.isoformat(), "event": event, **details}]
        )


# Agents take handoffs in this order: the earliest SLA due time first, then priority, then age.
QUEUE_ORDER = (HandoffRow.sla_due_at, HandoffRow.priority, HandoffRow.created_at, HandoffRow.id)


class HandoffQueue:
    def __init__(self, database: Database) -> None:
        self._database = database

    def enqueue(
        self,
        conversation_id: str,
        customer_id: Optional[str],
        tier: str,
        segment: dict,
        queue: str,
        priority: int,
        reasons: Sequence[dict],
        sla_seconds: int,
        now: datetime,
        channel: str = HandoffChannel.LIVE_CHAT,
    ) -> Handoff:
        """The conversation's open handoff: an existing one, or a new waiting one."""
        existing = self.open_for(conversation_id)
        if existing is not None:
            return existing
        row = HandoffRow(
            id=str(uuid.uuid4()),
            conversation_id=conversation_id,
            open_key=conversation_id,
            customer_id=customer_id,
            tier=tier,
            segment=json.dumps(segment, default=str),
            queue=queue,
            priority=priority,
            channel=channel,
            reasons=json.dumps(list(reasons)),
            status=WAITING,
            created_at=now,
            sla_due_at=now + timedelta(seconds=sla_seconds),
        )
        try:
            with self._database.session() as session:
                session.add(row)
        except IntegrityError:  # a concurrent enqueue for the same conversation won
            existing = self.open_for(conversation_id)
            if existing is None:
                raise
            return existing
        return _to_handoff(row)

    def open_for(self, conversation_id: str) -> Optional[Handoff]:
        with self._database.session() as session:
            row = session.execute(select(HandoffRow).where(HandoffRow.open_key == conversation_id)).scalar()
            return _to_handoff(row) if row is not None else None

    def get(self, handoff_id: str) -> Handoff:
        with self._database.session() as session:
            row = session.get(HandoffRow, handoff_id)
            if row is None:
                raise NotFound(handoff_id)
            return _to_handoff(row)

    def list(
        self,
        status: Optional[str] = WAITING,
        queues: Optional[Iterable[str]] = None,
        limit: int = 200,
        agent_id: Optional[str] = None,
        channel: Optional[str] = None,
    ) -> List[Handoff]:
        """Handoffs with `status` (any when None) in queue order; only those in `queues` when given,
        plus, with `agent_id`, that agent's own wherever they are; only of `channel` when given."""
        query = select(HandoffRow)
        if status:
            query = query.where(HandoffRow.status == status)
        if channel:
            query = query.where(HandoffRow.channel == channel)
        if queues is not None:
            visible = HandoffRow.queue.in_(list(queues))
            query = query.where(or_(visible, HandoffRow.agent_id == agent_id) if agent_id else visible)
        with self._database.session() as session:
            rows = session.execute(query.order_by(*QUEUE_ORDER).limit(limit)).scalars().all()
            return [_to_handoff(r) for r in rows]

    def waiting_counts(self, channel: Optional[str] = None) -> Dict[str, int]:
        """Queue -> handoffs waiting in it (of `channel` only, when given)."""
        query = select(HandoffRow.queue, func.count()).where(HandoffRow.status == WAITING)
        if channel:
            query = query.where(HandoffRow.channel == channel)
        with self._database.session() as session:
            rows = session.execute(query.group_by(HandoffRow.queue)).all()
        return {queue: count for queue, count in rows}

    def claim(
        self,
        handoff_id: str,
        agent_id: str,
        now: datetime,
        lease: timedelta = DEFAULT_LEASE,
        queues: Optional[Iterable[str]] = None,
        capacity: Optional[int] = None,
    ) -> Handoff:
        """An agent takes a waiting handoff from the list (pull queues, supervisors): `assign` by hand."""
        return self.assign(handoff_id, agent_id, now, lease, queues, capacity, how="claimed")

    def assign(
        self,
        handoff_id: str,
        agent_id: str,
        now: datetime,
        lease: timedelta = DEFAULT_LEASE,
        queues: Optional[Iterable[str]] = None,
        capacity: Optional[int] = None,
        how: str = "assigned",
        keep_for: Optional[Mapping[str, int]] = None,
    ) -> Handoff:
        """Atomically gives a waiting handoff to `agent_id`: only while it is waiting, in one of `queues`
        when given (a transfer in between cannot hand it to an agent of another queue), and while the
        agent has fewer than `capacity` handoffs assigned (when given), counting as taken the slots kept
        for other queues (`keep_for`: queue -> slots the routing keeps for its chats) that their chats do
        not fill yet. ClaimConflict when someone else has it or it moved; AtCapacity when the agent is full."""
        conditions = [HandoffRow.id == handoff_id, HandoffRow.status == WAITING]
        if queues is not None:
            conditions.append(HandoffRow.queue.in_(list(queues)))
        if capacity is not None:
            taken = self._open_of(agent_id)
            for kept_queue, slots in (keep_for or {}).items():
                filled = self._open_of(agent_id, kept_queue)
                taken = taken + case((filled < slots, slots - filled), else_=0)
            conditions.append(taken < capacity)
        with self._database.session() as session:
            # Concurrent assignments to one agent wait for each other here (PostgreSQL; SQLite runs one
            # writing statement at a time anyway), so the count in the UPDATE below is current.
            session.execute(select(AgentRow.name).where(AgentRow.name == agent_id).with_for_update())
            result = session.execute(
                update(HandoffRow)
                .where(and_(*conditions))
                .values(
                    status=ASSIGNED,
                    agent_id=agent_id,
                    claimed_at=now,
                    lease_expires_at=now + lease,
                )
                .execution_options(synchronize_session=False)
            )
            assigned = result.rowcount == 1
            if assigned:
                _log(session, handoff_id, now, how, agent=agent_id)
                session.execute(
                    update(AgentRow)
                    .where(AgentRow.name == agent_id)
                    .values(last_assigned_at=now)
                    .execution_options(synchronize_session=False)
                )
        if not assigned:
            current = self.get(handoff_id)  # raises NotFound for an unknown id
            if capacity is not None and current.status == WAITING and (queues is None or current.queue in queues):
                kept = f", counting the slots kept for {', '.join(keep_for)}" if keep_for else ""
                raise AtCapacity(f"{agent_id} already has {capacity} open conversation(s), their capacity{kept}")
            where = f" in the {current.queue} queue" if queues is not None and current.queue not in queues else ""
            raise ClaimConflict(
                f"handoff {handoff_id} is {current.status}{where}"
                + (f" (agent {current.agent_id})" if current.agent_id else "")
            )
        return self.get(handoff_id)

    @staticmethod
    def _open_of(agent_id: str, queue: Optional[str] = None) -> Any:
        """The agent's assigned handoffs (of `queue`), counted inside the statement that uses it."""
        other = aliased(HandoffRow)
        conditions = [other.agent_id == agent_id, other.status == ASSIGNED]
        if queue is not None:
            conditions.append(other.queue == queue)
        return select(func.count()).select_from(other).where(*conditions).scalar_subquery()

    def claim_next(
        self,
        agent_id: str,
        now: datetime,
        queues: Optional[Iterable[str]] = None,
        lease: timedelta = DEFAULT_LEASE,
        batch: int = 20,
        capacity: Optional[int] = None,
    ) -> Optional[Handoff]:
        """The first waiting handoff in queue order that this agent wins, or None (AtCapacity when full)."""
        while True:
            candidates = self.list(WAITING, queues, limit=batch)
            if not candidates:
                return None
            for candidate in candidates:
                try:
                    return self.claim(candidate.id, agent_id, now, lease, queues, capacity)
                except AtCapacity:
                    raise
                except ClaimConflict:
                    continue  # another agent was faster; try the next one

    def _owned_update(self, handoff_id: str, agent_id: str, values: dict, statuses=(ASSIGNED,)) -> Handoff:
        with self._database.session() as session:
            result = session.execute(
                update(HandoffRow)
                .where(
                    and_(HandoffRow.id == handoff_id, HandoffRow.agent_id == agent_id, HandoffRow.status.in_(statuses))
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            changed = result.rowcount == 1
        if not changed:
            current = self.get(handoff_id)
            raise ClaimConflict(
                f"handoff {handoff_id} is {current.status}"
                + (f" and belongs to {current.agent_id}" if current.agent_id else "")
            )
        return self.get(handoff_id)

    def heartbeat(self, handoff_id: str, agent_id: str, now: datetime, lease: timedelta = DEFAULT_LEASE) -> Handoff:
        return self._owned_update(handoff_id, agent_id, {"lease_expires_at": now + lease})

    def resolve(
        self,
        handoff_id: str,
        agent_id: str,
        now: datetime,
        resolution_code: Optional[str] = None,
        summary: Optional[str] = None,
    ) -> Handoff:
        return self._owned_update(
            handoff_id,
            agent_id,
            {
                "status": RESOLVED,
                "resolved_at": now,
                "open_key": None,
                "lease_expires_at": None,
                "resolution_code": resolution_code,
                "summary": summary,
            },
        )

    def reopen(self, handoff_id: str, agent_id: str, now: datetime, lease: timedelta = DEFAULT_LEASE) -> Handoff:
        """Undoes `resolve` when the conversation could not be handed back to the bot: the agent keeps it."""
        handoff = self.get(handoff_id)
        return self._owned_update(
            handoff_id,
            agent_id,
            {
                "status": ASSIGNED,
                "resolved_at": None,
                "open_key": handoff.conversation_id,
                "lease_expires_at": now + lease,
                "resolution_code": None,
                "summary": None,
            },
            statuses=(RESOLVED,),
        )

    def transfer(self, handoff_id: str, agent_id: str, queue: str, now: datetime, reason: str = "") -> Handoff:
        """Back to waiting, in another queue (or the same, for another agent); the SLA due time is kept."""
        return self._back_to_waiting(handoff_id, agent_id, now, "transferred", reason, queue=queue)

    def decline(self, handoff_id: str, agent_id: str, now: datetime, reason: str) -> Handoff:
        """The agent gives a handoff routing pushed to them back; it is not pushed to them again."""
        return self._back_to_waiting(handoff_id, agent_id, now, "declined", reason, declined=True)

    def _back_to_waiting(
        self,
        handoff_id: str,
        agent_id: str,
        now: datetime,
        event: str,
        reason: str,
        queue: Optional[str] = None,
        declined: bool = False,
    ) -> Handoff:
        with self._database.session() as session:
            row = session.execute(
                select(HandoffRow)
                .where(HandoffRow.id == handoff_id, HandoffRow.agent_id == agent_id, HandoffRow.status == ASSIGNED)
                .with_for_update()
            ).scalar()
            if row is not None:
                details: Dict[str, Any] = {"agent": agent_id, "reason": reason}
                if queue is not None:
                    details.update(source=row.queue, queue=queue)
                    row.queue = queue
                if declined:
                    row.declined_by = json.dumps(sorted({*json.loads(row.declined_by or "[]"), agent_id}))
                row.status, row.agent_id, row.claimed_at, row.lease_expires_at = WAITING, None, None, None
                row.position_told = None  # the customer hears their (new) place in line again
                session.flush()
                _log(session, handoff_id, now, event, **details)
        if row is None:
            current = self.get(handoff_id)
            raise ClaimConflict(
                f"handoff {handoff_id} is {current.status}"
                + (f" and belongs to {current.agent_id}" if current.agent_id else "")
            )
        return self.get(handoff_id)

    def record_csat(self, handoff_id: str, score: int, now: datetime) -> Handoff:
        """Stores the customer's rating of a resolved handoff (a later rating replaces it)."""
        if score not in CSAT_SCALE:
            raise ValueError(f"a CSAT rating is {CSAT_SCALE.start} to {CSAT_SCALE.stop - 1}, got {score!r}")
        with self._database.session() as session:
            result = session.execute(
                update(HandoffRow)
                .where(and_(HandoffRow.id == handoff_id, HandoffRow.status == RESOLVED))
                .values(csat=score, csat_at=now)
                .execution_options(synchronize_session=False)
            )
            changed = result.rowcount == 1
        if not changed:
            current = self.get(handoff_id)  # NotFound for an unknown id
            raise ClaimConflict(f"handoff {handoff_id} is {current.status}, not resolved")
        return self.get(handoff_id)

    def release_expired_leases(self, now: datetime) -> int:
        """Handoffs whose agent went silent go back to the queue; returns how many."""
        with self._database.session() as session:
            result = session.execute(
                update(HandoffRow)
                .where(and_(HandoffRow.status == ASSIGNED, HandoffRow.lease_expires_at < now))
                .values(status=WAITING, agent_id=None, claimed_at=None, lease_expires_at=None)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount

    def upkeep(self, now: datetime) -> Tuple[int, int]:
        """What runs on a timer: expired leases released, SLA breaches recorded; returns both counts.
        Both are idempotent, so several processes may run it."""
        return self.release_expired_leases(now), self.record_sla_breaches(now)

    def record_sla_breaches(self, now: datetime) -> int:
        """Marks handoffs still waiting past their SLA due time, once each; returns how many."""
        with self._database.session() as session:
            result = session.execute(
                update(HandoffRow)
                .where(
                    and_(
                        HandoffRow.status == WAITING, HandoffRow.sla_due_at < now, HandoffRow.sla_breached_at.is_(None)
                    )
                )
                .values(sla_breached_at=now)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount

    # --- routing ---------------------------------------------------------------------------------------

    def open_counts(self) -> Dict[str, int]:
        """Agent name -> handoffs assigned to them now."""
        return {agent: sum(by_queue.values()) for agent, by_queue in self.open_counts_by_queue().items()}

    def open_counts_by_queue(self) -> Dict[str, Dict[str, int]]:
        """Agent name -> queue -> handoffs of that queue assigned to them now."""
        with self._database.session() as session:
            rows = session.execute(
                select(HandoffRow.agent_id, HandoffRow.queue, func.count())
                .where(HandoffRow.status == ASSIGNED)
                .group_by(HandoffRow.agent_id, HandoffRow.queue)
            ).all()
        counts: Dict[str, Dict[str, int]] = {}
        for agent, queue, count in rows:
            if agent:
                counts.setdefault(agent, {})[queue] = count
        return counts

    def waiting_chats(self, limit: int = 5000) -> List[Handoff]:
        """Live chats waiting for a person, in queue order (callbacks and tickets are claimed from the list)."""
        return self.list(WAITING, limit=limit, channel=HandoffChannel.LIVE_CHAT)

    def mark_demo_history(self, conversation_ids: Sequence[str]) -> None:
        """These conversations' handoffs are seeded demo history, not work to learn handle times from."""
        with self._database.session() as session:
            session.execute(
                update(HandoffRow)
                .where(HandoffRow.conversation_id.in_(list(conversation_ids)))
                .values(demo_history=True)
                .execution_options(synchronize_session=False)
            )

    def handle_times(self, queue: str, last: int = 50) -> List[float]:
        """Seconds from assignment to resolution of the queue's latest resolved live chats."""
        with self._database.session() as session:
            rows = session.execute(
                select(HandoffRow.claimed_at, HandoffRow.resolved_at)
                .where(
                    HandoffRow.queue == queue,
                    HandoffRow.status == RESOLVED,
                    HandoffRow.channel == HandoffChannel.LIVE_CHAT,
                    HandoffRow.claimed_at.is_not(None),
                    HandoffRow.demo_history.is_(False),
                )
                .order_by(HandoffRow.resolved_at.desc())
                .limit(last)
            ).all()
        return [max(0.0, (_utc(done) - _utc(started)).total_seconds()) for started, done in rows if done and started]

    def told(self, handoff_id: str, **values: Any) -> None:
        """Records what the waiting customer was told (position_told, position_told_at,
        callback_offered_at, still_there_asked_at), so it is not repeated."""
        allowed = {"position_told", "position_told_at", "callback_offered_at", "still_there_asked_at"}
        with self._database.session() as session:
            session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id)
                .values(**{k: v for k, v in values.items() if k in allowed})
                .execution_options(synchronize_session=False)
            )

    def customer_left(self, conversation_id: str, now: Optional[datetime]) -> None:
        """The customer's chat window closed (`now`), or came back (None), while a handoff is open."""
        with self._database.session() as session:
            session.execute(
                update(HandoffRow)
                .where(HandoffRow.open_key == conversation_id)
                .values(customer_left_at=now)
                .execution_options(synchronize_session=False)
            )

    def abandon(self, handoff_id: str, now: datetime, why: str) -> bool:
        """A waiting customer left: the handoff leaves the queue. False when it was no longer waiting."""
        with self._database.session() as session:
            result = session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id, HandoffRow.status == WAITING)
                .values(status=ABANDONED, abandoned_at=now, open_key=None, lease_expires_at=None)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                _log(session, handoff_id, now, "abandoned", reason=why)
                return True
        return False

    def switch_channel(self, handoff_id: str, channel: str, now: datetime) -> bool:
        """A waiting chat becomes a callback or a ticket (the customer took the offer); False when it
        was no longer waiting."""
        with self._database.session() as session:
            result = session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id, HandoffRow.status == WAITING)
                .values(channel=channel)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                _log(session, handoff_id, now, "switched", channel=channel)
                return True
        return False

    def renew_leases(self, agent_id: str, now: datetime, lease: timedelta = DEFAULT_LEASE) -> int:
        """The agent's console is open (its heartbeat): every handoff they hold keeps its lease."""
        with self._database.session() as session:
            result = session.execute(
                update(HandoffRow)
                .where(HandoffRow.agent_id == agent_id, HandoffRow.status == ASSIGNED)
                .values(lease_expires_at=now + lease)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount

    # --- the agent's workspace ---------------------------------------------------------------------

    def add_note(self, handoff_id: str, agent_id: str, text: str, now: datetime) -> Note:
        self.get(handoff_id)  # NotFound for an unknown id
        with self._database.session() as session:
            row = NoteRow(handoff_id=handoff_id, agent_id=agent_id, text=text, created_at=now)
            session.add(row)
            session.flush()
            return Note(row.id, handoff_id, agent_id, text, now)

    def notes(self, handoff_ids: Sequence[str]) -> List[Note]:
        """The private notes on these handoffs, oldest first."""
        if not handoff_ids:
            return []
        with self._database.session() as session:
            rows = session.execute(
                select(NoteRow).where(NoteRow.handoff_id.in_(list(handoff_ids))).order_by(NoteRow.id)
            ).scalars()
            return [Note(r.id, r.handoff_id, r.agent_id, r.text, _utc(r.created_at)) for r in rows]

    def of_customer(self, customer_id: str, limit: int = 20) -> List[Handoff]:
        """A customer's handoffs, newest first (their history for the next agent)."""
        with self._database.session() as session:
            rows = session.execute(
                select(HandoffRow)
                .where(HandoffRow.customer_id == customer_id)
                .order_by(HandoffRow.created_at.desc())
                .limit(limit)
            ).scalars()
            return [_to_handoff(r) for r in rows]

    def record_sla_event(self, handoff: Handoff, clock: str, state: str, at: datetime) -> bool:
        """Records that a clock reached `state` (at_risk, breached, met): once; False if it was already."""
        try:
            with self._database.session() as session:
                session.add(
                    SlaEventRow(
                        handoff_id=handoff.id, clock=clock, state=state, tier=handoff.tier, queue=handoff.queue, at=at
                    )
                )
            return True
        except IntegrityError:
            return False

    def sla_event_keys(self, handoff_ids: Sequence[str]) -> set:
        """(handoff id, clock, state) already recorded for these handoffs."""
        if not handoff_ids:
            return set()
        with self._database.session() as session:
            rows = session.execute(
                select(SlaEventRow.handoff_id, SlaEventRow.clock, SlaEventRow.state).where(
                    SlaEventRow.handoff_id.in_(list(handoff_ids))
                )
            ).all()
        return {tuple(row) for row in rows}

    def sla_events(self, handoff_id: str) -> List[Tuple[str, str, datetime]]:
        with self._database.session() as session:
            rows = session.execute(
                select(SlaEventRow.clock, SlaEventRow.state, SlaEventRow.at)
                .where(SlaEventRow.handoff_id == handoff_id)
                .order_by(SlaEventRow.id)
            ).all()
        return [(clock, state, _utc(at)) for clock, state, at in rows]

    def open_handoffs(self, limit: int = 5000) -> List[Handoff]:
        with self._database.session() as session:
            rows = session.execute(
                select(HandoffRow).where(HandoffRow.status.in_((WAITING, ASSIGNED))).order_by(*QUEUE_ORDER).limit(limit)
            ).scalars()
            return [_to_handoff(r) for r in rows]
