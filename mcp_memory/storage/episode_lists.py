"""Lists and counts of episodes: newest first, filtered pages for people, failures, what is left to index."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import BigInteger, and_, cast, func, select

from mcp_memory.storage.episode_models import EpisodeRow, episode_row
from mcp_memory.storage.schema import episodes

# Which episodes each console filter shows.
OUTCOMES: dict[str, Any] = {
    "open": episodes.c.status == "open",
    "succeeded": and_(episodes.c.status == "ended", episodes.c.success.is_(True)),
    "failed": and_(episodes.c.status == "ended", episodes.c.success.is_(False)),
}


class EpisodeLists:
    """The episode store's reads of many episodes at once (``EpisodeStore`` provides ``_read``)."""

    def _read(self) -> Any:
        raise NotImplementedError

    def recent(
        self, status: str | None, success: bool | None, limit: int, projects: Collection[str] | None = None
    ) -> tuple[list[EpisodeRow], int]:
        """Newest first (of ``projects`` when given), and how many match in all."""
        where = [c for c in (
            None if status is None else episodes.c.status == status,
            None if success is None else episodes.c.success.is_(success),
            None if projects is None else episodes.c.project.in_(sorted(projects)),
        ) if c is not None]  # fmt: skip
        with self._read() as conn:
            total = conn.execute(select(func.count()).select_from(episodes).where(*where)).scalar_one()
            found = conn.execute(select(episodes).where(*where).order_by(episodes.c.started_at.desc()).limit(limit))
            return [episode_row(row) for row in found], int(total)

    def failed(self, limit: int, projects: Collection[str] | None = None) -> list[EpisodeRow]:
        """The most recently ended failed episodes (of ``projects`` when given)."""
        query = select(episodes).where(episodes.c.success.is_(False))
        if projects is not None:
            query = query.where(episodes.c.project.in_(sorted(projects)))
        with self._read() as conn:
            found = conn.execute(query.order_by(episodes.c.ended_at.desc()).limit(limit))
            return [episode_row(row) for row in found]

    def pending(self, limit: int) -> list[EpisodeRow]:
        """Ended episodes whose digest or vector is not written yet (after a crash or an unreachable store)."""
        with self._read() as conn:
            found = conn.execute(
                select(episodes)
                .where(episodes.c.status == "ended", episodes.c.digest_json.is_(None) | episodes.c.indexed_at.is_(None))
                .order_by(episodes.c.ended_at)
                .limit(limit)
            )
            return [episode_row(row) for row in found]

    def with_words(self, after_n: int, limit: int) -> list[tuple[int, EpisodeRow]]:
        """Episodes the word index holds, with their numbers, in the order they were stored (after ``after_n``)."""
        with self._read() as conn:
            found = conn.execute(
                select(episodes)
                .where(episodes.c.task_words.is_not(None), episodes.c.n > after_n)
                .order_by(episodes.c.n)
                .limit(limit)
            )
            return [(int(row.n), episode_row(row)) for row in found]

    def count(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(episodes)).scalar_one())

    def count_ended(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).where(episodes.c.status == "ended")).scalar_one())

    def page(
        self,
        outcome: str | None,
        role: str | None,
        text: str | None,
        offset: int,
        limit: int,
        project: str | None = None,
    ) -> tuple[list[EpisodeRow], int, list[str]]:
        """Newest first, filtered by outcome, role, a piece of the task and a project ("" global; None: any); how
        many match; every role known."""
        where = []
        if project is not None:
            where.append(episodes.c.project == project)
        if outcome:
            where.append(OUTCOMES[outcome])
        if role:
            where.append(episodes.c.roles.contains(f"|{role}|", autoescape=True))
        if text:
            where.append(func.lower(episodes.c.task).contains(text.lower(), autoescape=True))
        with self._read() as conn:
            total = conn.execute(select(func.count()).select_from(episodes).where(*where)).scalar_one()
            found = conn.execute(
                select(episodes).where(*where).order_by(episodes.c.started_at.desc(), episodes.c.n.desc())
                .limit(limit).offset(offset)
            )  # fmt: skip
            rows = [episode_row(row) for row in found]
            combos = conn.execute(select(episodes.c.roles).distinct()).scalars().all()
        roles = sorted({r for combo in combos for r in combo.split("|") if r})
        return rows, int(total), roles

    def started_per_bucket(self, seconds: int) -> list[tuple[int, str, bool | None, int, int]]:
        """Episodes started per time bucket (unix time // seconds), by status and success, with their events."""
        bucket = cast(episodes.c.started_at, BigInteger) // seconds
        with self._read() as conn:
            found = conn.execute(
                select(
                    bucket, episodes.c.status, episodes.c.success, func.count(), func.sum(episodes.c.last_seq)
                ).group_by(bucket, episodes.c.status, episodes.c.success)
            )
            return [
                (int(day), status, None if success is None else bool(success), int(count), int(events or 0))
                for day, status, success, count, events in found
            ]
