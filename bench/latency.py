"""Query latency at 10,000 memories: short and task-length queries, for error recall and pattern recall.

Each timed call is a whole ``MemoryService.recall`` — query encode (the real model, one torch thread), Chroma,
the word index, signature lookup, fusion and outcome weighting — as ``recall_error_solutions`` and
``recall_similar_patterns`` run it, minus the MCP transport.

- errors: 10,000 error resolutions written through ``remember_many`` with real embeddings. Their messages are the
  dev set's real messages (bench/datasets/errors) with the quoted names and numbers replaced by others (names
  taken from the CoSQA functions), so the word index holds 10,000 distinct, realistic messages.
- patterns: 10,000 code patterns (CoSQA functions, repeated under other names) stored with precomputed random
  unit vectors — encoding 10,000 functions would take ten minutes, and the dense search costs the same
  whatever the vectors mean. The queries are encoded by the real model.
- short queries: error lines of the dev set (errors), CoSQA web queries (patterns); task-length queries: the
  first 2,000 characters of real GitHub issues from the agent-run sample (the model reads 256 word pieces).

    .venv/bin/python bench/latency.py
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
import numpy as np

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.memory.drafts import error_draft, pattern_draft
from mcp_memory.memory.records import content_hash, memory_id, new_metadata
from mcp_memory.models import MemoryType
from mcp_memory.storage.embeddings import DIMENSION, Embedder
from mcp_memory.storage.store import StoredItem

BENCH = Path(__file__).resolve().parent
DATA = BENCH.parents[1] / "shared" / "data"
ERRORS = BENCH / "datasets" / "errors" / "python-errors-dev.jsonl"
QUOTED = re.compile(r"'[^'\n]*'")
NUMBER = re.compile(r"\b\d+\b")


def error_rows(count: int, names: list[str], rng: random.Random) -> list[tuple[str, str, str]]:
    causes = [json.loads(line) for line in ERRORS.open()]
    templates = [
        (message, cause["context"], cause["resolution"])
        for cause in causes
        for message in [cause["stored"]["error_message"], *(q["error_message"] for q in cause["queries"])]
    ]
    rows: dict[str, tuple[str, str, str]] = {}
    while len(rows) < count:
        message, context, resolution = rng.choice(templates)
        varied = QUOTED.sub(lambda _: f"'{rng.choice(names)}'", message)
        varied = NUMBER.sub(lambda _: str(rng.randint(0, 500)), varied)
        rows.setdefault(varied, (varied, context, resolution))
    return list(rows.values())


def fill_errors(app: MemoryApp, rows: list[tuple[str, str, str]], vectors: np.ndarray | None = None) -> None:
    """Error resolutions through ``remember_many`` (every text encoded), or, with their vectors given (aligned with
    ``rows``), the same memories written with those vectors and no model run."""
    for start in range(0, len(rows), 1000):
        drafts = [error_draft(m, c, r, True) for m, c, r in rows[start : start + 1000]]
        if vectors is None:
            app.memory.remember_many_blocking(drafts)
            continue
        items = []
        for draft in drafts:
            digest = content_hash("error", draft.identity_text)
            items.append(StoredItem(memory_id("error", digest), draft.content, new_metadata(draft, digest)))
        app.store.add("error", items, vectors[start : start + len(items)].tolist())


def fill_patterns(app: MemoryApp, pool: list[dict[str, str]], count: int) -> None:
    rng = np.random.default_rng(0)
    for start in range(0, count, 1000):
        items, vectors = [], []
        for i in range(start, min(count, start + 1000)):
            row = pool[i % len(pool)]
            draft = pattern_draft(f"function {i}", row["code"] + f"\n# variant {i}", "python", "", {}, [])
            digest = content_hash("pattern", draft.identity_text)
            items.append(StoredItem(memory_id("pattern", digest), draft.content, new_metadata(draft, digest)))
            vector = rng.standard_normal(DIMENSION).astype(np.float32)
            vectors.append((vector / np.linalg.norm(vector)).tolist())
        app.store.add("pattern", items, vectors)


def timed(app: MemoryApp, memory_type: MemoryType, queries: list[str]) -> tuple[float, float, float, float]:
    """p50 and p95 of whole recalls; p50 of the same recall once its query is encoded (everything but the
    model); p50 of the query encode alone (on copies the cache has not seen)."""
    times, again, encodes = recall_times(app, memory_type, queries)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    return statistics.median(times), p95, statistics.median(again), statistics.median(encodes)


def recall_times(
    app: MemoryApp, memory_type: MemoryType, queries: list[str]
) -> tuple[list[float], list[float], list[float]]:
    """Milliseconds per query: the whole recall, the same recall again (its encode cached), the encode alone."""
    times: list[float] = []
    again: list[float] = []
    encodes: list[float] = []

    async def main() -> None:
        await app.memory.recall("warm up", [memory_type], 5)
        for query in queries:
            started = time.perf_counter()
            await app.memory.recall(query, [memory_type], 5)
            times.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await app.memory.recall(query, [memory_type], 5)  # the embedder's cache answers the encode
            again.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()  # on the same worker threads as recall; same word pieces, not cached
            await app.memory.run(app.embedder.encode, [query + "\n"])
            encodes.append((time.perf_counter() - started) * 1000)

    anyio.run(main)
    return times, again, encodes


def corpus() -> tuple[list[dict[str, str]], list[str]]:
    """The CoSQA code pool and the function names in it (the names vary the error messages)."""
    pool = [json.loads(line) for line in (DATA / "cosqa-code-pool.jsonl").open()]
    names = sorted({m.group(1) for row in pool if (m := re.search(r"def\s+(\w+)", row["code"]))})
    return pool, names


def query_sets(n: int, rng: random.Random) -> dict[tuple[str, str], tuple[MemoryType, list[str]]]:
    """``n`` distinct queries of each kind and length, with the memory type each one recalls."""
    causes = [json.loads(line) for line in ERRORS.open()]
    short_errors = [q["error_message"] for cause in causes for q in cause["queries"]]
    short_code = [json.loads(line)["query"] for line in (DATA / "cosqa-dev-queries.jsonl").open()]
    tasks = [json.loads(line)["task"][:2000] for line in (DATA / "episodes-sample.jsonl").open()]
    half = len(tasks) // 2  # no query twice: the embedder caches what it encoded
    return {
        ("errors", "short"): ("error", rng.sample(short_errors, n)),
        ("errors", "task-length"): ("error", tasks[:half][:n]),
        ("patterns", "short"): ("pattern", rng.sample(short_code, n)),
        ("patterns", "task-length"): ("pattern", tasks[half:][:n]),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args(argv)
    rng = random.Random(0)
    pool, names = corpus()

    embedder = Embedder(threads=1, batch_threads=2)
    embedder.load()
    with tempfile.TemporaryDirectory() as tmp:
        app = MemoryApp(Settings(data_dir=Path(tmp), seed_on_start=False, _env_file=None), embedder=embedder)  # type: ignore[call-arg]
        app.store.open()
        started = time.perf_counter()
        fill_errors(app, error_rows(args.memories, names, rng))
        fill_patterns(app, pool, args.memories)
        print(
            f"filled {args.memories:,} errors and {args.memories:,} patterns in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        sets = query_sets(args.queries, rng)
        results = {key: timed(app, memory_type, queries) for key, (memory_type, queries) in sets.items()}
    print(
        f"| recall at {args.memories:,} memories | query | p50 ms | p95 ms | p50 without the encode ms "
        "| encode alone p50 ms | target p50 |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for (kind, length), (p50, p95, rest, encode) in results.items():
        target = 25 if length == "short" else 100
        verdict = "met" if p50 <= target else "MISSED"
        print(f"| {kind} | {length} | {p50:.1f} | {p95:.1f} | {rest:.1f} | {encode:.1f} | ≤ {target} ms ({verdict}) |")
    print(f"\nload average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", file=sys.stderr)


if __name__ == "__main__":
    main()
