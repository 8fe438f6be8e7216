"""The error word index alone (``memory/word_index.py``): build time and search p50/p95 at a size, beside the
index of older code (``--baseline``: a checkout of it), on synthetic error messages of a few templates (so
that template words such as ``error``, ``no``, ``module`` sit in most documents, as in a real error store).

Run: ``PYTHONPATH=. .venv/bin/python bench/word_index.py --count 100000 [--baseline /tmp/base]``.
Checks that both return the same scores for every query (the rewrite keeps BM25 exact).
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import time
from pathlib import Path
from typing import Any

from mcp_memory.memory.word_index import BM25Index
from mcp_memory.words import code_tokens

TEMPLATES = [
    "ModuleNotFoundError: No module named '{m}'",
    "KeyError: '{m}' in {f}",
    "TypeError: {f}() takes 2 positional arguments but 3 were given",
    "ValueError: invalid literal for int() with base 10: '{m}'",
    "AttributeError: 'NoneType' object has no attribute '{m}'",
    "ConnectionError: failed to connect to {m} port {n}",
    "FileNotFoundError: [Errno 2] No such file or directory: '{f}/{m}.json'",
    "TimeoutError: request to {m} timed out after {n} seconds",
]


def messages(count: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    names = [f"name{i}" for i in range(20000)]
    return [
        code_tokens(rng.choice(TEMPLATES).format(m=rng.choice(names), f=rng.choice(names), n=rng.randint(10, 9999)))
        for _ in range(count)
    ]


def baseline_index(root: Path) -> type[Any]:
    spec = importlib.util.spec_from_file_location("baseline_word_index", root / "mcp_memory/memory/word_index.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BM25Index


def measure(index_type: type[Any], documents: list[list[str]], queries: list[list[str]], depth: int) -> dict[str, Any]:
    index = index_type()
    started = time.perf_counter()
    for number, tokens in enumerate(documents):
        index.add(f"id{number}", tokens)
    build = time.perf_counter() - started
    times, answers = [], []
    for query in queries:
        started = time.perf_counter()
        answers.append(index.search(query, depth))
        times.append(time.perf_counter() - started)
    times.sort()
    return {
        "build_s": build,
        "p50_ms": 1000 * statistics.median(times),
        "p95_ms": 1000 * times[int(0.95 * (len(times) - 1))],
        "answers": answers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--depth", type=int, default=50, help="Documents asked for (an error recall asks 50).")
    parser.add_argument("--baseline", type=Path, help="A checkout of older code to compare with.")
    args = parser.parse_args()
    documents = messages(args.count, 3)
    queries = messages(args.queries, 4)
    runs = {"ours": measure(BM25Index, documents, queries, args.depth)}
    if args.baseline:
        runs["baseline"] = measure(baseline_index(args.baseline), documents, queries, args.depth)
        same = sum(
            [score for _, score in a] == [score for _, score in b]
            for a, b in zip(runs["ours"]["answers"], runs["baseline"]["answers"], strict=True)
        )
        print(f"same scores for {same} of {len(queries)} queries")
    print(f"{args.count:,} messages, {len(queries)} queries, depth {args.depth}")
    for name, figures in runs.items():
        print(
            f"{name:9s} build {figures['build_s']:.2f} s  search p50 {figures['p50_ms']:.2f} ms"
            f"  p95 {figures['p95_ms']:.2f} ms"
        )


if __name__ == "__main__":
    main()
