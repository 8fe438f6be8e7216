"""Store latency through MCP over stdio, one at a time and many at once, against encode + Chroma add.

The floor for one store is one encode and one single-item Chroma add called directly, plus a bare SDK
server's no-op round trip. Concurrent stores are many calls in flight on one session, as a swarm's
server sees them.

Run alone: ``.venv/bin/python bench/stores.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mcp_timing import bare_server, connect, memory_server, percentiles, timed_calls


def error_arguments(tag: str, i: int) -> dict[str, Any]:
    return {
        "error_message": f"ConnectionResetError: [Errno 104] peer reset while uploading part {i} ({tag})",
        "context": f"uploading report {i} to the object store",
        "resolution": f"retry with backoff; part size {i % 7 + 5} MB",
        "success": True,
    }


async def measure_ours(data_dir: Path, sequential: int, concurrent: int, in_flight: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    async with connect(memory_server(data_dir)) as client:
        await client.call_tool("recall_error_solutions", {"error_message": "warm up"})
        single = await timed_calls(
            client, [("store_error_resolution", error_arguments(tag, i)) for i in range(sequential)], warmup=0
        )
        limiter = anyio.Semaphore(in_flight)

        async def one(i: int) -> None:
            async with limiter:
                result = await client.call_tool("store_error_resolution", error_arguments(tag, 100_000 + i))
                assert not result.is_error, result.content

        start = time.perf_counter()
        async with anyio.create_task_group() as group:
            for i in range(concurrent):
                group.start_soon(one, i)
        seconds = time.perf_counter() - start
    return {
        "single": percentiles(single),
        "single_per_s": 1000 / percentiles(single)[0],
        "concurrent_per_s": concurrent / seconds,
        "in_flight": in_flight,
        "concurrent": concurrent,
    }


def measure_floor(data_dir: Path, runs: int) -> tuple[float, float]:
    """One encode plus one single-item Chroma add, called directly on a store of the same size."""
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient
    from chromadb.config import Settings as ChromaSettings

    from mcp_memory.storage.embeddings import Embedder, make_chroma_embedding_function

    embedder = Embedder()
    embedder.load()
    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection(
        "errors", embedding_function=make_chroma_embedding_function(embedder), metadata={"hnsw:space": "cosine"}
    )
    model = embedder.encoder
    tag = uuid.uuid4().hex[:8]
    times = []
    for i in range(runs):
        text = error_arguments(tag, 200_000 + i)["error_message"]
        start = time.perf_counter()
        vector = model.encode([text], 1, 1)
        collection.add(ids=[f"floor-{tag}-{i}"], documents=[text], metadatas=[{"type": "error"}], embeddings=vector)
        times.append((time.perf_counter() - start) * 1000)
    collection.delete(ids=[f"floor-{tag}-{i}" for i in range(runs)])
    SharedSystemClient.clear_system_cache()
    return percentiles(times)


async def bare(runs: int) -> tuple[float, float]:
    async with connect(bare_server()) as client:
        return percentiles(await timed_calls(client, [("noop", {})] * runs, warmup=5))


def run(data_dir: Path, sequential: int = 60, concurrent: int = 200, in_flight: int = 16) -> dict[str, Any]:
    data_dir.mkdir(parents=True, exist_ok=True)
    direct = measure_floor(data_dir, sequential)
    noop = anyio.run(bare, sequential)
    ours = anyio.run(measure_ours, data_dir, sequential, concurrent, in_flight)
    floor = (direct[0] + noop[0], direct[1] + noop[1])
    return {
        "floor_direct": direct,
        "bare_noop": noop,
        "floor": floor,
        "ours": ours,
        "ratio_single_p50": ours["single"][0] / floor[0],
        "concurrent_vs_floor_rate": ours["concurrent_per_s"] / (1000 / floor[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", help="A store to write into (default: a new empty one).")
    args = parser.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="mcp-memory-stores-"))
    print(json.dumps(run(data_dir), indent=2))


if __name__ == "__main__":
    main()
