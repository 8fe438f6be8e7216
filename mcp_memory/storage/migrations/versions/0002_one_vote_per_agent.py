"""One vote per agent on a memory: each agent's latest outcome, from which the counters move.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outcome_votes",
        sa.Column("memory_id", sa.String(200), primary_key=True),
        sa.Column("agent", sa.String(200), primary_key=True),
        sa.Column("success", sa.Boolean, nullable=False),
        sa.Column("voted_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("outcome_votes")
