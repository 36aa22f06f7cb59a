"""Escalation reasons carry stable codes: handoffs.reasons becomes a JSON list of {"code", "text"}.

Handoffs stored before held plain texts; each gets the code its wording was written for (the
wordings below are those of escalation/core/policy.py before codes existed, frozen here). A text
that matches none keeps its words under the code "unknown" rather than being guessed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# (prefix of the old text, code), checked in this order.
OLD_WORDINGS = (
    ("customer asked for a person", "asked_for_person"),
    ("negative message", "negative_message"),
    ("frustrated", "frustrated"),
    ("bot did not understand", "not_understood"),
    ("long conversation", "long_conversation"),
    ("wants to cancel", "wants_to_cancel"),
    ("mentions ", "mentions_competitor"),
    ("buying-stage question", "buying_question"),
    ("NPS detractor", "nps_detractor"),
    ("last CSAT", "low_csat"),
    ("churn risk: retention team", "churn_risk_to_retention"),
    ("buying stage: sales team", "buying_to_sales"),
    ("queue busy", "busy_but_straight_through"),
    ("outside business hours", "outside_business_hours"),
    ("no agent free", "no_agent_free"),
    ("expected wait", "wait_exceeds_sla"),
    ("self-service first", "self_service_first"),
    ("no sign that the bot cannot help", "no_trigger"),
)
SEGMENT_SUFFIX = " customer, "  # "vip customer, active"


def code_for(text: str) -> str:
    for prefix, code in OLD_WORDINGS:
        if text.startswith(prefix):
            return code
    return "segment" if SEGMENT_SUFFIX in text else "unknown"


handoffs = sa.table("handoffs", sa.column("id", sa.String), sa.column("reasons", sa.Text))


def upgrade() -> None:
    bind = op.get_bind()
    for handoff_id, stored in bind.execute(sa.select(handoffs.c.id, handoffs.c.reasons)).all():
        reasons = json.loads(stored or "[]")
        if all(isinstance(reason, dict) for reason in reasons):
            continue
        coded = [
            reason if isinstance(reason, dict) else {"code": code_for(str(reason)), "text": str(reason)}
            for reason in reasons
        ]
        bind.execute(handoffs.update().where(handoffs.c.id == handoff_id).values(reasons=json.dumps(coded)))


def downgrade() -> None:
    bind = op.get_bind()
    for handoff_id, stored in bind.execute(sa.select(handoffs.c.id, handoffs.c.reasons)).all():
        texts = [reason["text"] if isinstance(reason, dict) else reason for reason in json.loads(stored or "[]")]
        bind.execute(handoffs.update().where(handoffs.c.id == handoff_id).values(reasons=json.dumps(texts)))
