"""The backlog of vectors written behind their rows: in order, batched, waited for by readers, kept and tried again
when the index fails, and a reader told when it keeps failing."""

from __future__ import annotations

import threading

import pytest

from mcp_memory.errors import Unavailable
from mcp_memory.models import MemoryType
from mcp_memory.storage import vector_backlog
from mcp_memory.storage.memory_rows import StoredItem
from mcp_memory.storage.vector_backlog import VectorBacklog


def items(*ids: str) -> list[StoredItem]:
    return [StoredItem(item_id, f"text of {item_id}", {}) for item_id in ids]


def test_readers_wait_for_every_queued_vector_which_is_written_in_order_and_in_batches() -> None:
    written: list[tuple[MemoryType, list[str]]] = []
    gate = threading.Event()

    def index_vectors(memory_type: MemoryType, batch: list[StoredItem], texts: list[str]) -> None:
        gate.wait(10)  # the first batch is held until everything below is queued
        assert texts == [f"text of {item.id}" for item in batch]
        written.append((memory_type, [item.id for item in batch]))

    backlog = VectorBacklog(index_vectors)
    backlog.add("error", items("e1"), ["text of e1"])
    backlog.add("pattern", items("p1", "p2"), ["text of p1", "text of p2"])
    backlog.add("error", items("e2"), ["text of e2"])
    assert backlog.waiting == 4
    gate.set()
    backlog.settle()

    assert backlog.waiting == 0
    flat = [memory_id for _, ids in written for memory_id in ids]
    assert sorted(flat) == ["e1", "e2", "p1", "p2"]  # each once
    assert flat.index("e1") < flat.index("e2") and flat.index("p1") < flat.index("p2")
    assert len(written) <= 3  # what waited while the index was busy went in together, per type


def test_a_failing_index_keeps_the_vectors_tries_again_and_tells_a_reader_that_waits_too_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(vector_backlog, "RETRY_SECONDS", (0.05,))
    failing = threading.Event()
    failing.set()
    written: list[str] = []

    def index_vectors(memory_type: MemoryType, batch: list[StoredItem], texts: list[str]) -> None:
        if failing.is_set():
            raise OSError("No space left on device")
        written.extend(item.id for item in batch)

    backlog = VectorBacklog(index_vectors)
    backlog.add("solution", items("s1", "s2"), ["text of s1", "text of s2"])
    with pytest.raises(Unavailable, match="No space left on device") as raised:
        backlog.settle(timeout=0.3)
    assert "2 stored memories are not indexed yet" in str(raised.value) and "saved" in str(raised.value)

    with pytest.raises(OSError, match="No space left"):  # a store meanwhile is refused (its rows undone)
        backlog.add("solution", items("s3"), ["text of s3"])

    failing.clear()  # the disk has room again
    backlog.settle(timeout=10)
    assert written == ["s1", "s2"]
    backlog.add("solution", items("s4"), ["text of s4"])  # accepted again
    backlog.settle(timeout=10)
    assert written == ["s1", "s2", "s4"]
