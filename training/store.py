"""What trainers decided: one row per reviewed message, so the inbox does not show it again and every
change to the data can be traced to a person and a batch. SQLAlchemy, in the CRM/queue database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import List, Optional, Set, Type

from sqlalchemy import Column, DateTime, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError

from common.database import Base, Database

TRAIN, TEST = "train", "test"


class _ReviewColumns:
    id = Column(Integer, primary_key=True, autoincrement=True)
    normalized = Column(String(500), nullable=False, unique=True)
    text = Column(Text, nullable=False)
    label = Column(String(120), nullable=False)  # intent, faq/<topic> or out_of_scope
    split = Column(String(8), nullable=False)  # train: added to data/; test: to the held-out set
    batch = Column(String(36), nullable=False, index=True)
    trainer = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)


class ReviewRow(_ReviewColumns, Base):
    __tablename__ = "reviews"  # what the customer wanted: an intent, faq/<topic> or out_of_scope


class DissatisfactionReviewRow(_ReviewColumns, Base):
    __tablename__ = "dissatisfaction_reviews"  # how they felt: dissatisfied or not_dissatisfied (migration 0004)


@dataclass(frozen=True)
class Review:
    text: str
    label: str
    split: str
    batch: str
    trainer: str
    created_at: datetime


class ReviewStore:
    """Intent reviews; `ReviewStore.of_dissatisfaction(database)` keeps the dissatisfaction labels."""

    def __init__(self, database: Database, table: Type[_ReviewColumns] = ReviewRow) -> None:
        self._database = database
        self._row = table

    @classmethod
    def of_dissatisfaction(cls, database: Database) -> "ReviewStore":
        return cls(database, DissatisfactionReviewRow)

    def reviewed(self) -> Set[str]:
        with self._database.session() as session:
            return set(session.execute(select(self._row.normalized)).scalars())

    def add(self, normalized: str, review: Review) -> bool:
        """False when that message was already reviewed (by someone else, concurrently)."""
        try:
            with self._database.session() as session:
                session.add(
                    self._row(
                        normalized=normalized,
                        text=review.text,
                        label=review.label,
                        split=review.split,
                        batch=review.batch,
                        trainer=review.trainer,
                        created_at=review.created_at,
                    )
                )
            return True
        except IntegrityError:
            return False

    def recent(self, limit: int = 100, batch: Optional[str] = None) -> List[Review]:
        query = select(self._row).order_by(self._row.id.desc()).limit(limit)
        if batch:
            query = query.where(self._row.batch == batch)
        with self._database.session() as session:
            return [
                Review(r.text, r.label, r.split, r.batch, r.trainer, r.created_at)
                for r in session.execute(query).scalars()
            ]
