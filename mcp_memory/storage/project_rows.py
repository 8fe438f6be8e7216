"""Memory rows by project: which memories belong to a project, and counts within a set of projects."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select

from mcp_memory.storage.database import Database
from mcp_memory.storage.schema import memories


class ProjectRows:
    """Reads of the ``project`` column of memory rows (``""`` is global)."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def members(self, memory_type: str) -> list[tuple[str, str]]:
        """(id, project) of every memory of one type that belongs to a project; global ones are left out."""
        # ``project > ''`` is a range on the index that leads with the project: only project rows are read.
        query = select(memories.c.id, memories.c.project).where(memories.c.project > "", memories.c.type == memory_type)
        with self.db.read() as conn:
            return [(row.id, row.project) for row in conn.execute(query)]

    def count_by(self, column: str, projects: Collection[str] | None = None) -> dict[tuple[str, str], int]:
        """Counts per (type, value of ``column``) of the memories in ``projects`` (every project when None)."""
        query = select(memories.c.type, memories.c[column], func.count()).group_by(memories.c.type, memories.c[column])
        if projects is not None:
            query = query.where(memories.c.project.in_(sorted(projects)))
        with self.db.read() as conn:
            return {(row[0], row[1]): int(row[2]) for row in conn.execute(query)}
