"""Deletes are tombstones: a deleted memory's row moves here with who deleted it, when and why, until purged.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tombstones",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("language", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("part_of", sa.String(200)),
        sa.Column("flat_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("usage_count", sa.Integer, nullable=False),
        sa.Column("success_count", sa.Integer, nullable=False),
        sa.Column("failure_count", sa.Integer, nullable=False),
        sa.Column("last_failure_note", sa.Text),
        sa.Column("deleted_at", sa.Float, nullable=False),
        sa.Column("deleted_by", sa.String(200), nullable=False),
        sa.Column("delete_reason", sa.Text, nullable=False),
    )
    op.create_index("tombstones_by_agent", "tombstones", ["agent", "deleted_at"])


def downgrade() -> None:
    op.drop_table("tombstones")
