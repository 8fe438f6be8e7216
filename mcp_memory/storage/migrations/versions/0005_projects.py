"""Every memory, tombstone and episode belongs to a project ("" is global: seeds, and what no project claims).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name in ("memories", "tombstones", "episodes"):
        with op.batch_alter_table(name) as table:
            table.add_column(sa.Column("project", sa.String(200), nullable=False, server_default=""))
    op.create_index("memories_by_project", "memories", ["project", "type", "created_at"])
    op.create_index("episodes_by_project", "episodes", ["project", "started_at"])


def downgrade() -> None:
    op.drop_index("episodes_by_project", "episodes")
    op.drop_index("memories_by_project", "memories")
    for name in ("episodes", "tombstones", "memories"):
        with op.batch_alter_table(name) as table:
            table.drop_column("project")
