"""Episodic memory at scale: record_event latency and recall_similar_episodes latency with a large history.

Loads N synthetic episodes x M events (default 10,000 x 50) through the episode service — the events of
each episode in one transaction, the summaries embedded in batches — then measures, through the same
async service methods the MCP tools call:

- record_event p50/p95: one writer; eight concurrent writers; one writer while recalls keep the model busy;
- recall_similar_episodes p50/p95 for short and task-length descriptions, all and success_only.

Synthetic tasks are built from templates over 40 projects, 30 features and 8 frameworks, so similar
tasks exist (one in five stored tasks is paragraph-length); the events look like agent steps (plans,
edits, commands with exit codes, tracebacks); 30% of the episodes fail.

    .venv/bin/python bench/episodes.py [--episodes 10000] [--events 50] [--data-dir DIR] [--database-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.episodes.digest import EpisodeDigest, embed_text
from mcp_memory.episodes.index import digest_of
from mcp_memory.storage.embeddings import DIMENSION

PROJECTS = [
    f"{a}-{b}"
    for a in ("billing", "search", "auth", "catalog", "payments", "inventory", "chat", "reports")
    for b in ("api", "worker", "web", "cli", "sdk")
]
FEATURES = [
    "rate limiting",
    "JWT authentication",
    "pagination",
    "CSV export",
    "full-text search",
    "retry with backoff",
    "webhook delivery",
    "audit logging",
    "soft delete",
    "file uploads",
    "caching layer",
    "email notifications",
    "role-based access control",
    "database migrations",
    "health checks",
    "request tracing",
    "bulk import",
    "password reset",
    "OAuth2 login",
    "multi-tenancy",
    "feature flags",
    "background jobs",
    "input validation",
    "dark mode",
    "i18n",
    "GraphQL endpoint",
    "websocket updates",
    "PDF invoices",
    "metrics dashboard",
    "backups",
]
FRAMEWORKS = ["FastAPI", "Django", "Flask", "Express", "Spring Boot", "Rails", "Gin", "Actix"]
VERBS = ["Add", "Implement", "Fix", "Refactor", "Speed up", "Harden"]
MODULES = ["fastapi", "httpx", "redis", "celery", "boto3", "sqlalchemy", "pydantic_settings", "jwt"]
ROLES = ["WORKER_BACKEND", "WORKER_FRONTEND", "QA_SENTINEL", "CONSENSUS_JUDGE"]


def task_text(rng: random.Random, long: bool) -> str:
    project, feature, framework = rng.choice(PROJECTS), rng.choice(FEATURES), rng.choice(FRAMEWORKS)
    text = f"{rng.choice(VERBS)} {feature} in the {project} service ({framework})."
    if long:
        text += (
            f" Users of {project} report problems that {feature} should solve; keep the public API stable, add "
            f"tests for the new behaviour and document the configuration. The {framework} app lives under "
            f"src/{project.replace('-', '_')}/ and its tests under tests/. Measure before and after, and make sure "
            "the change works with the existing deployment scripts and the CI pipeline."
        )
    return text


def events(rng: random.Random, task: str, count: int, fails: bool) -> list[tuple[str, str, dict[str, Any]]]:
    package = task.split(" service")[0].rsplit(" ", 1)[-1].replace("-", "_")
    files = [f"src/{package}/{name}.py" for name in rng.sample(["api", "models", "service", "config", "utils"], 2)]
    steps: list[tuple[str, str, dict[str, Any]]] = [
        (
            "plan",
            "WORKER_BACKEND",
            {"thought": f"Change {' and '.join(files)}, then run the tests.", "files": files},
        )
    ]
    for i in range(1, count - 1):
        kind = rng.random()
        if kind < 0.4:
            steps.append(
                (
                    "code_generation",
                    rng.choice(ROLES[:2]),
                    {"file": rng.choice(files), "lines": rng.randint(5, 120), "approach": "incremental"},
                )
            )
        elif kind < 0.8:
            code = 0 if rng.random() < 0.8 else 1
            steps.append(
                (
                    "command",
                    "WORKER_BACKEND",
                    {
                        "command": f"pytest tests/ -k step{i}",
                        "returncode": code,
                        "output": f"{rng.randint(1, 90)} passed" if code == 0 else "1 failed",
                    },
                )
            )
        else:
            steps.append(("review", "CONSENSUS_JUDGE", {"score": round(rng.random(), 2), "notes": "looks fine"}))
    if fails:
        module = rng.choice(MODULES)
        steps.append(
            (
                "test_run",
                "QA_SENTINEL",
                {
                    "returncode": 1,
                    "error": (
                        "Traceback (most recent call last):\n"
                        f'  File "/srv/{package}/app.py", line {rng.randint(1, 300)}\n'
                        f"ModuleNotFoundError: No module named '{module}'"
                    ),
                },
            )
        )
    else:
        steps.append(("test_run", "QA_SENTINEL", {"returncode": 0, "output": f"{rng.randint(20, 200)} passed"}))
    return steps[:count]


def load(app: MemoryApp, episodes: int, per_episode: int, rng: random.Random) -> dict[str, float]:
    """Record and end every episode, then embed all summaries in batches; returns the phase timings."""
    started = time.perf_counter()
    for n in range(episodes):
        task = task_text(rng, long=rng.random() < 0.2)
        fails = rng.random() < 0.3
        episode_id = app.episodes.start_blocking(task, {"n": n}, "ORCHESTRATOR").episode_id
        app.episodes.record_many_blocking(episode_id, events(rng, task, per_episode, fails))
        app.episodes.end_blocking(episode_id, not fails, {"duration_s": rng.randint(30, 900)}, "")
        if (n + 1) % 1000 == 0:
            print(f"  recorded {n + 1:,} episodes ({time.perf_counter() - started:.0f} s)", flush=True)
    recorded = time.perf_counter() - started
    indexed = 0
    while rows := app.episodes.store.pending(500):  # what finish_pending_blocking does, with progress
        app.episodes.index.add(rows)
        indexed += len(rows)
        if indexed % 2000 == 0:
            print(
                f"  embedded {indexed:,} summaries ({time.perf_counter() - started - recorded:.0f} s)",
                flush=True,
            )
    return {"record": recorded, "index": time.perf_counter() - started - recorded}


def summary_word_pieces(app: MemoryApp, sample: int = 200) -> float:
    """Mean length of the embedded summaries, in the model's word pieces (it reads at most 256)."""
    rows, _ = app.episodes.store.recent("ended", None, sample)
    texts = [embed_text(row.task, row.summary, digest_of(row) or EpisodeDigest()) for row in rows]
    return statistics.mean(min(256, app.embedder.count_word_pieces(text)) for text in texts)


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)  # ms per call
    cpu: list[float] = field(default_factory=list)  # process CPU ms per call, one caller at a time only


