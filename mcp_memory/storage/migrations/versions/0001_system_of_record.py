"""The system of record: memories with counters, the outcome log, the change feed, episodes, console sessions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "memories",
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
    )
    op.create_index("memories_by_type", "memories", ["type", "created_at"])
    op.create_index("memories_by_hash", "memories", ["type", "content_hash"])
    op.create_index("memories_by_part", "memories", ["part_of"])
    op.create_table(
        "outcome_reports",
        sa.Column("n", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("memory_id", sa.String(200), nullable=False),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("success", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("reported_at", sa.Float, nullable=False),
    )
    op.create_index("outcome_reports_by_memory", "outcome_reports", ["memory_id", "n"])
    op.create_table(
        "memory_changes",
        sa.Column("seq", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("memory_id", sa.String(200), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("changed_at", sa.Float, nullable=False),
    )
    op.create_table(
        "store_facts",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "episodes",
        sa.Column("n", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(200), nullable=False, unique=True),
        sa.Column("task", sa.Text, nullable=False),
        sa.Column("context_json", sa.Text, nullable=False),
        sa.Column("agent_role", sa.String(200)),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("success", sa.Boolean),
        sa.Column("metrics_json", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float),
        sa.Column("digest_json", sa.Text),
        sa.Column("indexed_at", sa.Float),
        sa.Column("task_words", sa.Integer),
        sa.Column("event_words", sa.Integer),
    )
    op.create_index("episodes_by_start", "episodes", ["started_at"])
    op.create_index("episodes_by_status", "episodes", ["status", "started_at"])
    op.create_index("episodes_by_end", "episodes", ["ended_at"])
    op.create_table(
        "events",
        sa.Column("episode_id", sa.String(200), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("agent_role", sa.String(200), nullable=False),
        sa.Column("data_json", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.Float, nullable=False),
    )
    op.create_table(
        "episode_words",
        sa.Column("episode_n", SERIAL, primary_key=True),
        sa.Column("field", sa.Integer, primary_key=True),
        sa.Column("term", sa.String(200), primary_key=True),
        sa.Column("tf", sa.Integer, nullable=False),
    )
    op.create_index("episode_words_by_term", "episode_words", ["term"])
    op.create_table(
        "console_sessions",
        sa.Column("session_hash", sa.String(64), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "console_sessions",
        "episode_words",
        "events",
        "episodes",
        "store_facts",
        "memory_changes",
        "outcome_reports",
        "memories",
    ):
        op.drop_table(table)
