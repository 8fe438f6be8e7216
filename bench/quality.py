"""Recall quality per dataset: the dense-only baseline and our ranking side by side, in one run.

Every dataset is loaded through the service code the tools use (drafts -> ``MemoryService.remember_many``,
episodes through ``EpisodeService``) into a fresh store, and every query of ours goes through
``MemoryService.recall`` / ``EpisodeService.recall_similar`` — exactly what ``recall_similar_patterns``,
``recall_error_solutions`` and ``recall_similar_episodes`` run. The dense baseline asks the same collection
for the nearest vectors of the raw query (what a vector-only memory does).

- ``cosqa``: CoSQA dev — 500 real web queries over the official pool of 6,267 Python functions, each stored
  as a code pattern named after its ``def`` (../shared/data/README.md). Encoding the pool takes minutes.
- ``errors``: bench/datasets/errors — 303 pairs of different real Python error messages with one cause and
  fix (bench/datasets/errors/README.md); 130 stored resolutions, the other messages are queries.
- ``mixed``: ``search_memory`` over all types at once — 2,000 CoSQA functions (the gold ones of the first 200
  queries included), the 130 error resolutions and the seeded knowledge in one store; the CoSQA queries and the
  error queries each search every type, so another type's memory can crowd out the one wanted.
- ``episodes``: 80 real coding-agent runs (../shared/data/README.md), same-code recall as in
  bench/episode_recall.py: a hit is another run on the same repository that changed a file in the same source
  directory; the run itself is left out of its results. Dense baseline: cosine over the task texts.

Metrics: Recall@1, Recall@5 and MRR over the first 10 results (a gold item ranked lower counts 0).

    .venv/bin/python bench/quality.py      # all datasets (10–20 min on 2 cores; CoSQA encodes 6,267 functions)
    .venv/bin/python bench/quality.py --datasets errors    # one dataset
    .venv/bin/python bench/quality.py --limit 100 --pool 1000   # quick: 100 queries, CoSQA pool cut to 1,000
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import anyio

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from episode_recall import import_run, source_dirs

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.memory.drafts import error_draft, pattern_draft
from mcp_memory.memory.records import MemoryDraft
from mcp_memory.models import MemoryType
from mcp_memory.storage.embeddings import Embedder

DATA = BENCH.parents[1] / "shared" / "data"
ERRORS = BENCH / "datasets" / "errors" / "python-errors-dev.jsonl"
CUTOFF = 10
TARGETS = {"errors": (0.82, 0.74), "episodes": (0.75, None)}
MIXED_POOL = 2000  # CoSQA functions in the all-types store (the gold ones of its queries included)
MIXED_QUERIES = 200


@dataclass
class Scores:
    """Recall@1, Recall@5 and MRR@10 accumulated over queries."""

    queries: int = 0
    totals: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])

    def add(self, ranking: Iterable[str], relevant: set[str]) -> None:
        self.queries += 1
        for rank, item in enumerate(list(ranking)[:CUTOFF], 1):
            if item in relevant:
                self.totals[0] += rank == 1
                self.totals[1] += rank <= 5
                self.totals[2] += 1.0 / rank
                return

    @property
    def values(self) -> tuple[float, float, float]:
        n = self.queries or 1
        return self.totals[0] / n, self.totals[1] / n, self.totals[2] / n


@dataclass
class Result:
    dataset: str
    stored: int
    dense: Scores
    ours: Scores
    seconds: float


def fresh_app(data_dir: Path, embedder: Embedder) -> MemoryApp:
    app = MemoryApp(Settings(data_dir=data_dir, seed_on_start=False, _env_file=None), embedder=embedder)  # type: ignore[call-arg]
    app.store.open()
    return app


def store_all(app: MemoryApp, drafts: list[MemoryDraft]) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(drafts), 1000):
        ids += [result.id for result in app.memory.remember_many_blocking(drafts[start : start + 1000])]
    return ids


def dense_ids(app: MemoryApp, memory_types: list[MemoryType], query: str) -> list[str]:
    """The baseline: nearest stored vectors of the raw query (from every collection, merged by cosine)."""
    embedding = app.embedder.encode([query])[0]
    nearest = [hit for memory_type in memory_types for hit in app.store.nearest(memory_type, embedding, CUTOFF)]
    return [item_id for item_id, _ in sorted(nearest, key=lambda hit: hit[1])]


async def our_ids(app: MemoryApp, memory_types: list[MemoryType], query: str) -> list[str]:
    """What the recall tool (or ``search_memory``, for several types) returns for this query."""
    result = await app.memory.recall(query, memory_types, CUTOFF)
    return [hit.id for hit in result.results]


def run_queries(
    app: MemoryApp, memory_types: list[MemoryType], queries: list[tuple[str, set[str]]]
) -> tuple[Scores, Scores]:
    dense, ours = Scores(), Scores()

    async def main() -> None:
        for query, relevant in queries:
            dense.add(dense_ids(app, memory_types, query), relevant)
            ours.add(await our_ids(app, memory_types, query), relevant)

    anyio.run(main)
    return dense, ours


# -- datasets --------------------------------------------------------------------------------------


def cosqa(embedder: Embedder, limit: int | None, pool_size: int | None) -> Result:
    pool = [json.loads(line) for line in (DATA / "cosqa-code-pool.jsonl").open()]
    queries = [json.loads(line) for line in (DATA / "cosqa-dev-queries.jsonl").open()][:limit]
    if pool_size is not None:
        gold = {q["gold_code_id"] for q in queries}
        others = [row for row in pool if row["code_id"] not in gold]
        random.Random(0).shuffle(others)
        pool = [row for row in pool if row["code_id"] in gold] + others[: max(0, pool_size - len(gold))]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        app = fresh_app(Path(tmp), embedder)
        drafts = [pattern_draft(function_name(row["code"]), row["code"], "python", "", {}, []) for row in pool]
        ids = dict(zip((row["code_id"] for row in pool), store_all(app, drafts), strict=True))
        dense, ours = run_queries(app, ["pattern"], [(q["query"], {ids[q["gold_code_id"]]}) for q in queries])
    return Result("code (CoSQA dev)", len(pool), dense, ours, time.perf_counter() - started)


def function_name(code: str) -> str:
    match = re.search(r"def\s+(\w+)", code)
    return match.group(1) if match else "function"


def errors(embedder: Embedder, limit: int | None) -> Result:
    rows = [json.loads(line) for line in ERRORS.open()]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        app = fresh_app(Path(tmp), embedder)
        drafts = [error_draft(r["stored"]["error_message"], r["context"], r["resolution"], True) for r in rows]
        gold = dict(zip((r["cause"] for r in rows), store_all(app, drafts), strict=True))
        queries = [(q["query"], {gold[r["cause"]]}) for r in rows for q in r["queries"]][:limit]
        dense, ours = run_queries(app, ["error"], queries)
    return Result("errors (dev set)", len(rows), dense, ours, time.perf_counter() - started)


def episodes(embedder: Embedder, limit: int | None) -> Result:
    runs = [json.loads(line) for line in (DATA / "episodes-sample.jsonl").open()]
    started = time.perf_counter()
    dense, ours = Scores(), Scores()
    with tempfile.TemporaryDirectory() as tmp:
        app = fresh_app(Path(tmp), embedder)
        id_of = {run["id"]: import_run(app, run) for run in runs}
        app.episodes.finish_pending_blocking()
        tasks = embedder.encode_batch([run["task"] for run in runs])
        queries = [
            (
                i,
                run,
                {
                    id_of[o["id"]]
                    for o in runs
                    if o is not run and o["repo"] == run["repo"] and source_dirs(o) & source_dirs(run)
                },
            )
            for i, run in enumerate(runs)
        ]
        queries = [q for q in queries if q[2]][:limit]

        async def main() -> None:
            for i, run, relevant in queries:
                own = id_of[run["id"]]
                similarity = tasks @ tasks[i]
                order = [id_of[runs[j]["id"]] for j in similarity.argsort()[::-1] if j != i]
                dense.add(order, relevant)
                found = await app.episodes.recall_similar(run["task"], CUTOFF + 1, False)
                ours.add([r.episode_id for r in found.results if r.episode_id != own], relevant)

        anyio.run(main)
    return Result("episodes (same code)", len(runs), dense, ours, time.perf_counter() - started)


ALL_TYPES: list[MemoryType] = ["pattern", "solution", "error", "best_practice"]


def mixed(embedder: Embedder, limit: int | None, pool_size: int | None) -> list[Result]:
    """``search_memory`` over every type at once: CoSQA functions, the error resolutions and the seeded knowledge
    in one store; the CoSQA queries and the error queries each search all types. Dense baseline: the nearest
    vectors of the raw query from every collection, merged by cosine (one vector search over everything)."""
    pool = [json.loads(line) for line in (DATA / "cosqa-code-pool.jsonl").open()]
    code_queries = [json.loads(line) for line in (DATA / "cosqa-dev-queries.jsonl").open()][: limit or MIXED_QUERIES]
    gold_code = {q["gold_code_id"] for q in code_queries}
    others = [row for row in pool if row["code_id"] not in gold_code]
    random.Random(0).shuffle(others)
    size = pool_size or MIXED_POOL
    pool = [row for row in pool if row["code_id"] in gold_code] + others[: max(0, size - len(gold_code))]
    rows = [json.loads(line) for line in ERRORS.open()]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        app = fresh_app(Path(tmp), embedder)
        app.knowledge.seed_blocking()
        code_ids = dict(
            zip(
                (row["code_id"] for row in pool),
                store_all(
                    app, [pattern_draft(function_name(row["code"]), row["code"], "python", "", {}, []) for row in pool]
                ),
                strict=True,
            )
        )
        error_ids = dict(
            zip(
                (r["cause"] for r in rows),
                store_all(
                    app, [error_draft(r["stored"]["error_message"], r["context"], r["resolution"], True) for r in rows]
                ),
                strict=True,
            )
        )
        stored = sum(app.store.count(t) for t in ALL_TYPES)
        sets = {
            "code (CoSQA dev) among all types": [(q["query"], {code_ids[q["gold_code_id"]]}) for q in code_queries],
            "errors (dev set) among all types": [
                (q["query"], {error_ids[r["cause"]]}) for r in rows for q in r["queries"]
            ][:limit],
        }
        results = []
        for name, queries in sets.items():
            dense, ours = run_queries(app, ALL_TYPES, queries)
            results.append(Result(name, stored, dense, ours, time.perf_counter() - started))
    return results


# -- report ----------------------------------------------------------------------------------------


def table(results: list[Result]) -> str:
    lines = [
        "| dataset | stored | queries | dense R@1 | dense R@5 | dense MRR | ours R@1 | ours R@5 | ours MRR | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for result in results:
        d, o = result.dense.values, result.ours.values
        lines.append(
            f"| {result.dataset} | {result.stored:,} | {result.ours.queries} | {d[0]:.3f} | {d[1]:.3f} | {d[2]:.3f} "
            f"| {o[0]:.3f} | {o[1]:.3f} | {o[2]:.3f} | {verdict(result)} |"
        )
    return "\n".join(lines)


def verdict(result: Result) -> str:
    d, o = result.dense.values, result.ours.values
    if result.dataset.startswith("code"):
        ok = o[1] >= d[1] and o[2] >= d[2]
        return ("met" if ok else "MISSED") + ": R@5 and MRR never below dense"
    key = result.dataset.split()[0]
    r5, mrr = TARGETS[key]
    ok = o[1] >= r5 and (mrr is None or o[2] >= mrr)
    wanted = f"R@5 ≥ {r5}" + (f", MRR ≥ {mrr}" if mrr is not None else "")
    return ("met" if ok else "MISSED") + f": {wanted}"


DATASETS: dict[str, Callable[[Embedder, argparse.Namespace], list[Result]]] = {
    "cosqa": lambda embedder, args: [cosqa(embedder, args.limit, args.pool)],
    "errors": lambda embedder, args: [errors(embedder, args.limit)],
    "episodes": lambda embedder, args: [episodes(embedder, args.limit)],
    "mixed": lambda embedder, args: mixed(embedder, args.limit, args.pool),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--datasets", default="cosqa,errors,episodes,mixed", help="Comma-separated: cosqa, errors, episodes, mixed."
    )
    parser.add_argument("--limit", type=int, help="At most this many queries per dataset.")
    parser.add_argument("--pool", type=int, help="CoSQA: store only this many functions (the gold ones included).")
    parser.add_argument("--threads", type=int, default=2, help="Torch threads for bulk encoding (queries use 1).")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    unknown = [name for name in names if name not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s): {', '.join(unknown)}")
    embedder = Embedder(threads=1, batch_threads=args.threads)
    embedder.load()
    results = []
    for name in names:
        for result in DATASETS[name](embedder, args):
            print(
                f"{result.dataset}: {result.stored:,} stored, {result.ours.queries} queries, {result.seconds:.0f} s",
                file=sys.stderr,
            )
            results.append(result)
    print(table(results))


if __name__ == "__main__":
    main()
