"""Episodes keep the agent that started them, and each event the agent that recorded it (from its token).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("episodes") as table:
        table.add_column(sa.Column("started_by", sa.String(200), nullable=False, server_default=""))
    with op.batch_alter_table("events") as table:
        table.add_column(sa.Column("agent", sa.String(200), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("events") as table:
        table.drop_column("agent")
    with op.batch_alter_table("episodes") as table:
        table.drop_column("started_by")
