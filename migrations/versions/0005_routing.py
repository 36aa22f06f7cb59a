"""Routing by presence and capacity (escalation/core/routing.py).

agents: `presence` (online / away / offline, as the console last said), `presence_seen_at` (the
console's last heartbeat: presence counts only while it is fresh) and `last_assigned_at` (ties go to
whoever waited longest since their last assignment).
handoffs: `declined_by` (JSON list of agents who declined it: it is not pushed to them again),
`routing_log` (JSON list of {"at", "event", "agent", "reason", ...}: assignments, declines,
transfers, abandonment), what the waiting customer was last told (`position_told`,
`position_told_at`, `callback_offered_at`, `still_there_asked_at`), `customer_left_at` (their chat
window closed) and `abandoned_at`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

HANDOFF_TIMES = (
    "position_told_at",
    "callback_offered_at",
    "still_there_asked_at",
    "customer_left_at",
    "abandoned_at",
)


def upgrade() -> None:
    op.add_column("agents", sa.Column("presence", sa.String(8), nullable=False, server_default="offline"))
    op.add_column("agents", sa.Column("presence_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("agents", sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("handoffs", sa.Column("declined_by", sa.Text, nullable=False, server_default="[]"))
    op.add_column("handoffs", sa.Column("routing_log", sa.Text, nullable=False, server_default="[]"))
    op.add_column("handoffs", sa.Column("position_told", sa.Integer, nullable=True))
    for name in HANDOFF_TIMES:
        op.add_column("handoffs", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_handoffs_agent_id_status", "handoffs", ["agent_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_handoffs_agent_id_status", "handoffs")
    with op.batch_alter_table("handoffs") as batch:
        for name in (*HANDOFF_TIMES, "position_told", "routing_log", "declined_by"):
            batch.drop_column(name)
    with op.batch_alter_table("agents") as batch:
        for name in ("last_assigned_at", "presence_seen_at", "presence"):
            batch.drop_column(name)
