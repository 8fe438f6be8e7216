"""Consolidation on a schedule: every ``every`` seconds, counted from the last run any server recorded.

It runs in a thread of the process that owns the store (or of each server sharing a database: the database lease
lets one of them run at a time, and the recorded time of the last run keeps the others from running again soon
after). The first look comes ``FIRST_LOOK_SECONDS`` after start (at most one interval), so start-up is not slowed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from mcp_memory.errors import MemoryStoreError

if TYPE_CHECKING:  # the consolidation code is imported by the schedule's thread, after a server's handshake
    from mcp_memory.memory.consolidation import ConsolidationReport, Consolidator

logger = logging.getLogger(__name__)

FIRST_LOOK_SECONDS = 60.0
RETRY_SECONDS = 300.0  # after a failed run (a database that is away), look again this much later at most


class ScheduledConsolidation:
    """A daemon thread that consolidates when a run is due; ``stop`` ends it between two steps of a run."""

    def __init__(
        self,
        consolidator_of: Callable[[], Consolidator],
        every: float,
        ready: Callable[[], None],
        stop: threading.Event | None = None,
    ) -> None:
        self.consolidator_of = consolidator_of
        self.every = every
        self.ready = ready
        self.stop_event = stop or threading.Event()
        self.reports: list[ConsolidationReport] = []  # this process's runs, newest last (the last few)
        self.ran = threading.Event()  # set after each run of this process
        self.thread = threading.Thread(target=self._run, name="mcp-memory-consolidation", daemon=True)

    def start(self) -> threading.Thread:
        self.thread.start()
        return self.thread

    def stop(self, wait: float = 0.0) -> None:
        """End the schedule; a run in progress stops after its current step (waited for up to ``wait`` seconds)."""
        self.stop_event.set()
        if wait > 0 and self.thread.is_alive():
            self.thread.join(wait)

    def _run(self) -> None:
        wait = min(FIRST_LOOK_SECONDS, self.every)
        while not self.stop_event.wait(wait):
            from mcp_memory.memory.consolidation import Stopped  # after the first wait: not during a handshake

            try:
                wait = self._due_in()
                if wait > 0:
                    continue
                report = self.consolidator_of().run_blocking(stop=self.stop_event)
                self.reports = [*self.reports[-9:], report]
                self.ran.set()
                if report.merged or report.archived:
                    logger.info(
                        "consolidated: %d near-duplicates merged, %d memories archived in %.1f s",
                        len(report.merged),
                        len(report.archived),
                        report.seconds,
                    )
                wait = self.every
            except Stopped:
                return
            except MemoryStoreError as exc:
                logger.warning("scheduled consolidation failed: %s", exc)
                wait = min(self.every, RETRY_SECONDS)
            except Exception:  # a bug must not end the schedule for the life of the server
                logger.exception("scheduled consolidation failed")
                wait = min(self.every, RETRY_SECONDS)

    def _due_in(self) -> float:
        """Seconds until the next run is due (0 or less: now)."""
        self.ready()
        last = self.consolidator_of().last_run_at()
        return 0.0 if last is None else last + self.every - time.time()
