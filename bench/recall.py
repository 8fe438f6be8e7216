"""Warm recall through MCP over stdio at a given store size, against the floor measured in the same run.

The floor is what any server must spend: one query encode and one Chroma query called directly (same
collection, filter and candidate count as the tool), plus a bare SDK server's no-op round trip over stdio.
Stores are filled by importing a synthetic export with precomputed vectors (bench/synthetic.py), through
the same CLI import people use.

Run alone: ``.venv/bin/python bench/recall.py --count 10000``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mcp_timing import (
    bare_server,
    connect,
    disk_bytes,
    memory_server,
    percentiles,
    server_rss_bytes,
    timed_calls,
)
from synthetic import (
    FILTER_LANGUAGE,
    LANGUAGES,
    NOUNS,
    VERBS,
    family_vectors,
    import_export,
    representatives,
    write_export,
)

from mcp_memory.storage.embeddings import packaged_model_path


def queries(count: int, seed: int = 11) -> list[str]:
    """Distinct task descriptions such as an agent sends (never repeated, so no cache answers them)."""
    rng = random.Random(seed)
    shapes = [
        "{verb} {noun}s with retries",
        "how do we {verb} the {noun} before saving",
        "pattern to {verb} {noun} requests in {lang}",
        "{verb} {noun} and {verb2} {noun2} in one transaction",
        "avoid duplicate {noun}s when we {verb} them",
    ]
    seen: set[str] = set()
    while len(seen) < count:
        seen.add(
            rng.choice(shapes).format(
                verb=rng.choice(VERBS).replace("_", " "),
                noun=rng.choice(NOUNS),
                verb2=rng.choice(VERBS).replace("_", " "),
                noun2=rng.choice(NOUNS),
                lang=rng.choice(LANGUAGES)[0],
            )
            + f" #{len(seen)}"
        )
    return sorted(seen)


def load_model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    return SentenceTransformer(str(packaged_model_path()), device="cpu")


def populate(data_dir: Path, count: int, model: Any, work: Path) -> dict[str, Any]:
    """Fill ``data_dir`` with ``count`` synthetic memories by a CLI import of precomputed vectors."""
    vectors = family_vectors(representatives(), lambda texts: model.encode(texts, normalize_embeddings=True))
    path = work / f"synthetic-{count}.jsonl"
    start = time.perf_counter()
    write_export(path, count, vectors)
    written = time.perf_counter() - start
    report, seconds = import_export(path, data_dir, {**os.environ, "HF_HUB_OFFLINE": "1"})
    file_bytes = path.stat().st_size
    path.unlink()
    return {
        "count": count,
        "file_seconds": written,
        "import_seconds": seconds,
        "import_rate": count / seconds,
        "export_file_bytes": file_bytes,
        "added": report["memories_added"],
    }


async def measure_ours(data_dir: Path, asked: list[str], language: str) -> dict[str, Any]:
    """p50/p95 of recall_similar_patterns unfiltered and filtered, search_memory, and the server's RSS."""
    half = len(asked) // 2
    async with connect(memory_server(data_dir)) as client:
        start = time.perf_counter()
        await client.call_tool("recall_similar_patterns", {"description": "warm up the server"})
        first = time.perf_counter() - start
        plain = await timed_calls(client, [("recall_similar_patterns", {"description": q}) for q in asked[:half]])
        filtered = await timed_calls(
            client, [("recall_similar_patterns", {"description": q, "language": language}) for q in asked[half:]]
        )
        everywhere = await timed_calls(client, [("search_memory", {"query": q}) for q in asked[:20]], warmup=0)
        rss = server_rss_bytes()
    return {
        "first_recall_s": first,
        "plain": percentiles(plain),
        "filtered": percentiles(filtered),
        "search_all": percentiles(everywhere),
        "rss_bytes": rss,
    }


async def bare_round_trip(runs: int) -> tuple[float, float]:
    async with connect(bare_server()) as client:
        return percentiles(await timed_calls(client, [("noop", {})] * runs, warmup=5))


def measure_floor(data_dir: Path, asked: list[str], language: str, model: Any) -> dict[str, Any]:
    """One encode plus one direct Chroma query per question, same collection, filter and candidates as the tool."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from mcp_memory.memory.service import CANDIDATE_FACTOR
    from mcp_memory.storage.embeddings import make_chroma_embedding_function

    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    from mcp_memory.storage.embeddings import Embedder

    collection = client.get_collection("code_patterns", embedding_function=make_chroma_embedding_function(Embedder()))
    include = ["documents", "metadatas", "distances"]
    half = len(asked) // 2
    results: dict[str, Any] = {}
    for label, chunk, where in (("plain", asked[:half], None), ("filtered", asked[half:], {"language": language})):
        collection.query(query_embeddings=model.encode(["warm"], normalize_embeddings=True), n_results=3, where=where)
        times = []
        for question in chunk:
            start = time.perf_counter()
            vector = model.encode([question], normalize_embeddings=True)
            collection.query(query_embeddings=vector, n_results=3 * CANDIDATE_FACTOR, where=where, include=include)
            times.append((time.perf_counter() - start) * 1000)
        results[label] = percentiles(times)
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()  # let go of the index before the server loads its own
    return results


def run(
    count: int, work: Path, n_queries: int, model: Any | None = None, keep: bool = False, existing: bool = False
) -> dict[str, Any]:
    model = model or load_model()
    data_dir = work / f"store-{count}"
    figures: dict[str, Any] = {"count": count}
    if not existing:
        figures["populate"] = populate(data_dir, count, model, work)
    asked = queries(n_queries)
    figures["floor_direct"] = measure_floor(data_dir, asked, FILTER_LANGUAGE, model)
    figures["bare_noop"] = anyio.run(bare_round_trip, n_queries)
    figures["ours"] = anyio.run(measure_ours, data_dir, queries(n_queries, seed=12), FILTER_LANGUAGE)
    figures["disk_bytes"] = disk_bytes(data_dir)
    for label in ("plain", "filtered"):
        direct, noop = figures["floor_direct"][label], figures["bare_noop"]
        figures[f"floor_{label}"] = (direct[0] + noop[0], direct[1] + noop[1])
        figures[f"ratio_{label}_p50"] = figures["ours"][label][0] / figures[f"floor_{label}"][0]
    if not keep:
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--work", help="Folder for the store and files (default: a temporary one).")
    parser.add_argument("--keep", action="store_true", help="Keep the filled store.")
    parser.add_argument("--existing", action="store_true", help="Measure the store kept by an earlier --keep run.")
    parser.add_argument("--json", help="Write the figures to this file.")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="mcp-memory-recall-"))
    work.mkdir(parents=True, exist_ok=True)
    figures = run(args.count, work, args.queries, keep=args.keep or args.existing, existing=args.existing)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()
