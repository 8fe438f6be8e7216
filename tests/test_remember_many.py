"""Storing many memories at once: the same outcomes as storing them one by one, with one encode per batch."""

from __future__ import annotations

import uuid

import pytest

from mcp_memory.app import MemoryApp
from mcp_memory.memory.drafts import error_draft, pattern_draft
from mcp_memory.storage.embeddings import Embedder

pytestmark = pytest.mark.anyio


async def test_remember_many_counts_repeats_and_known_content_instead_of_storing_copies(
    app: MemoryApp, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = uuid.uuid4().hex
    known = error_draft(f"KeyError: '{tag}'", "reading config", "use .get()", True)
    await app.memory.remember(known)
    app.store.settle()  # its vector is in before the encodes below are counted
    fresh = pattern_draft("Retry", f"def retry_{tag}(): ...", "python", "", {}, [])
    failed = error_draft(f"OSError: {tag}", "", "retry", False)
    calls: list[list[str]] = []
    real = embedder._run_model
    monkeypatch.setattr(embedder, "_run_model", lambda texts, size: calls.append(list(texts)) or real(texts, size))

    results = await app.memory.remember_many([fresh, known, fresh, failed, failed])

    assert [(r.duplicate, r.usage_count) for r in results] == [(False, 1), (True, 2), (True, 2), (False, 1), (True, 2)]
    assert (results[4].success_count, results[4].failure_count) == (0, 1)  # one agent's failure, counted once
    app.store.settle()  # the vectors are written right after the answer
    assert calls == [[fresh.embed_text], [failed.embed_text]]  # one encode per type, known content never again
    stored = await app.memory.get(results[0].id)
    assert stored.usage_count == 2
    assert (await app.memory.get(results[1].id)).usage_count == 2
    assert (await app.memory.get(results[3].id)).outcome == "failed"
    recalled = await app.memory.recall(f"def retry_{tag}", ["pattern"], 1)
    assert recalled.results[0].id == results[0].id
