"""Rasa's events as the scaled configuration's event broker delivers them (analytics/broker_events.py):
stored by the analytics consumer, once each (a unique key from the event's content), read back in order
by the refresh.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_broker_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("event_key", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.Float, nullable=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("event_key", name=op.f("uq_analytics_broker_events_event_key")),
    )
    op.create_index(op.f("ix_analytics_broker_events_sender_id"), "analytics_broker_events", ["sender_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_analytics_broker_events_sender_id"), table_name="analytics_broker_events")
    op.drop_table("analytics_broker_events")
