"""A small quality check on the error dev set: our ranking stays well above dense-only (bench/quality.py runs it
all)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcp_memory.app import MemoryApp
from mcp_memory.memory.drafts import error_draft

pytestmark = pytest.mark.anyio

DEV_SET = Path(__file__).resolve().parent.parent / "bench" / "datasets" / "errors" / "python-errors-dev.jsonl"
QUERIES = 50


def first_rank(ranking: list[str], gold: str) -> int | None:
    return ranking.index(gold) + 1 if gold in ranking else None


async def test_error_recall_beats_dense_only_on_fifty_dev_queries(app: MemoryApp) -> None:
    rows = [json.loads(line) for line in DEV_SET.read_text().splitlines()]
    drafts = [error_draft(r["stored"]["error_message"], r["context"], r["resolution"], True) for r in rows]
    gold = {r["cause"]: result.id for r, result in zip(rows, app.memory.remember_many_blocking(drafts), strict=True)}
    queries = [(q["query"], gold[r["cause"]]) for r in rows for q in r["queries"]][::6][:QUERIES]
    assert len(queries) == QUERIES

    ours_r5 = dense_r5 = ours_rr = dense_rr = 0.0
    for query, answer in queries:
        ours = [hit.id for hit in (await app.memory.recall(query, ["error"], 10)).results]
        dense = [i for i, _ in app.store.nearest("error", app.embedder.encode([query])[0], 10)]
        for ranking, name in ((ours, "ours"), (dense, "dense")):
            rank = first_rank(ranking, answer)
            hit5, rr = (rank is not None and rank <= 5), (1 / rank if rank else 0.0)
            if name == "ours":
                ours_r5, ours_rr = ours_r5 + hit5, ours_rr + rr
            else:
                dense_r5, dense_rr = dense_r5 + hit5, dense_rr + rr

    assert ours_r5 / QUERIES >= 0.82 and ours_rr / QUERIES >= 0.74
    assert ours_rr - dense_rr >= 0.1 * QUERIES  # MRR at least 0.1 above dense-only
