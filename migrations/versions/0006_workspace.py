"""The agent's workspace: wrap-up, private notes and SLA clock events.

handoffs: `resolution_code` (one of its queue's codes in the rules' `workspace:`) and `summary`, written
when the agent resolves. `handoff_notes`: private notes on a handoff, for agents only (never sent to
the customer). `sla_events`: each SLA clock of a handoff turning at risk or breached, and how it ended
(met or breached), recorded once per clock and state, for analytics.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("handoffs", sa.Column("resolution_code", sa.String(64), nullable=True))
    op.add_column("handoffs", sa.Column("summary", sa.Text, nullable=True))
    op.create_index("ix_handoffs_customer_id", "handoffs", ["customer_id"])
    op.create_table(
        "handoff_notes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("handoff_id", sa.String(36), nullable=False, index=True),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "sla_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("handoff_id", sa.String(36), nullable=False, index=True),
        sa.Column("clock", sa.String(32), nullable=False),  # first_response / next_response / resolution
        sa.Column("state", sa.String(16), nullable=False),  # at_risk / breached / met
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("handoff_id", "clock", "state", name="uq_sla_events_once"),
    )


def downgrade() -> None:
    op.drop_table("sla_events")
    op.drop_table("handoff_notes")
    op.drop_index("ix_handoffs_customer_id", "handoffs")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("summary")
        batch.drop_column("resolution_code")