async def timed(calls: int, call: Callable[[int], Awaitable[Any]], concurrency: int = 1) -> Timing:
    """Milliseconds per call, ``concurrency`` callers at once."""
    timing = Timing()

    async def worker(offset: int) -> None:
        for i in range(offset, calls, concurrency):
            begin, cpu = time.perf_counter(), time.process_time()
            await call(i)
            timing.wall.append((time.perf_counter() - begin) * 1000)
            if concurrency == 1:
                timing.cpu.append((time.process_time() - cpu) * 1000)

    async with anyio.create_task_group() as group:
        for offset in range(concurrency):
            group.start_soon(worker, offset)
    return timing


def row(name: str, timing: Timing, concurrent: bool = False) -> str:
    """A table row; CPU time is the load-independent part (a busy machine stretches only the wall time)."""
    ordered = sorted(timing.wall)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    cpu = "-" if concurrent or not timing.cpu else f"{statistics.median(timing.cpu):.2f}"
    return f"| {name:<52} | {len(ordered):>6,} | {statistics.median(ordered):>8.2f} | {p95:>8.2f} | {cpu:>8} |"


async def measure(app: MemoryApp, rng: random.Random) -> list[str]:
    open_ids = [app.episodes.start_blocking(task_text(rng, False), {}, "ORCHESTRATOR").episode_id for _ in range(64)]
    data = {
        "command": "pytest -q",
        "returncode": 0,
        "output": "42 passed in 3.1s",
        "files": ["src/app/api.py"],
    }

    async def record(i: int) -> None:
        await app.episodes.record(open_ids[i % len(open_ids)], "command", ROLES[i % 4], data)

    def queries(long: bool) -> list[str]:
        """Fresh descriptions for each row, so no row is served from the encoder's cache."""
        return [f"{task_text(rng, long)} Ticket {rng.randint(10_000, 99_999)}." for _ in range(100)]

    def recall(texts: list[str], success_only: bool = False) -> Callable[[int], Awaitable[Any]]:
        return lambda i: app.episodes.recall_similar(texts[i % len(texts)], 3, success_only)

    await app.episodes.recall_similar(task_text(rng, False), 3, False)  # warm: model loaded, collection open
    rows = [row("record_event, 1 writer", await timed(2000, record))]
    rows.append(row("record_event, 8 concurrent writers", await timed(2000, record, concurrency=8), True))
    busy = Timing()

    async def recalls_while_recording() -> None:
        busy.wall.extend((await timed(200, recall(queries(True) + queries(True)), 2)).wall)

    async with anyio.create_task_group() as group:
        group.start_soon(recalls_while_recording)
        during = await timed(1000, record)
    rows.append(row("record_event, 1 writer while 2 callers recall", during, True))
    rows.append(row("recall_similar_episodes, short task (~15 words)", await timed(100, recall(queries(False)))))
    rows.append(row("recall_similar_episodes, task-length (~80 words)", await timed(100, recall(queries(True)))))
    rows.append(
        row(
            "recall_similar_episodes, task-length, success_only",
            await timed(100, recall(queries(True), True)),
        )
    )
    rows.append(row("(the recalls running during the third row)", busy, True))
    return rows


