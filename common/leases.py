"""One process of several does a job: a lease row in the shared database (SQLite or PostgreSQL).

`JobLease.held(now)` renews the lease when this process holds it, takes it when it has expired (its
holder stopped: crashed, killed, shut down), and otherwise says no. Each step is one conditional
UPDATE (or the first INSERT), so two processes can never both hold a lease: the database decides. A
holder that stops renewing loses the lease after `ttl`; the job must therefore be safe to run twice
around a hand-over (the queue's upkeep is: every change it makes is a compare-and-set).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta, timezone
from typing import Optional

from sqlalchemy import Column, DateTime, String, update
from sqlalchemy.exc import IntegrityError

from common.database import Base, Database


class LeaseRow(Base):
    __tablename__ = "service_leases"  # migration 0007

    name = Column(String(64), primary_key=True)
    holder = Column(String(128), nullable=False)
    expires_at = Column(DateTime(timezone=True), nullable=False)


def process_identity() -> str:
    """Who holds a lease: host, process id and a random part (a restarted process is someone new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobLease:
    def __init__(self, database: Database, name: str, ttl: timedelta, holder: Optional[str] = None) -> None:
        self._database = database
        self.name = name
        self.ttl = ttl
        self.holder = holder or process_identity()

    def held(self, now: datetime) -> bool:
        """True when this process holds the lease now (renewed until now + ttl)."""
        expires = now + self.ttl
        with self._database.session() as session:
            result = session.execute(
                update(LeaseRow)
                .where(LeaseRow.name == self.name)
                .where((LeaseRow.holder == self.holder) | (LeaseRow.expires_at < now))
                .values(holder=self.holder, expires_at=expires)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                return True
        try:
            with self._database.session() as session:
                session.add(LeaseRow(name=self.name, holder=self.holder, expires_at=expires))
            return True
        except IntegrityError:  # someone else holds it (or took it first just now)
            return False

    def release(self) -> None:
        """Gives the lease up (a clean shutdown), so another process takes over at once."""
        with self._database.session() as session:
            session.execute(
                update(LeaseRow)
                .where(LeaseRow.name == self.name, LeaseRow.holder == self.holder)
                .values(expires_at=datetime(2000, 1, 1, tzinfo=timezone.utc))
                .execution_options(synchronize_session=False)
            )
