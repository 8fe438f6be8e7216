"""Leases: work that servers sharing a database must not do twice at once (consolidation) goes to whoever holds
an unexpired lease of its name. A holder that dies lets it expire; one that works longer renews it."""

from __future__ import annotations

import time

from sqlalchemy import delete, or_, update

from mcp_memory.storage.database import Database
from mcp_memory.storage.schema import leases


class Leases:
    def __init__(self, database: Database) -> None:
        self.db = database

    def acquire(self, name: str, holder: str, seconds: float) -> bool:
        """Take (or renew) the lease for ``seconds``; False while another holder's lease runs."""
        now = time.time()
        with self.db.write() as conn:
            conn.execute(
                self.db.insert_or_ignore(leases, {"name": name, "holder": holder, "expires_at": now + seconds})
            )
            taken = conn.execute(
                update(leases)
                .where(leases.c.name == name, or_(leases.c.holder == holder, leases.c.expires_at < now))
                .values(holder=holder, expires_at=now + seconds)
                .returning(leases.c.name)
            ).first()
        return taken is not None

    def release(self, name: str, holder: str) -> None:
        with self.db.write() as conn:
            conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))
