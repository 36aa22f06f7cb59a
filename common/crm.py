"""Customer profiles (the CRM side): a plain `Customer` record and a SQLAlchemy-backed repository.

The rest of the product works with `Customer`; only this module knows about tables and sessions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, Iterable, Optional

from sqlalchemy import Column, DateTime, Float, Integer, String, func, select

from common.database import Base, Database
from common.names import CSAT_SCALE, NPS_SCALE, Channel, Engagement, JourneyStage, Tier


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str
    tier: Tier
    journey_stage: JourneyStage
    lifetime_value: float  # actual revenue to date, EUR
    potential_value: float  # predicted value over the next 24 months, EUR
    last_purchase_at: Optional[datetime]
    last_csat: Optional[int]  # 1..5, None when never rated
    nps: Optional[int]  # 0..10, None when never answered
    engagement: Engagement
    support_contacts_30d: int
    preferred_channel: Channel
    region: str
    language: str
    age_band: str

    def __post_init__(self) -> None:
        if self.last_csat is not None and self.last_csat not in CSAT_SCALE:
            raise ValueError(f"last_csat must be {CSAT_SCALE.start}..{CSAT_SCALE.stop - 1}, got {self.last_csat}")
        if self.nps is not None and self.nps not in NPS_SCALE:
            raise ValueError(f"nps must be {NPS_SCALE.start}..{NPS_SCALE.stop - 1}, got {self.nps}")
        if self.tier is Tier.ANONYMOUS:
            raise ValueError("a stored customer cannot be anonymous")


class CustomerRow(Base):
    __tablename__ = "customers"

    customer_id = Column(String(64), primary_key=True)
    name = Column(String(120), nullable=False)
    tier = Column(String(16), nullable=False, index=True)
    journey_stage = Column(String(16), nullable=False, index=True)
    lifetime_value = Column(Float, nullable=False, default=0.0)
    potential_value = Column(Float, nullable=False, default=0.0)
    last_purchase_at = Column(DateTime, nullable=True)
    last_csat = Column(Integer, nullable=True)
    nps = Column(Integer, nullable=True)
    engagement = Column(String(8), nullable=False)
    support_contacts_30d = Column(Integer, nullable=False, default=0)
    preferred_channel = Column(String(8), nullable=False)
    region = Column(String(32), nullable=False)
    language = Column(String(8), nullable=False)
    age_band = Column(String(8), nullable=False)
    updated_at = Column(DateTime, nullable=False, server_default=func.now(), onupdate=func.now())


_ENUM_FIELDS = {
    "tier": Tier,
    "journey_stage": JourneyStage,
    "engagement": Engagement,
    "preferred_channel": Channel,
}
_FIELDS = [f.name for f in dataclasses.fields(Customer)]


def _to_customer(row: CustomerRow) -> Customer:
    values = {name: getattr(row, name) for name in _FIELDS}
    for name, enum in _ENUM_FIELDS.items():
        values[name] = enum(values[name])
    return Customer(**values)


def _to_row_values(customer: Customer) -> Dict[str, object]:
    values = dataclasses.asdict(customer)
    for name in _ENUM_FIELDS:
        values[name] = values[name].value
    return values


class CustomerRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    @classmethod
    def from_url(cls, url: str) -> "CustomerRepository":
        return cls(Database.from_url(url))

    def get(self, customer_id: str) -> Optional[Customer]:
        with self._database.session() as session:
            row = session.get(CustomerRow, customer_id)
            return _to_customer(row) if row is not None else None

    def record_csat(self, customer_id: str, score: int) -> bool:
        """The customer's latest CSAT rating; False when there is no such customer."""
        if score not in CSAT_SCALE:
            raise ValueError(f"a CSAT rating is {CSAT_SCALE.start} to {CSAT_SCALE.stop - 1}, got {score!r}")
        with self._database.session() as session:
            row = session.get(CustomerRow, customer_id)
            if row is None:
                return False
            row.last_csat = score
            return True

    def save_all(self, customers: Iterable[Customer]) -> int:
        """Inserts or replaces each customer; returns how many were written."""
        count = 0
        with self._database.session() as session:
            for customer in customers:
                session.merge(CustomerRow(**_to_row_values(customer)))
                count += 1
        return count

    def count_by(self, column: str) -> Dict[str, int]:
        attribute = getattr(CustomerRow, column)
        with self._database.session() as session:
            rows = session.execute(select(attribute, func.count()).group_by(attribute)).all()
        return {value: n for value, n in rows}
