"""Vectors of rows already committed, written by a thread of their own.

A store is answered once its row is durable in the database (the system of record); its text is embedded and its
vector indexed right after, here. Everything that reads or changes the index in this process first waits for the
backlog (``settle``), so a recall after a store finds it, and a delete after a store removes its vector. Stores
that arrive together are embedded in one batch. A process that dies with vectors still waiting leaves rows
without vectors, which the next start's reconcile embeds.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence

from mcp_memory.errors import Unavailable
from mcp_memory.models import MemoryType
from mcp_memory.storage.memory_rows import StoredItem

logger = logging.getLogger(__name__)

# How long a reader waits for the backlog before it gives up saying so (the index is failing, e.g. a full disk).
SETTLE_SECONDS = 30.0
# At most this many vectors in one batch (the embedder's own batching splits it further).
MOST_AT_ONCE = 64
# At most this many vectors wait; a store beyond it waits for room.
MOST_WAITING = 256
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)
_backlogs: weakref.WeakSet[VectorBacklog] = weakref.WeakSet()

IndexVectors = Callable[[MemoryType, list[StoredItem], list[str]], None]


class VectorBacklog:
    """Vectors waiting to be embedded and indexed, in the order their rows were written."""

    def __init__(self, index_vectors: IndexVectors) -> None:
        self._index_vectors = index_vectors
        self._waiting: list[tuple[MemoryType, StoredItem, str]] = []
        self._changed = threading.Condition()
        self._writing = 0
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        _backlogs.add(self)

    def add(self, memory_type: MemoryType, items: Sequence[StoredItem], texts: Sequence[str]) -> None:
        """Queue the vectors of rows already written (``texts``: what each is embedded from). While the index is
        failing this raises its error instead: the caller undoes its rows, and its agent is told."""
        if not items:
            return
        with self._changed:
            if self._failure is not None:  # the index is failing (a full disk): refuse, so the store is undone
                raise self._failure
            # Back-pressure: stores arriving faster than they are embedded wait here, as they would without a
            # backlog, instead of piling up (memory, and a long wait for the next recall).
            self._changed.wait_for(lambda: len(self._waiting) < MOST_WAITING, SETTLE_SECONDS)
            self._waiting.extend((memory_type, item, text) for item, text in zip(items, texts, strict=True))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mcp-memory-vectors", daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def settle(self, timeout: float = SETTLE_SECONDS) -> None:
        """Return once every queued vector is in the index; raise ``Unavailable`` if that takes over ``timeout``
        seconds (the index keeps failing). The backlog's own writes do not wait for themselves."""
        if threading.current_thread() is self._thread:
            return
        with self._changed:
            if not self._waiting and not self._writing:
                return
            if not self._changed.wait_for(lambda: not self._waiting and not self._writing, timeout):
                raise Unavailable(
                    f"the vector index is behind: {len(self._waiting)} stored memories are not indexed yet "
                    f"({self._failure or 'still writing'}). They are saved; retry in a few seconds."
                )

    @property
    def waiting(self) -> int:
        with self._changed:
            return len(self._waiting) + self._writing

    def _run(self) -> None:
        failures = 0
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._waiting))
                batch, self._waiting = self._waiting[:MOST_AT_ONCE], self._waiting[MOST_AT_ONCE:]
                self._writing = len(batch)
            try:
                for memory_type in dict.fromkeys(memory_type for memory_type, _, _ in batch):
                    entries = [(item, text) for kind, item, text in batch if kind == memory_type]
                    self._index_vectors(memory_type, [item for item, _ in entries], [text for _, text in entries])
            except Exception as exc:  # kept, in order, and tried again: the rows are saved whatever happens here
                with self._changed:
                    self._waiting[:0] = batch
                    self._writing = 0
                    self._failure = exc
                    self._changed.notify_all()
                if not failures:
                    logger.warning("could not index %d stored memories yet (%s); trying again", len(batch), exc)
                time.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
                failures += 1
                continue
            failures = 0
            with self._changed:
                self._writing = 0
                self._failure = None
                self._changed.notify_all()


def settle_all(timeout: float) -> None:
    """Index what every backlog of this process holds (at exit), waiting at most ``timeout`` seconds for each."""
    for backlog in list(_backlogs):
        try:
            backlog.settle(timeout)
        except Unavailable as exc:  # the next start's reconcile embeds them
            logger.warning("%s", exc)
