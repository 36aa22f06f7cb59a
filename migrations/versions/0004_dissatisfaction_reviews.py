"""Trainers' dissatisfaction labels: one row per customer message a trainer marked "dissatisfied" or
"not dissatisfied" (training/dissatisfaction_labels.py), apart from the intent reviews, so one message
can have both: what the customer wanted and how they felt.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dissatisfaction_reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("normalized", sa.String(500), nullable=False, unique=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("label", sa.String(20), nullable=False),  # dissatisfied | not_dissatisfied
        sa.Column("split", sa.String(8), nullable=False),  # train | test
        sa.Column("batch", sa.String(36), nullable=False, index=True),
        sa.Column("trainer", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dissatisfaction_reviews")
