"""Handoffs of the seeded demo history (analytics/seed.py) are marked, so that their few seconds of
simulated agent work never count as the queue's measured handle time (routing's expected waits).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("demo_history", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("demo_history")
