"""Episode lists for people: a filtered page with counts, and episodes counted over time.

The episode service runs the queries (in the shared database); this module turns its rows into the console's models.
"""

from __future__ import annotations

from typing import Any, Protocol

from mcp_memory.console.models import EpisodeFilter, EpisodePage, EpisodeRowView, EpisodeTrends, Series
from mcp_memory.console.timeline import DAY, Buckets
from mcp_memory.episodes.views import episode_duration, episode_info


class EpisodeRows(Protocol):
    """The episode service's two queries for people (run in the shared database)."""

    def page(
        self, outcome: str | None, role: str | None, text: str | None, offset: int, limit: int, project: str | None
    ) -> tuple[list[Any], int, list[str]]: ...

    def started_per_bucket(self, seconds: int) -> list[tuple[int, str, bool | None, int, int]]: ...


class EpisodeQueries:
    """Read-only views over the episodes."""

    def __init__(self, episodes: EpisodeRows) -> None:
        self.episodes = episodes

    def page(
        self,
        outcome: EpisodeFilter | None,
        role: str | None,
        text: str | None,
        offset: int,
        limit: int,
        project: str | None = None,
    ) -> EpisodePage:
        """Newest first (of one project when ``project`` is given), with how many match in all and every role known."""
        rows, total, roles = self.episodes.page(outcome, role, text, offset, limit, project)
        views = [EpisodeRowView(info=info, duration_seconds=episode_duration(info)) for info in map(episode_info, rows)]
        return EpisodePage(episodes=views, total=total, offset=offset, limit=limit, roles=roles)

    def trends(self, today: int | None = None) -> EpisodeTrends:
        """Episodes started per time bucket by outcome, and the success rate of those that ended."""
        grouped = self.episodes.started_per_bucket(DAY)
        buckets = Buckets((row[0] for row in grouped), today)
        rows = {name: [0.0] * len(buckets) for name in ("succeeded", "failed", "open")}
        totals = dict.fromkeys(rows, 0)
        events = 0
        for day, status, success, count, event_count in grouped:
            name = "open" if status == "open" else ("succeeded" if success else "failed")
            rows[name][buckets.index(day)] += count
            totals[name] += count
            events += event_count
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
