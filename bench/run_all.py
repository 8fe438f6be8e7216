"""Every benchmark in one run, printed as one table: ours against a reference measured in the same run.

    .venv/bin/python bench/run_all.py            # 1k/10k/100k stores, 10k ingest (about 25-40 min)
    .venv/bin/python bench/run_all.py --quick    # 1k/10k stores, 2k ingest (about 8-15 min)
    .venv/bin/python bench/run_all.py --scale-1m # adds the 1,000,000-memory run (another 40-90 min)

Targets are ratios, because this machine is shared and noisy: only figures taken in one run compare.
See bench/README.md for the figures measured here and what each row means.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest
import recall
import startup
import stores

Row = tuple[str, str, str, str, str]


def ms(pair: tuple[float, float] | list[float]) -> str:
    return f"{pair[0]:.1f} / {pair[1]:.1f} ms"


def startup_rows(runs: int) -> tuple[list[Row], dict[str, Any]]:
    times = startup.measure(runs)
    ours, bare = (
        statistics.median(times["mcp-memory: tools/list"]),
        statistics.median(times["bare SDK server: tools/list"]),
    )
    first = statistics.median(times["mcp-memory: first recall"])
    rows = [
        (
            "cold start: spawn -> tools/list",
            f"{ours:.2f} s",
            f"bare SDK server {bare:.2f} s",
            f"{ours / bare:.2f}x",
            "<= 1.5x",
        ),
        ("cold start: spawn -> first recall", f"{first:.2f} s", "-", "-", "-"),
    ]
    return rows, times


def recall_rows(figures: dict[str, Any]) -> list[Row]:
    n = f"{figures['count']:,}"
    ours = figures["ours"]
    rows = []
    for label, name in (("plain", "no filter"), ("filtered", "language filter")):
        floor = figures[f"floor_{label}"]
        rows.append(
            (
                f"warm recall @ {n}, {name} (p50 / p95)",
                ms(ours[label]),
                f"floor {ms(floor)}",
                f"{figures[f'ratio_{label}_p50']:.2f}x",
                "p50 <= 1.25x",
            )
        )
    rows.append((f"search_memory, all types @ {n} (p50 / p95)", ms(ours["search_all"]), "-", "-", "-"))
    per_memory = figures["disk_bytes"] / figures["count"]
    rows.append(
        (
            f"RSS / disk @ {n}",
            f"{ours['rss_bytes'] / 2**20:,.0f} MB / {figures['disk_bytes'] / 2**20:,.0f} MB",
            f"{per_memory:,.0f} bytes per memory on disk",
            "-",
            "RSS <= 1.5 GB at 100k",
        )
    )
    populate = figures["populate"]
    rows.append(
        (
            f"load @ {n} (import with vectors)",
            f"{populate['import_rate']:,.0f} memories/s",
            f"{populate['import_seconds']:.0f} s wall, CLI",
            "-",
            "-",
        )
    )
    return rows


def store_rows(figures: dict[str, Any], size: str) -> list[Row]:
    ours = figures["ours"]
    return [
        (
            f"single store @ {size} (p50 / p95)",
            ms(ours["single"]),
            f"encode+add+noop {ms(figures['floor'])}",
            f"{figures['ratio_single_p50']:.2f}x",
            "< 1x",
        ),
        (
            f"concurrent stores @ {size} ({ours['in_flight']} in flight)",
            f"{ours['concurrent_per_s']:.1f}/s",
            f"sequential {ours['single_per_s']:.1f}/s; floor {1000 / figures['floor'][0]:.1f}/s",
            f"{figures['concurrent_vs_floor_rate']:.2f}x floor",
            "> 1x",
        ),
    ]


def ingest_rows(figures: dict[str, Any]) -> list[Row]:
    best = figures["raw_best"]
    return [
        (
            f"bulk import of {figures['count']:,} (encodes every text)",
            f"{figures['import_rate']:.1f}/s",
            f"raw encode {best['rate']:.1f}/s (batch {best['batch_size']}, {best['threads']} thr)",
            f"{figures['ratio']:.2f}x",
            ">= 0.8x",
        )
    ]


def print_table(rows: list[Row]) -> None:
    headers = ("measure", "ours", "reference (same run)", "ratio", "target")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="Smaller stores and fewer runs.")
    parser.add_argument("--scale-1m", action="store_true", help="Also run the 1,000,000-memory store (long).")
    parser.add_argument("--json", help="Write every figure to this file.")
    parser.add_argument("--work", help="Scratch folder (default: a temporary one, removed afterwards).")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="mcp-memory-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    n_queries = 60 if args.quick else 200
    started = time.time()
    figures: dict[str, Any] = {"quick": args.quick, "started": started}
    rows: list[Row] = []
    try:
        startup_table, figures["startup"] = startup_rows(2 if args.quick else 5)
        rows += startup_table
        model = recall.load_model()
        figures["recall"] = []
        for count in sizes:
            result = recall.run(count, work, n_queries, model=model, keep=count == 10_000)
            figures["recall"].append(result)
            rows += recall_rows(result)
            print(f"[{time.time() - started:6.0f} s] recall @ {count:,} done", file=sys.stderr, flush=True)
        figures["stores"] = stores.run(
            work / "store-10000", sequential=30 if args.quick else 60, concurrent=100 if args.quick else 200
        )
        rows += store_rows(figures["stores"], "10,000")
        figures["ingest"] = ingest.run(2_000 if args.quick else 10_000, work)
        rows += ingest_rows(figures["ingest"])
        if args.scale_1m:
            figures["scale_1m"] = recall.run(1_000_000, work, n_queries, model=model)
            rows += recall_rows(figures["scale_1m"])
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    figures["seconds"] = time.time() - started
    print()
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
