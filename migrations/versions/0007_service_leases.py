"""Leases that let one process of several do a job: the queue's upkeep (lease expiry, SLA events,
push routing, telling waiting customers) runs in the escalation-service process that holds the
`queue-upkeep` lease; another takes over when it stops renewing it (common/leases.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("service_leases")
