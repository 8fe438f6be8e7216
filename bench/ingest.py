"""Bulk import throughput against the raw encoder (``Embedder.encoder``) on the same texts at its best batch size
and threads.

The import is the product's own (``transfer.import_file``: parse, check, rebuild each memory's embedding
text, encode in batches, write to Chroma in a second thread), run in-process on an already loaded model,
the same as the raw encode it is compared with. Texts are synthetic memories (bench/synthetic.py).

Run alone: ``.venv/bin/python bench/ingest.py --count 10000``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from synthetic import draft, write_export

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.storage.embeddings import Embedder
from mcp_memory.transfer.importing import import_file


def raw_rate(model: Any, texts: list[str], batch_size: int, threads: int) -> float:
    start = time.perf_counter()
    model.encode(texts, batch_size, threads)
    return len(texts) / (time.perf_counter() - start)


def run(count: int, work: Path, seed: int = 23) -> dict[str, Any]:
    embedder = Embedder()
    embedder.load()
    model = embedder.encoder  # the very model the import uses
    texts = [draft(i, seed)[0].embed_text for i in range(count)]
    sample = texts[: min(600, count)]
    raw_rate(model, sample[:50], 32, 1)  # warm
    grid = {(b, t): raw_rate(model, sample, b, t) for b in (16, 32, 64, 128) for t in (1, 2)}
    (best_batch, best_threads), _ = max(grid.items(), key=lambda pair: pair[1])
    raw = raw_rate(model, texts, best_batch, best_threads)
    path = write_export(work / f"ingest-{count}.jsonl", count, None, seed)
    settings = Settings(data_dir=work / f"ingest-store-{count}", seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    app = MemoryApp(settings, embedder=embedder)
    start = time.perf_counter()
    report = import_file(app, path)
    seconds = time.perf_counter() - start
    assert report.memories_added == count, report
    return {
        "count": count,
        "raw_grid": {f"b{b}_t{t}": rate for (b, t), rate in grid.items()},
        "raw_best": {"batch_size": best_batch, "threads": best_threads, "rate": raw},
        "import_rate": count / seconds,
        "import_seconds": seconds,
        "embedded": report.embedded,
        "ratio": (count / seconds) / raw,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    print(json.dumps(run(args.count, Path(tempfile.mkdtemp(prefix="mcp-memory-ingest-"))), indent=2))


if __name__ == "__main__":
    main()
