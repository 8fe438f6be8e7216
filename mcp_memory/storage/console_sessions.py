"""Web console login sessions in the database: hashes of session ids and their tokens, never the secrets.

Kept in the database so a session outlives a restart and every server sharing the database knows it. A reader of
the table could still test guesses of a short token against its hash: it is as private as the tokens file.
"""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select

from mcp_memory.storage.database import Database
from mcp_memory.storage.schema import console_sessions

MAX_SESSIONS = 10_000  # per console port; the oldest go first beyond it


class ConsoleSessions:
    """The sessions of the console on one port."""

    def __init__(self, database: Database, port: int) -> None:
        self.db = database
        self.port = port

    def add(self, session_hash: str, token_hash: str, now: float, expires_at: float) -> None:
        """Keep a new session, forgetting expired ones (and the oldest when there are too many)."""
        mine = console_sessions.c.port == self.port
        with self.db.write() as conn:
            conn.execute(delete(console_sessions).where(mine, console_sessions.c.expires_at <= now))
            count = conn.execute(select(func.count()).select_from(console_sessions).where(mine)).scalar_one()
            if count >= MAX_SESSIONS:
                oldest = (
                    select(console_sessions.c.session_hash).where(mine)
                    .order_by(console_sessions.c.created_at).limit(count - MAX_SESSIONS + 1)
                )  # fmt: skip
                conn.execute(delete(console_sessions).where(console_sessions.c.session_hash.in_(oldest)))
            conn.execute(
                insert(console_sessions).values(
                    session_hash=session_hash, token_hash=token_hash, port=self.port, created_at=now,
                    expires_at=expires_at,
                )
            )  # fmt: skip

    def find(self, session_hash: str) -> tuple[str, float] | None:
        """The token hash and expiry of a session, if it is known."""
        with self.db.read() as conn:
            found = conn.execute(
                select(console_sessions.c.token_hash, console_sessions.c.expires_at).where(
                    console_sessions.c.session_hash == session_hash, console_sessions.c.port == self.port
                )
            ).one_or_none()
        return None if found is None else (found[0], float(found[1]))

    def remove(self, session_hash: str) -> None:
        with self.db.write() as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.session_hash == session_hash))