class HashedVectors:
    """Stand-in encoder for loading the history only: a unit vector per text, derived from its hash."""

    def encode(self, texts: list[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).standard_normal(DIMENSION)
            vectors.append((vector / np.linalg.norm(vector)).tolist())
        return vectors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=50, help="events per episode")
    parser.add_argument("--data-dir", type=Path, help="keep the store here (default: a temporary directory)")
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: the SQLite file in the data dir)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--hashed-history",
        action="store_true",
        help="give the loaded history hash-derived vectors instead of model embeddings (a latency-only run: "
        "the model still embeds every query; saves the ~10-20 summaries/s embedding of the load)",
    )
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data_dir or Path(scratch)
        app = MemoryApp(
            Settings(data_dir=data_dir, database_url=args.database_url, seed_on_start=False, _env_file=None)
        )  # type: ignore[call-arg]
        print(f"loading {args.episodes:,} episodes x {args.events} events into {data_dir} ...", flush=True)
        if args.hashed_history:
            app.episodes.index.embedder = HashedVectors()  # type: ignore[assignment]
        phases = load(app, args.episodes, args.events, rng)
        app.episodes.index.embedder = app.embedder
        pieces = summary_word_pieces(app)
        rows = anyio.run(measure, app, rng)
        size = app.database.size_on_disk()

    total_events = args.episodes * args.events
    print()
    print(
        f"history: {args.episodes:,} episodes, {total_events:,} events; {app.database.shown} "
        f"{'' if size is None else f'{size / 1e6:,.0f} MB'}"
    )
    print(
        f"load: events + digests {phases['record']:.0f} s ({total_events / phases['record']:,.0f} events/s "
        f"in batches), summaries embedded {phases['index']:.0f} s ({args.episodes / phases['index']:,.1f}/s, "
        f"{pieces:.0f} word pieces on average)"
    )
    if args.hashed_history:
        print("history vectors: hash-derived (--hashed-history); queries embedded by the model")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print()
    print(f"| {'measurement':<52} | {'calls':>6} | {'p50 ms':>8} | {'p95 ms':>8} | {'CPU p50':>8} |")
    print(f"| {'-' * 52} | {'-' * 5}: | {'-' * 7}: | {'-' * 7}: | {'-' * 7}: |")
    for line in rows:
        print(line)


if __name__ == "__main__":
    main()
