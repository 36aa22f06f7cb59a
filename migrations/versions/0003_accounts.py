"""Accounts: capacity, the demo flag and revocation of tokens; the sign-in failures of the throttle.

agents gets `capacity` (most conversations at once; existing rows 3), `demo` (the row is a demo account
that DEMO_ACCOUNTS manages) and `token_generation` (one more revokes every token of the person).
Until now the only accounts were the demo accounts, re-created at every start: existing rows named
alice, bob and tara get the demo flag, so that they stop signing in unless DEMO_ACCOUNTS is true.
New tables: `revoked_tokens` (signed-out tokens' ids until they expire) and `sign_in_failures`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DEMO_NAMES = ("alice", "bob", "tara")  # frozen here: the demo accounts as they stood at this revision

agents = sa.table("agents", sa.column("name", sa.String), sa.column("demo", sa.Boolean))


def upgrade() -> None:
    op.add_column("agents", sa.Column("capacity", sa.Integer, nullable=False, server_default="3"))
    op.add_column("agents", sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("agents", sa.Column("token_generation", sa.Integer, nullable=False, server_default="0"))
    op.get_bind().execute(agents.update().where(agents.c.name.in_(DEMO_NAMES)).values(demo=True))
    op.create_table(
        "revoked_tokens",
        sa.Column("token_id", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Integer, nullable=False, index=True),
    )
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("at", sa.Float, nullable=False, index=True),
        sa.Index("ix_sign_in_failures_key_at", "key", "at"),
    )


def downgrade() -> None:
    op.drop_table("sign_in_failures")
    op.drop_table("revoked_tokens")
    with op.batch_alter_table("agents") as batch:
        for column in ("token_generation", "demo", "capacity"):
            batch.drop_column(column)
