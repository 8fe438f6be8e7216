"""Consolidation: what it takes at 100,000 memories, and recall quality on the dev sets before and after it.

**Scale** (``--count``, default 100,000). A synthetic store (``synthetic.py``: patterns, errors and solutions in ten
languages, vectors precomputed) loaded the way people load one, by ``mcp-memory import``, in which:

- 2% of the memories were written twice: a second copy with other text (code laid out otherwise, an error's
  resolution written differently, a solution's problem with a question mark) and a vector at cosine ≈ 0.995 to the
  first;
- 10% were last stored 200 days ago (beyond the default MCP_MEMORY_ARCHIVE_AFTER of 180 days);
- 1% only ever failed (3 failures, no success).

Then ``mcp-memory consolidate --json`` runs as a process, timed from spawn to exit: the dry run (the whole plan), the
first real run (every memory compared), a run right after (nothing new), and a run after 1,000 more memories are
imported (what a busy day adds). Checked against what was planted: every copy merged with its original and nothing
else merged; exactly the stale and the failing memories archived.

**Quality.** The error dev set (130 fixes; 303 queries) and a CoSQA pool (``--pool`` functions, the gold ones of
the first ``--queries`` queries included), each stored item also stored a second time written differently (an error's
resolution reworded; a function reformatted without its comments, ``ast.unparse``), loaded through the service code
as ``bench/quality.py`` loads them. R@1, R@5 and MRR@10 of ``MemoryService.recall`` before consolidating and after
(a hit on either copy, or on the memory a copy was merged into, counts).

    PYTHONPATH=. .venv/bin/python bench/consolidation.py                      # both parts (~40-60 min, 2 cores)
    PYTHONPATH=. .venv/bin/python bench/consolidation.py --part quality --pool 1000
"""

from __future__ import annotations

import argparse
import ast
import base64
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from quality import DATA, ERRORS, Scores, fresh_app, function_name, store_all
from synthetic import DIMENSION, MODEL_NAME, draft, family_vectors, noisy, representatives

from mcp_memory.memory.drafts import error_draft, pattern_draft, solution_draft
from mcp_memory.memory.records import MemoryDraft, content_hash, memory_id, new_metadata
from mcp_memory.storage.embeddings import Embedder

DAY = 86_400.0
CUTOFF = 10


# -- scale ------------------------------------------------------------------------------------------------------


def copy_of(memory: MemoryDraft) -> MemoryDraft:
    """The same memory written down a second time, a little differently."""
    fields = memory.fields
    if memory.type == "pattern":
        code = fields["code"].replace("\n", "\n\n", 1)  # laid out otherwise: a blank line after the first
        return pattern_draft(memory.title, code, memory.language or "", fields["context"], {}, memory.tags)
    if memory.type == "error":
        resolution = fields["resolution"][0].upper() + fields["resolution"][1:] + "."
        return error_draft(
            fields["error_message"], fields["context"], resolution, bool(memory.success), memory.language
        )
    return solution_draft(fields["problem"] + "?", fields["solution"], memory.language, "", {"success": True})


