"""Same-code recall of past episodes over real coding-agent runs: meaning, words, and both fused.

Data: ../shared/data/episodes-sample.jsonl — 80 runs of mini-swe-agent (Gemini 3 Pro Preview) on
SWE-bench Verified tasks, with the harness verdicts (see ../shared/data/README.md for the source).
Every run is imported as an episode through the same service the tools use (one event per step, the
verdict as the outcome, files changed in the metrics). Then, leave-one-out, each run's task is the
query; a result is relevant when it is another run on the same repository that changed a file in the
same source directory. Runs with no relevant peer are not queries.

    .venv/bin/python bench/episode_recall.py
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.episodes.index import FUSION_DEPTH, reciprocal_rank_fusion

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "episodes-sample.jsonl"


def import_run(app: MemoryApp, run: dict[str, Any]) -> str:
    episode_id = app.episodes.start_blocking(run["task"], {"repo": run["repo"]}, "SWE_AGENT").episode_id
    steps = [
        ("step", "SWE_AGENT", {k: e[k] for k in ("thought", "action", "returncode", "observation")})
        for e in run["events"]
    ]
    app.episodes.record_many_blocking(episode_id, steps)
    metrics = {"files_changed": run["files_changed"], "exit_status": run["exit_status"]}
    app.episodes.end_blocking(episode_id, bool(run["resolved"]), metrics, "")
    return episode_id


def source_dirs(run: dict[str, Any]) -> set[str]:
    return {str(Path(f).parent) for f in run["files_changed"] if "test" not in f}


def scores(ranking: list[str], relevant: set[str]) -> tuple[float, float, float]:
    """Recall@1, Recall@5 and reciprocal rank of the first relevant result."""
    first = next((rank for rank, item in enumerate(ranking, 1) if item in relevant), None)
    if first is None:
        return 0.0, 0.0, 0.0
    return float(first == 1), float(first <= 5), 1.0 / first


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=Path, default=SAMPLE)
    args = parser.parse_args(argv)
    if not args.sample.exists():
        sys.exit(f"{args.sample} not found")
    runs = [json.loads(line) for line in args.sample.read_text(encoding="utf-8").splitlines() if line.strip()]

    with tempfile.TemporaryDirectory() as data_dir:
        app = MemoryApp(Settings(data_dir=Path(data_dir), seed_on_start=False, _env_file=None))  # type: ignore[call-arg]
        started = time.perf_counter()
        run_of = {import_run(app, run): run for run in runs}
        app.episodes.finish_pending_blocking()
        loaded = time.perf_counter() - started
        id_of = {run["id"]: episode_id for episode_id, run in run_of.items()}

        totals = {name: [0.0, 0.0, 0.0] for name in ("dense (summary vector)", "BM25 (task + steps)", "fused (RRF)")}
        queries = 0
        for run in runs:
            relevant = {
                id_of[other["id"]]
                for other in runs
                if other is not run and other["repo"] == run["repo"] and source_dirs(other) & source_dirs(run)
            }
            if not relevant:
                continue
            queries += 1
            ranked = app.episodes.index.rankings(run["task"], FUSION_DEPTH, False)
            own = id_of[run["id"]]
            dense = [i for i in ranked.cosine if i != own]
            lexical = [i for i in ranked.lexical if i != own]
            fused = [i for i, _ in reciprocal_rank_fusion([dense, lexical])]
            for name, ranking in zip(totals, (dense, lexical, fused), strict=True):
                for k, value in enumerate(scores(ranking, relevant)):
                    totals[name][k] += value

    print(f"{len(runs)} runs imported and indexed in {loaded:.1f} s; {queries} queries (leave-one-out)\n")
    print(f"| {'ranking':<24} | R@1   | R@5   | MRR   |")
    print(f"| {'-' * 24} | ----- | ----- | ----- |")
    for name, (r1, r5, mrr) in totals.items():
        print(f"| {name:<24} | {r1 / queries:.3f} | {r5 / queries:.3f} | {mrr / queries:.3f} |")


if __name__ == "__main__":
    main()
