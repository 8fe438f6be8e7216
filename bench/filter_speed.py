"""Language-filtered recall at 10,000 and 100,000 memories: ours against unfiltered and Chroma's ``where``.

The store is filled through ``MemoryService.remember_many`` (the real write path, so the catalog follows
every write) with code patterns in eight languages of very different shares. Their vectors — and the query
vectors — are precomputed random unit vectors, not model output: the cost of finding neighbours does not
depend on what the vectors mean, and this keeps the model's ~12 ms encode out of the comparison. Every
timed call is a full ``MemoryService.recall`` (what ``recall_similar_patterns`` runs) minus that encode.

    .venv/bin/python bench/filter_speed.py                 # 10,000 and 100,000 (~5 min to fill)
    .venv/bin/python bench/filter_speed.py --sizes 10000
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.memory.drafts import pattern_draft
from mcp_memory.storage.embeddings import DIMENSION, Embedder

SHARES = {
    "python": 0.50, "typescript": 0.25, "go": 0.12, "rust": 0.06, "java": 0.04, "ruby": 0.02,
    "kotlin": 0.008, "cobol": 0.002,
}  # fmt: skip
QUERIES = 40
N_RESULTS = 5


class RandomVectors(Embedder):
    """Unit vectors derived from each text's hash: the same text always gets the same vector; no model."""

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        return [row.tolist() for row in self.encode_batch(texts)]

    def encode_batch(self, texts: Sequence[str]) -> Any:
        rows = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
            rows[i] = vector / np.linalg.norm(vector)
        return rows

    def load(self) -> None:
        return None


def fill(app: MemoryApp, size: int) -> float:
    rng = np.random.default_rng(0)
    languages = rng.choice(list(SHARES), size=size, p=list(SHARES.values()))
    started = time.perf_counter()
    for start in range(0, size, 2000):
        drafts = [
            pattern_draft(f"pattern {i}", f"def pattern_{i}():\n    return {i}\n", str(languages[i]), "", {}, [])
            for i in range(start, min(size, start + 2000))
        ]
        app.memory.remember_many_blocking(drafts)
    return time.perf_counter() - started


def p50(call: Callable[[str], Any]) -> float:
    times = []
    for q in range(QUERIES):
        started = time.perf_counter()
        call(f"query {q}")
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(size: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
        app = MemoryApp(settings, embedder=RandomVectors())
        app.store.open()
        filled = fill(app, size)
        memory, store, embedder = app.memory, app.store, app.embedder

        def recall(language: str | None) -> Callable[[str], Any]:
            return lambda q: anyio.run(lambda: memory.recall(q, ["pattern"], N_RESULTS, language=language))

        def chroma_where(language: str) -> Callable[[str], Any]:
            depth = max(50, N_RESULTS * 3)
            return lambda q: store.query("pattern", embedder.encode([q])[0], depth, {"language": language})

        recall(None)("warm-up")
        unfiltered = p50(recall(None))
        rows = [
            f"\n{size:,} memories (filled in {filled:.0f} s; a first call reads the language's ids, and a rare "
            + "language's vectors)\n",
            "| language | share | first call ms | ours p50 ms | unfiltered p50 ms | Chroma where p50 ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for language, share in SHARES.items():
            started = time.perf_counter()
            recall(language)("first")
            first = (time.perf_counter() - started) * 1000
            ours = p50(recall(language))
            where = p50(chroma_where(language))
            rows.append(f"| {language} | {share:.1%} | {first:.1f} | {ours:.1f} | {unfiltered:.1f} | {where:.1f} |")
            print(rows[-1], file=sys.stderr)
        return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args(argv)
    lines: list[str] = []
    for size in (int(s) for s in args.sizes.split(",")):
        lines += measure(size)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