def line(memory: MemoryDraft, vector: np.ndarray, **metadata: Any) -> str:
    digest = content_hash(memory.type, memory.identity_text)
    meta = new_metadata(memory, digest) | metadata
    return json.dumps(
        {
            "kind": "memory",
            "id": memory_id(memory.type, digest),
            "type": memory.type,
            "content": memory.content,
            "metadata": meta,
            "embedding": base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii"),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def write_store_file(path: Path, start: int, count: int, vectors: dict[int, np.ndarray]) -> dict[str, set[str]]:
    """An export file of memories ``start .. start+count`` with the planted copies, stale and failing memories;
    returns the ids planted, by kind."""
    planted: dict[str, set[str]] = {"copies": set(), "stale": set(), "failing": set()}
    noise = np.random.default_rng(start + 11)
    old = time.time() - 200 * DAY
    with path.open("w", encoding="utf-8") as out:
        header = {"kind": "header", "format": "mcp-memory", "version": 1, "model": MODEL_NAME, "dimension": DIMENSION}
        out.write(json.dumps(header) + "\n")
        for index in range(start, start + count):
            memory, family = draft(index)
            vector = noisy(vectors[family], noise)
            extra: dict[str, Any] = {}
            digest = content_hash(memory.type, memory.identity_text)
            if index % 10 == 3:
                extra = {"created_at": old, "updated_at": old}
                planted["stale"].add(memory_id(memory.type, digest))
            elif index % 100 == 7:
                extra = {"usage_count": 3, "success_count": 0, "failure_count": 3}
                planted["failing"].add(memory_id(memory.type, digest))
            out.write(line(memory, vector, **extra) + "\n")
            if index % 50 == 0:
                copy = copy_of(memory)
                out.write(line(copy, noisy(vector, noise, scale=0.1), **extra) + "\n")
                copy_id = memory_id(copy.type, content_hash(copy.type, copy.identity_text))
                planted["copies"].add(f"{memory_id(memory.type, digest)} {copy_id}")
    return planted


def cli(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mcp_memory", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=True,
    )
    return time.perf_counter() - start, done


def scale(count: int, work: Path) -> dict[str, Any]:
    from recall import load_model

    model = load_model()
    vectors = family_vectors(representatives(), lambda texts: model.encode(texts, normalize_embeddings=True))
    data = work / f"store-{count}"
    store_file, more_file = work / "store.jsonl", work / "more.jsonl"
    planted = write_store_file(store_file, 0, count, vectors)
    added = write_store_file(more_file, count, 1000, vectors)
    figures: dict[str, Any] = {"count": count, "load_before": os.getloadavg()}
    figures["import_s"], _ = cli("import", str(store_file), "--data-dir", str(data), "--batch-size", "2000")
    runs: dict[str, Any] = {}
    for label, args in (
        ("dry run", ["--dry-run"]),
        ("first run", []),
        ("run again", []),
    ):
        seconds, done = cli("consolidate", "--json", "--data-dir", str(data), *args)
        runs[label] = (seconds, json.loads(done.stdout))
    figures["import_more_s"], _ = cli("import", str(more_file), "--data-dir", str(data))
    seconds, done = cli("consolidate", "--json", "--data-dir", str(data))
    runs["after 1,000 more"] = (seconds, json.loads(done.stdout))
    figures["load_after"] = os.getloadavg()
    figures["runs"] = {
        label: {
            "process_s": round(seconds, 1),
            "inside_s": report["seconds"],
            "compared": report["compared"],
            "merged": len(report["merged"]),
            "archived": len(report["archived"]),
        }
        for label, (seconds, report) in runs.items()
    }
    first = runs["first run"][1]
    merged = {frozenset((m["id"], m["into"])) for m in first["merged"]}
    copies = {frozenset(pair.split()) for pair in planted["copies"]}
    figures["check"] = {
        "copies planted": len(copies),
        "copies merged": len(merged & copies),
        "other merges": len(merged - copies),
        "stale planted": len(planted["stale"]),
        "failing planted": len(planted["failing"]),
        "archived as planted": len({a["id"] for a in first["archived"]} & (planted["stale"] | planted["failing"])),
        "archived otherwise": len({a["id"] for a in first["archived"]} - (planted["stale"] | planted["failing"])),
        "later: copies merged": len(
            {frozenset((m["id"], m["into"])) for m in runs["after 1,000 more"][1]["merged"]}
            & {frozenset(pair.split()) for pair in added["copies"]}
        ),
    }
    return figures


# -- quality ----------------------------------------------------------------------------------------------------


def reworded(resolution: str) -> str:
    return f"Fixed it: {resolution[0].lower()}{resolution[1:]}"


def reformatted(code: str) -> str | None:
    try:
        text = ast.unparse(ast.parse(code))
    except SyntaxError:
        return None
    return text if text.strip() != code.strip() else None


def measure(app: Any, queries: list[tuple[str, set[str]]], memory_type: str, merged: dict[str, str]) -> Scores:
    """Recall for each query; a hit on a relevant memory, or on the memory it was merged into, counts."""
    import anyio

    scores = Scores()

    async def main() -> None:
        for query, relevant in queries:
            wanted = relevant | {merged[i] for i in relevant if i in merged}
            result = await app.memory.recall(query, [memory_type], CUTOFF)
            scores.add([hit.id for hit in result.results], wanted)

    anyio.run(main)
    return scores


def quality(embedder: Embedder, pool_size: int, n_queries: int) -> list[dict[str, Any]]:
    results = []
    rows = [json.loads(text) for text in ERRORS.open()]
    drafts, copies = [], []
    for row in rows:
        message, context = row["stored"]["error_message"], row["context"]
        drafts.append(error_draft(message, context, row["resolution"], True))
        copies.append(error_draft(message, context, reworded(row["resolution"]), True))
    queries_of = [[q["query"] for q in row["queries"]] for row in rows]
    results.append(_quality_run("errors (dev set)", embedder, drafts, copies, queries_of, "error"))

    pool = [json.loads(text) for text in (DATA / "cosqa-code-pool.jsonl").open()]
    asked = [json.loads(text) for text in (DATA / "cosqa-dev-queries.jsonl").open()][:n_queries]
    gold = {q["gold_code_id"] for q in asked}
    others = [row for row in pool if row["code_id"] not in gold]
    random.Random(0).shuffle(others)
    pool = [row for row in pool if row["code_id"] in gold] + others[: max(0, pool_size - len(gold))]
    drafts, copies, queries_of = [], [], []
    for row in pool:
        drafts.append(pattern_draft(function_name(row["code"]), row["code"], "python", "", {}, []))
        rewritten = reformatted(row["code"])
        copies.append(
            pattern_draft(function_name(rewritten), rewritten, "python", "", {}, []) if rewritten is not None else None
        )
        queries_of.append([q["query"] for q in asked if q["gold_code_id"] == row["code_id"]])
    results.append(_quality_run("code (CoSQA dev)", embedder, drafts, copies, queries_of, "pattern"))
    return results


def _quality_run(
    name: str,
    embedder: Embedder,
    drafts: list[MemoryDraft],
    copies: list[MemoryDraft | None],
    queries_of: list[list[str]],
    memory_type: str,
) -> dict[str, Any]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        app = fresh_app(Path(tmp), embedder)
        ids = store_all(app, drafts)
        kept = [(i, c) for i, c in enumerate(copies) if c is not None]
        copy_ids = dict(zip((i for i, _ in kept), store_all(app, [c for _, c in kept]), strict=True))
        queries = [
            (query, {ids[i], *([copy_ids[i]] if i in copy_ids else [])})
            for i, asked in enumerate(queries_of)
            for query in asked
        ]
        before = measure(app, queries, memory_type, {})
        report = app.consolidator.run_blocking()
        after = measure(app, queries, memory_type, {m.id: m.into for m in report.merged})
        pairs = {frozenset((ids[i], copy_ids[i])) for i in copy_ids}
        merged = [frozenset((m.id, m.into)) for m in report.merged]
        return {
            "dataset": name,
            "stored": len(ids) + len(copy_ids),
            "queries": before.queries,
            "before": before.values,
            "after": after.values,
            "copies": len(copy_ids),
            "copies merged": sum(1 for pair in merged if pair in pairs),
            "other merges": sum(1 for pair in merged if pair not in pairs),
            "consolidate_s": report.seconds,
            "seconds": time.perf_counter() - started,
        }


# -- report -----------------------------------------------------------------------------------------------------


def table(figures: dict[str, Any]) -> str:
    lines: list[str] = []
    if "scale" in figures:
        s = figures["scale"]
        lines += [
            f"Scale: {s['count']:,} memories (+2% copies), load {s['load_before'][0]:.1f} → {s['load_after'][0]:.1f}; "
            f"import {s['import_s']:.0f} s.",
            "",
            "| run | process s | consolidation s | compared | merged | archived |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for label, run in s["runs"].items():
            lines.append(
                f"| {label} | {run['process_s']:.1f} | {run['inside_s']:.1f} | {run['compared']:,} | "
                f"{run['merged']:,} | {run['archived']:,} |"
            )
        lines += ["", "Check: " + ", ".join(f"{k} {v:,}" for k, v in s["check"].items()), ""]
    for result in figures.get("quality", []):
        b, a = result["before"], result["after"]
        lines.append(
            f"| {result['dataset']} | {result['stored']:,} | {result['queries']} | {b[0]:.3f} / {a[0]:.3f} | "
            f"{b[1]:.3f} / {a[1]:.3f} | {b[2]:.3f} / {a[2]:.3f} | {result['copies merged']}/{result['copies']} | "
            f"{result['other merges']} |"
        )
    if figures.get("quality"):
        header = [
            "| dataset | stored | queries | R@1 before / after | R@5 before / after | MRR before / after "
            "| copies merged | other merges |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        at = len(lines) - len(figures["quality"])
        lines[at:at] = header
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["scale", "quality", "both"], default="both")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--pool", type=int, default=2000, help="CoSQA functions stored (the gold ones included).")
    parser.add_argument("--queries", type=int, default=200, help="CoSQA queries asked.")
    parser.add_argument("--work", type=Path, help="Folder for the store (default: a temporary one).")
    parser.add_argument("--json", type=Path, help="Write every figure here too.")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "load_start": os.getloadavg()}
    if args.part in ("quality", "both"):
        embedder = Embedder(threads=1, batch_threads=2)
        embedder.load()
        figures["quality"] = quality(embedder, args.pool, args.queries)
    if args.part in ("scale", "both"):
        work = args.work or Path(tempfile.mkdtemp(prefix="mcp-memory-consolidation-"))
        work.mkdir(parents=True, exist_ok=True)
        figures["scale"] = scale(args.count, work)
    figures["load_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=list))
    print(table(figures))


if __name__ == "__main__":
    main()
