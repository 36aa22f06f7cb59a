"""Analytics: a fact table of one row per conversation, the messages the bot did not understand, the
refresh's state and the seeded demo history (analytics/store.py).

`analytics_conversations` is read by date range (index on `started_at`), by customer for the 24 h reopen
rule and by handoff; `analytics_misunderstood` by time; both are rebuilt from the tracker store and the
queue by analytics/refresh.py, so the tables start empty and fill at the service's first refresh.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_conversations",
        sa.Column("conversation_id", sa.String(128), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),  # YYYY-MM-DD in the rules' time zone
        sa.Column("hour", sa.Integer, nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customer_id", sa.String(64), nullable=True),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("journey_stage", sa.String(16), nullable=False),
        sa.Column("satisfaction", sa.String(16), nullable=False),  # detractor / low_csat / other
        sa.Column("channel", sa.String(16), nullable=False),  # chat / callback / ticket / bot_only
        sa.Column("queue", sa.String(32), nullable=True),
        sa.Column("bot_took_part", sa.Boolean, nullable=False),
        sa.Column("nlu_messages", sa.Integer, nullable=False),
        sa.Column("nlu_fallbacks", sa.Integer, nullable=False),
        sa.Column("handoff_id", sa.String(36), nullable=True),
        sa.Column("handoff_reasons", sa.Text, nullable=False),  # reason codes, comma-separated
        sa.Column("reopened", sa.Boolean, nullable=False),
        sa.Column("abandoned", sa.Boolean, nullable=False),
        sa.Column("resolved", sa.Boolean, nullable=False),
        sa.Column("first_response_s", sa.Float, nullable=True),
        sa.Column("first_response_business_s", sa.Float, nullable=True),
        sa.Column("resolution_s", sa.Float, nullable=True),
        sa.Column("resolution_business_s", sa.Float, nullable=True),
        sa.Column("sla_first_response", sa.Boolean, nullable=True),  # met / breached / undecided (null)
        sa.Column("sla_next_response", sa.Boolean, nullable=True),
        sa.Column("sla_resolution", sa.Boolean, nullable=True),
        sa.Column("csat", sa.Integer, nullable=True),
        sa.Column("seeded", sa.Boolean, nullable=False),
        sa.Column("decision_inputs", sa.Text, nullable=False),  # JSON, replayed by the what-if
    )
    op.create_index("ix_analytics_conversations_started_at", "analytics_conversations", ["started_at"])
    op.create_index("ix_analytics_conversations_customer_id", "analytics_conversations", ["customer_id"])
    op.create_index("ix_analytics_conversations_handoff_id", "analytics_conversations", ["handoff_id"])
    op.create_table(
        "analytics_misunderstood",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(128), nullable=False, index=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("intent", sa.String(64), nullable=False),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "analytics_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "analytics_seeded",
        sa.Column("conversation_id", sa.String(128), primary_key=True),
        sa.Column("real_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("simulated_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scale", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("analytics_seeded")
    op.drop_table("analytics_state")
    op.drop_table("analytics_misunderstood")
    op.drop_index("ix_analytics_conversations_handoff_id", "analytics_conversations")
    op.drop_index("ix_analytics_conversations_customer_id", "analytics_conversations")
    op.drop_index("ix_analytics_conversations_started_at", "analytics_conversations")
    op.drop_table("analytics_conversations")
