"""Memories over time: one paged scan of every memory's metadata, summed into what the stats page charts.

A scan reads metadata only (no documents, no vectors), yet Chroma returns metadata at only 5,000-50,000
records a second (measured: 20-30 s for 100,000 memories on a busy 2-core machine). So ``TrendsCache`` keeps
the last scan, pages never wait for a big one, and a new scan runs only after writes or when the last is old.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from mcp_memory.console.models import MemoryTrends, ReusedMemory, Series
from mcp_memory.console.timeline import DAY, Buckets
from mcp_memory.memory.records import outcome_of
from mcp_memory.models import MEMORY_TYPES, MemoryType

logger = logging.getLogger(__name__)

TOP_LANGUAGES = 6
TOP_REUSED = 10
FRESH_SECONDS = 10.0
MAX_AGE_SECONDS = 300.0
QUICK_SCAN_SECONDS = 0.25
SYNC_SCAN_LIMIT = 20_000  # memories; a first scan of more runs in the background


class _Top:
    """The ``size`` most used memories seen so far."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.heap: list[tuple[int, int, str, dict[str, Any]]] = []

    def offer(self, item_id: str, meta: dict[str, Any]) -> None:
        key = (int(meta.get("usage_count", 0)), int(meta.get("success_count", 0)), item_id, meta)
        if len(self.heap) < self.size:
            heapq.heappush(self.heap, key)
        elif key[:3] > self.heap[0][:3]:
            heapq.heapreplace(self.heap, key)

    def best(self) -> list[ReusedMemory]:
        ranked = sorted(self.heap, key=lambda entry: entry[:3], reverse=True)
        return [_reused(item_id, meta) for _, _, item_id, meta in ranked]


def _reused(item_id: str, meta: dict[str, Any]) -> ReusedMemory:
    successes, failures = int(meta.get("success_count", 0)), int(meta.get("failure_count", 0))
    return ReusedMemory(
        id=item_id,
        type=meta.get("type", "pattern"),
        title=str(meta.get("title", "")),
        language=meta.get("language") or None,
        outcome=outcome_of(successes, failures),
        usage_count=int(meta.get("usage_count", 0)),
        success_count=successes,
        failure_count=failures,
    )


# Every memory's id and metadata of one type, read a page at a time.
MetadataScan = Callable[[MemoryType], Iterator[tuple[str, dict[str, Any]]]]


