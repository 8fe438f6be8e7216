"""Episode lists for people: filtered, paginated and counted in SQLite, and counted over time.

Reads the episode database with its own read-only connections (episodes are SQLite rows, safe to read from
any thread or process while agents record); rows are turned into models by the episode store itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from mcp_memory.console.models import EpisodeFilter, EpisodePage, EpisodeRowView, EpisodeTrends, Series
from mcp_memory.console.timeline import DAY, Buckets
from mcp_memory.episode_store import BUSY_TIMEOUT_SECONDS, EpisodeStore
from mcp_memory.episode_views import episode_duration, episode_info

OUTCOME_CLAUSES: dict[str, str] = {
    "open": "status = 'open'",
    "succeeded": "status = 'ended' AND success = 1",
    "failed": "status = 'ended' AND success = 0",
}


class EpisodeQueries:
    """Read-only queries over one episode database."""

    def __init__(self, store: EpisodeStore) -> None:
        self.store = store

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        self.store.open()  # creates the file and schema on a fresh data dir
        uri = f"{self.store.path.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)) as conn:
            yield conn

    def page(
        self, outcome: EpisodeFilter | None, role: str | None, text: str | None, offset: int, limit: int
    ) -> EpisodePage:
        """Newest first, with how many match in all and every role known."""
        clauses: list[str] = []
        params: list[Any] = []
        if outcome:
            clauses.append(OUTCOME_CLAUSES[outcome])
        if role:
            clauses.append("instr(roles, ?) > 0")
            params.append(f"|{role}|")
        if text:
            clauses.append("instr(lower(task), ?) > 0")
            params.append(text.lower())
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._read() as conn:
            total = int(conn.execute(f"SELECT count(*) FROM episodes {where}", params).fetchone()[0])
            ids = [
                row[0]
                for row in conn.execute(
                    f"SELECT id FROM episodes {where} ORDER BY started_at DESC, n DESC LIMIT ? OFFSET ?",
                    [*params, limit, offset],
                )
            ]
            combos = [row[0] for row in conn.execute("SELECT DISTINCT roles FROM episodes")]
        rows = self.store.rows(ids)
        infos = [episode_info(rows[i]) for i in ids if i in rows]
        views = [EpisodeRowView(info=info, duration_seconds=episode_duration(info)) for info in infos]
        roles = sorted({role for combo in combos for role in combo.split("|") if role})
        return EpisodePage(episodes=views, total=total, offset=offset, limit=limit, roles=roles)

    def trends(self, today: int | None = None) -> EpisodeTrends:
        """Episodes started per time bucket by outcome, and the success rate of those that ended."""
        with self._read() as conn:
            grouped = conn.execute(
                "SELECT CAST(started_at / ? AS INTEGER) AS day, status, success, count(*), sum(last_seq) "
                "FROM episodes GROUP BY day, status, success",
                (DAY,),
            ).fetchall()
        buckets = Buckets((row[0] for row in grouped), today)
        rows = {name: [0.0] * len(buckets) for name in ("succeeded", "failed", "open")}
        totals = dict.fromkeys(rows, 0)
        events = 0
        for day, status, success, count, event_count in grouped:
            name = "open" if status == "open" else ("succeeded" if success else "failed")
            rows[name][buckets.index(day)] += count
            totals[name] += count
            events += int(event_count or 0)
        rates: list[float | None] = []
        for won, lost in zip(rows["succeeded"], rows["failed"], strict=True):
            rates.append(round(won / (won + lost), 4) if won + lost else None)
        return EpisodeTrends(
            total=sum(totals.values()),
            open=totals["open"],
            succeeded=totals["succeeded"],
            failed=totals["failed"],
            granularity=buckets.granularity,
            buckets=buckets.iso_labels(),
            started_by_outcome=[Series(label=name, values=values) for name, values in rows.items()],
            success_rate=rates,
            events=events,
        )

    def file_bytes(self) -> int | None:
        try:
            return sum(
                path.stat().st_size
                for path in (self.store.path, self.store.path.with_name(self.store.path.name + "-wal"))
                if path.exists()
            )
        except OSError:
            return None
