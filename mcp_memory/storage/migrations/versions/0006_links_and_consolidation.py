"""Links between memories, memories out of recall (superseded, merged, archived), last use, and leases.

- ``status`` on memories (and tombstones, which mirror them): "" is in recall; ``superseded``, ``merged`` and
  ``archived`` rows stay readable but have no vector. ``status_at`` and ``status_note`` say when and why;
  ``last_used_at`` is when a recall last returned it (its first recall that day).
- ``memory_links``: from one memory to a memory or an episode, with a relation, who made it and when.
- ``leases``: one holder at a time for work that servers sharing a database must not do twice (consolidation).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name in ("memories", "tombstones"):
        with op.batch_alter_table(name) as table:
            table.add_column(sa.Column("status", sa.String(16), nullable=False, server_default=""))
            table.add_column(sa.Column("status_at", sa.Float))
            table.add_column(sa.Column("status_note", sa.Text))
            table.add_column(sa.Column("last_used_at", sa.Float))
    op.create_index("memories_by_status", "memories", ["status", "type"])
    op.create_table(
        "memory_links",
        sa.Column("from_id", sa.String(200), primary_key=True),
        sa.Column("to_id", sa.String(200), primary_key=True),
        sa.Column("relation", sa.String(32), primary_key=True),
        sa.Column("agent", sa.String(200), nullable=False, server_default=""),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("detail_json", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("memory_links_by_target", "memory_links", ["to_id", "relation"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("memory_links_by_target", "memory_links")
    op.drop_table("memory_links")
    op.drop_index("memories_by_status", "memories")
    for name in ("tombstones", "memories"):
        with op.batch_alter_table(name) as table:
            for column in ("last_used_at", "status_note", "status_at", "status"):
                table.drop_column(column)