def scan_trends(scan: MetadataScan, today: int | None = None) -> MemoryTrends:
    """Counts per type, language, agent and outcome, additions over time, and the most reused memories."""
    started = time.perf_counter()
    days: list[tuple[str, str, int]] = []
    by_type: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    agents: Counter[str] = Counter()
    projects: Counter[str] = Counter()
    outcomes: dict[str, Counter[str]] = {}
    record: dict[str, list[int]] = {}
    top_patterns, top_all = _Top(TOP_REUSED), _Top(TOP_REUSED)
    for memory_type in MEMORY_TYPES:
        outcomes[memory_type] = Counter()
        record[memory_type] = [0, 0]
        for item_id, meta in scan(memory_type):
            language = str(meta.get("language") or "none")
            successes, failures = int(meta.get("success_count", 0)), int(meta.get("failure_count", 0))
            by_type[memory_type] += 1
            languages[language] += 1
            if meta.get("agent"):
                agents[str(meta["agent"])] += 1
            projects[str(meta.get("project") or "")] += 1
            outcomes[memory_type][outcome_of(successes, failures)] += 1
            record[memory_type][0] += successes
            record[memory_type][1] += failures
            days.append((memory_type, language, int(float(meta.get("created_at") or 0) // DAY)))
            if memory_type != "episode" and not meta.get("part_of"):  # parts are counted with their pattern
                top_all.offer(item_id, meta)
                if memory_type == "pattern":
                    top_patterns.offer(item_id, meta)
    buckets = Buckets((day for _, _, day in days), today)
    shown = [name for name, _ in languages.most_common(TOP_LANGUAGES)]
    type_rows: dict[str, list[float]] = {t: [0.0] * len(buckets) for t in MEMORY_TYPES}
    language_rows = {name: [0.0] * len(buckets) for name in [*shown, "other"]}
    added = [0] * len(buckets)
    for kind, language, day in days:
        at = buckets.index(day)
        type_rows[kind][at] += 1
        language_rows[language if language in language_rows else "other"][at] += 1
        added[at] += 1
    cumulative, running = [], 0
    for count in added:
        running += count
        cumulative.append(running)
    return MemoryTrends(
        total=sum(by_type.values()),
        by_type={t: by_type[t] for t in MEMORY_TYPES},
        by_language=dict(languages.most_common()),
        agents=dict(agents.most_common()),
        by_project=dict(projects.most_common()),
        granularity=buckets.granularity,
        buckets=buckets.iso_labels(),
        added_by_type=[Series(label=t, values=v) for t, v in type_rows.items() if by_type[t]],
        added_by_language=[Series(label=name, values=v) for name, v in language_rows.items() if any(v)],
        cumulative=cumulative,
        outcomes_by_type={t: dict(outcomes[t]) for t in MEMORY_TYPES if by_type[t]},
        success_rate_by_type={t: (s / (s + f) if s + f else None) for t, (s, f) in record.items() if by_type[t]},
        most_reused_patterns=top_patterns.best(),
        most_reused=top_all.best(),
        computed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        scan_seconds=round(time.perf_counter() - started, 3),
    )


class TrendsCache:
    """The latest scan, and when to make a new one.

    A page never waits for a scan of a big store: it gets the last scan (or None before the first one) and
    a new scan runs in the background. A small store (or one whose last scan was quick) is scanned right
    away, so what a page shows is exact.
    """

    def __init__(
        self,
        scan: Callable[[], MemoryTrends],
        version: Callable[[], int],
        size: Callable[[], int],
        fresh_seconds: float = FRESH_SECONDS,
        max_age_seconds: float = MAX_AGE_SECONDS,
    ) -> None:
        self._scan = scan
        self._version = version
        self._size = size
        self.fresh_seconds = fresh_seconds
        self.max_age_seconds = max_age_seconds
        self._snapshot: tuple[MemoryTrends, int, float] | None = None
        self._scan_lock = threading.Lock()
        self._background: threading.Thread | None = None

    def get(self) -> MemoryTrends | None:
        """A current scan when one is quick to make; otherwise the last one, with a new one started."""
        snapshot = self._snapshot
        if snapshot is not None and not self._stale(snapshot):
            return snapshot[0]
        quick = snapshot[0].scan_seconds <= QUICK_SCAN_SECONDS if snapshot else self._size() <= SYNC_SCAN_LIMIT
        if quick:
            return self._refresh()
        self._refresh_in_background()
        return snapshot[0] if snapshot else None

    def peek(self) -> MemoryTrends | None:
        """The last scan without ever waiting (a new one is started when there is none or it is stale)."""
        snapshot = self._snapshot
        if snapshot is None or self._stale(snapshot):
            self._refresh_in_background()
        return snapshot[0] if snapshot else None

    def _stale(self, snapshot: tuple[MemoryTrends, int, float]) -> bool:
        trends, version, at = snapshot
        age = time.monotonic() - at
        if age > self.max_age_seconds:
            return True
        # After writes a quick scan is simply repeated; a slow one waits, so scanning stays a small share of a core.
        quiet = 0.0 if trends.scan_seconds <= QUICK_SCAN_SECONDS else max(self.fresh_seconds, 10 * trends.scan_seconds)
        return version != self._version() and age >= quiet

    def _refresh(self) -> MemoryTrends:
        version_before = self._version()
        with self._scan_lock:
            snapshot = self._snapshot
            if snapshot is not None and snapshot[1] == version_before and not self._stale(snapshot):
                return snapshot[0]  # another thread scanned while this one waited
            trends = self._scan()
            self._snapshot = (trends, version_before, time.monotonic())
            return trends

    def _refresh_in_background(self) -> None:
        if self._background is not None and self._background.is_alive():
            return

        def run() -> None:
            try:
                self._refresh()
            except Exception:  # a failed background scan leaves the last one in place; the next page retries
                logger.exception("refreshing the memory trends failed")

        self._background = threading.Thread(target=run, name="mcp-memory-console-trends", daemon=True)
        self._background.start()
