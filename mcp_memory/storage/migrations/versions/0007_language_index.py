"""Memories by type and language: a recall filtered by a language reads that language's ids once, and without an
index that was a walk of every row of the type (3–7 s at 1,000,000 memories).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("memories_by_language", "memories", ["type", "language"])


def downgrade() -> None:
    op.drop_index("memories_by_language", "memories")
