"""Baseline: the schema as it stood when migrations were introduced (2026-11-24).

Databases made before then (by SQLAlchemy's create_all, in `make demo` or a deployment) have some or
all of these tables, possibly without columns that later versions added (handoffs.channel, .csat,
.csat_at; agents.role, .password_hash). This revision creates what is missing and adds what is
missing, and changes nothing that exists, so such a database upgrades without loss.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tables():
    tz = sa.DateTime(timezone=True)
    return {
        "customers": [
            sa.Column("customer_id", sa.String(64), primary_key=True),
            sa.Column("name", sa.String(120), nullable=False),
            sa.Column("tier", sa.String(16), nullable=False, index=True),
            sa.Column("journey_stage", sa.String(16), nullable=False, index=True),
            sa.Column("lifetime_value", sa.Float, nullable=False),
            sa.Column("potential_value", sa.Float, nullable=False),
            sa.Column("last_purchase_at", sa.DateTime, nullable=True),
            sa.Column("last_csat", sa.Integer, nullable=True),
            sa.Column("nps", sa.Integer, nullable=True),
            sa.Column("engagement", sa.String(8), nullable=False),
            sa.Column("support_contacts_30d", sa.Integer, nullable=False),
            sa.Column("preferred_channel", sa.String(8), nullable=False),
            sa.Column("region", sa.String(32), nullable=False),
            sa.Column("language", sa.String(8), nullable=False),
            sa.Column("age_band", sa.String(8), nullable=False),
            sa.Column("updated_at", sa.DateTime, nullable=False, server_default=sa.func.now()),
        ],
        "handoffs": [
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("conversation_id", sa.String(128), nullable=False, index=True),
            sa.Column("open_key", sa.String(128), nullable=True, unique=True),
            sa.Column("customer_id", sa.String(64), nullable=True),
            sa.Column("tier", sa.String(16), nullable=False),
            sa.Column("segment", sa.Text, nullable=False),
            sa.Column("queue", sa.String(32), nullable=False, index=True),
            sa.Column("priority", sa.Integer, nullable=False),
            sa.Column("channel", sa.String(16), nullable=False, server_default="live_chat"),
            sa.Column("reasons", sa.Text, nullable=False),
            sa.Column("status", sa.String(16), nullable=False, index=True),
            sa.Column("agent_id", sa.String(64), nullable=True),
            sa.Column("created_at", tz, nullable=False),
            sa.Column("sla_due_at", tz, nullable=False, index=True),
            sa.Column("claimed_at", tz, nullable=True),
            sa.Column("lease_expires_at", tz, nullable=True),
            sa.Column("resolved_at", tz, nullable=True),
            sa.Column("sla_breached_at", tz, nullable=True),
            sa.Column("csat", sa.Integer, nullable=True),
            sa.Column("csat_at", tz, nullable=True),
        ],
        "agents": [
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("display_name", sa.String(120), nullable=False),
            sa.Column("queues", sa.String(200), nullable=False),
            sa.Column("active", sa.Boolean, nullable=False),
            sa.Column("role", sa.String(16), nullable=False, server_default="agent"),
            sa.Column("password_hash", sa.String(200), nullable=True),
        ],
        "reviews": [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("normalized", sa.String(500), nullable=False, unique=True),
            sa.Column("text", sa.Text, nullable=False),
            sa.Column("label", sa.String(120), nullable=False),
            sa.Column("split", sa.String(8), nullable=False),
            sa.Column("batch", sa.String(36), nullable=False, index=True),
            sa.Column("trainer", sa.String(64), nullable=False),
            sa.Column("created_at", tz, nullable=False),
        ],
    }


# Columns added after the tables first existed: nullable or with a server default, so they can be added.
LATER_COLUMNS = {"handoffs": ("channel", "csat", "csat_at"), "agents": ("role", "password_hash")}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for name, columns in _tables().items():
        if name not in existing:
            op.create_table(name, *columns)
            continue
        present = {column["name"] for column in inspector.get_columns(name)}
        for column in columns:
            if column.name not in present:
                if column.name not in LATER_COLUMNS.get(name, ()):
                    raise RuntimeError(
                        f"The existing table {name} lacks {column.name}, which no version of this "
                        "product left out: this database was not made by it."
                    )
                op.add_column(name, column)  # a fresh Column, not yet on any table


def downgrade() -> None:
    for name in ("reviews", "agents", "handoffs", "customers"):
        op.drop_table(name)
