"""What trainers decided: one row per reviewed message, so the inbox does not show it again and every
change to the data can be traced to a person and a batch. SQLAlchemy, in the CRM/queue database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import List, Optional, Set

from sqlalchemy import Column, DateTime, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError

from common.database import Base, Database

TRAIN, TEST = "train", "test"


class ReviewRow(Base):
    __tablename__ = "reviews"

    id = Column(Integer, primary_key=True, autoincrement=True)
    normalized = Column(String(500), nullable=False, unique=True)
    text = Column(Text, nullable=False)
    label = Column(String(120), nullable=False)  # intent, faq/<topic> or out_of_scope
    split = Column(String(8), nullable=False)  # train: added to data/; test: to the held-out set
    batch = Column(String(36), nullable=False, index=True)
    trainer = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)


@dataclass(frozen=True)
class Review:
    text: str
    label: str
    split: str
    batch: str
    trainer: str
    created_at: datetime


class ReviewStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    def reviewed(self) -> Set[str]:
        with self._database.session() as session:
            return set(session.execute(select(ReviewRow.normalized)).scalars())

    def add(self, normalized: str, review: Review) -> bool:
        """False when that message was already reviewed (by someone else, concurrently)."""
        try:
            with self._database.session() as session:
                session.add(
                    ReviewRow(
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
        query = select(ReviewRow).order_by(ReviewRow.id.desc()).limit(limit)
        if batch:
            query = query.where(ReviewRow.batch == batch)
        with self._database.session() as session:
            return [
                Review(r.text, r.label, r.split, r.batch, r.trainer, r.created_at)
                for r in session.execute(query).scalars()
            ]
