"""When each memory was last recalled, tracked without slowing recall down.

A recall only adds the ids it returned (not the weak matches) to a set in memory. A background thread writes the
set every ``FLUSH_SECONDS`` in one statement per 500 ids, at most once a day per memory: an id already written today
is not written again by this process, and the statement skips rows already marked today (by another server). So
``last_used_at`` is the first recall of the latest day a memory was recalled; archiving looks for memories unused
for months. A process that ends cleanly writes what is pending (``MemoryApp.stop_background_work``); a crash
loses at most the last ``FLUSH_SECONDS`` of marks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from mcp_memory.errors import MemoryStoreError

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 30.0
DAY = 86_400.0


def day_of(moment: float) -> float:
    """The first second (UTC) of the day ``moment`` falls in."""
    return moment - moment % DAY


class UsageTracker:
    """Collects recalled ids and writes their day of use in batches, off the recall's path."""

    def __init__(
        self, write: Callable[[Sequence[str], float, float], int], flush_seconds: float = FLUSH_SECONDS
    ) -> None:
        self._write = write
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._written: set[str] = set()  # written today by this process
        self._day = day_of(time.time())
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def used(self, ids: Iterable[str]) -> None:
        """Note that a recall returned these memories (cheap: a set update)."""
        with self._lock:
            self._pending.update(i for i in ids if i not in self._written)
            if self._pending and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mcp-memory-usage", daemon=True)
                self._thread.start()

    def flush(self) -> int:
        """Write what is pending now; how many rows were marked."""
        today = day_of(time.time())
        with self._lock:
            if today != self._day:
                self._day, self._written = today, set()
            batch, self._pending = self._pending - self._written, set()
        if not batch:
            return 0
        try:
            marked = self._write(sorted(batch), today, time.time())
        except MemoryStoreError as exc:  # the database is away: keep the marks for the next flush
            logger.warning("could not record when memories were last used: %s", exc)
            with self._lock:
                self._pending |= batch
            return 0
        with self._lock:
            self._written |= batch
        return marked

    def _run(self) -> None:
        while True:
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # a bug here must not end the tracking for the life of the process
                logger.exception("recording when memories were last used failed")
