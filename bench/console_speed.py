"""Web console page times over a big store: each page rendered in full (HTTP in-process, HTML out).

The store is filled like ``bench/recall.py`` fills it: a synthetic export with precomputed vectors, loaded by
the CLI import (``--data-dir`` reuses a filled store). Episodes are added straight through the episode service.
Times are wall-clock per request through Starlette's TestClient (routing, data, templates), p50 and max of
``--runs`` requests, with distinct queries so no cache answers a search.

Run alone: ``.venv/bin/python bench/console_speed.py --count 100000 --work /tmp/console-bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def fill_episodes(app: Any, count: int) -> None:
    """``count`` ended episodes of a few events each, a third of them failed with one of three errors."""
    import anyio

    errors = ["ModuleNotFoundError: No module named 'fastapi'", "KeyError: 'user_id'", "TimeoutError: fetch took 30 s"]

    async def fill() -> None:
        for i in range(count):
            started = await app.episodes.start(f"Task {i}: add retries to the order service", {}, "ORCHESTRATOR")
            episode_id = started.episode_id
            app.episodes.record_many_blocking(
                episode_id,
                [
                    ("plan", "ORCHESTRATOR", {"text": "plan it"}),
                    ("code_generation", "WORKER_BACKEND", {"files": ["a.py"]}),
                    (
                        "test_run",
                        "QA_SENTINEL",
                        {
                            "command": "pytest",
                            "returncode": 1 if i % 3 == 0 else 0,
                            **({"error": errors[i % 9 // 3]} if i % 3 == 0 else {}),
                        },
                    ),
                ],
            )
            await app.episodes.end(episode_id, i % 3 != 0, {"tests": 3}, "done", index=i < 200)

    anyio.run(fill)


def _recall_floor(app: Any, asked: list[str]) -> dict[str, float]:
    """The same search's recall alone (no page): what any page over this store must spend."""
    import anyio

    from mcp_memory.models import MEMORY_TYPES

    times = []
    for query in asked:
        start = time.perf_counter()
        anyio.run(lambda q=query: app.memory.recall(q, list(MEMORY_TYPES), 11))
        times.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1), "runs": len(times)}


def timed(client: Any, paths: list[str]) -> dict[str, float]:
    times = []
    for path in paths:
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return {"p50_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1), "runs": len(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000, help="Memories in the store.")
    parser.add_argument("--episodes", type=int, default=1000, help="Episodes to add (once per store).")
    parser.add_argument("--work", help="Folder for the store (reused when it is already filled).")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", help="Write the figures to this file.")
    args = parser.parse_args()

    from recall import load_model, populate, queries
    from starlette.testclient import TestClient

    from mcp_memory.app import MemoryApp
    from mcp_memory.config import Settings
    from mcp_memory.console.app import build_console
    from mcp_memory.console.local import LocalData

    work = Path(args.work or tempfile.mkdtemp(prefix="mcp-memory-console-"))
    data_dir = work / f"store-{args.count // 1000}k"
    if not (data_dir / "chroma").exists():
        populate(data_dir, args.count, load_model(), work)
    settings = Settings(data_dir=data_dir, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    app = MemoryApp(settings)
    start = time.perf_counter()
    app.start_blocking()
    figures: dict[str, Any] = {"count": args.count, "open_seconds": round(time.perf_counter() - start, 2)}
    if app.episodes.store.count() < args.episodes:
        fill_episodes(app, args.episodes - app.episodes.store.count())
    app.episodes.finish_pending_blocking()
    figures["episode_count"] = app.episodes.store.count()
    data = LocalData(app)
    start = time.perf_counter()
    data.trends.peek()  # the first scan of every memory's metadata, in the background
    while data.trends.peek() is None:
        time.sleep(0.1)
    figures["first_scan_seconds"] = round(time.perf_counter() - start, 1)
    asked = [quote_plus(q) for q in queries(args.runs * 4, seed=21)]
    runs = args.runs
    with TestClient(build_console(data, settings), base_url="http://127.0.0.1") as client:
        for warm in ("/?q=warm+up+the+model+and+catalog", "/?q=warm+up+go&language=go", "/failures", "/stats"):
            start = time.perf_counter()
            client.get(warm)
            figures.setdefault("first_requests_ms", {})[warm] = round((time.perf_counter() - start) * 1000, 1)
        figures["recall_only"] = _recall_floor(app, [unquote_plus(q) for q in asked[3 * runs :]])
        figures["search"] = timed(client, [f"/?q={q}" for q in asked[:runs]])
        figures["search_language"] = timed(client, [f"/?q={q}&language=go" for q in asked[runs : 2 * runs]])
        figures["search_page_3"] = timed(client, [f"/?q={q}&page=3" for q in asked[2 * runs : 3 * runs]])
        hits = client.get(f"/?q={asked[-1]}&format=json").json()["results"]
        figures["memory"] = timed(client, [f"/memories/{hit['id']}" for hit in hits[:5]] * max(1, runs // 5))
        figures["episodes"] = timed(client, [f"/episodes?page={p}" for p in range(1, runs + 1)])
        figures["episodes_filtered"] = timed(
            client, [f"/episodes?outcome=failed&role=QA_SENTINEL&page={p}" for p in range(1, runs + 1)]
        )
        ids = [row["info"]["episode_id"] for row in client.get("/episodes?format=json").json()["episodes"]]
        figures["episode"] = timed(client, [f"/episodes/{i}" for i in ids[:runs]])
        figures["stats"] = timed(client, ["/stats"] * runs)
        figures["landing"] = timed(client, ["/"] * runs)
        figures["failures"] = timed(client, ["/failures"] * max(3, runs // 4))
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()
