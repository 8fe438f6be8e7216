"""The database as the system of record: operation latency on SQLite and PostgreSQL, recall before and after it,
and throughput of several servers sharing one database and one Chroma server.

- ops: through the service layer (``MemoryApp``, the real model), one call at a time, SQLite and PostgreSQL
  alternating call by call: a new store (``remember_blocking`` of a fresh error resolution: insert, encode,
  vector add), the same store again (a duplicate: one counter bump, no encode), ``report_outcome_blocking`` (one
  counter update plus an outcome-log row) and ``record_event`` (one event appended, as ``record_many_blocking``
  with one event: the same checks and the same append). The episode store keeps its own SQLite file unless
  ``--episodes-on-database`` says it follows the memory database; without the flag ``record_event`` is measured
  on SQLite only.
- recall: ``latency.py``'s method (whole ``MemoryService.recall``; short and task-length queries; error and pattern
  memories) at 10,000 of each, on the code before the database (``--before``: a checkout of the commit before it)
  and on this tree. Each runs in its own long-lived process on its own store holding the same memories and
  vectors; they answer the same queries, class by class, alternating (before, after, then after, before) so the
  machine's load falls on both alike.
- servers: 1, 2 and 3 ``mcp-memory serve --transport http`` processes with empty data dirs, sharing one
  ``chroma run`` and one PostgreSQL database, all on loopback; 12 clients spread over them, each storing and then
  recalling a fixed number of times (no new call after the time bound): stores/s and recalls/s.

    git worktree add /tmp/bench-before b6f87d3          # the code before the database (read only)
    PYTHONPATH=. .venv/bin/python bench/database.py --before /tmp/bench-before            # ~15 min
    PYTHONPATH=. .venv/bin/python bench/database.py --part ops --quick                    # one part, smaller
    git worktree remove --force /tmp/bench-before
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import anyio
import latency
import numpy as np
from mcp_timing import _env, percentiles
from stores import error_arguments

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.memory.drafts import error_draft
from mcp_memory.storage.embeddings import Embedder

RESULT = "RESULT "  # prefix of a recall worker's answer lines on stdout


def load() -> float:
    return os.getloadavg()[0]


def tests_module(name: str) -> Any:
    """A helper from the test suite (PostgreSQL cluster, ``chroma run``, HTTP servers); the checkout's root goes
    last on the path, so ``mcp_memory`` still comes from PYTHONPATH."""
    import importlib

    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    return importlib.import_module(f"tests.{name}")


def durable_cluster() -> Any:
    """The test suite's private PostgreSQL cluster, restarted with PostgreSQL's default durability (the suite
    turns fsync off): SQLite commits with synchronous=FULL, so with both a call returns once its write is on disk."""
    postgres = tests_module("postgres")
    cluster = postgres.start_cluster()
    try:
        cluster.stop()
        cluster._run(
            "pg_ctl",
            "-D",
            str(cluster.folder / "data"),
            "-w",
            "-t",
            "60",
            "-l",
            str(cluster.folder / "log"),
            "-o",
            f"-p {cluster.port} -k {cluster.folder} -c listen_addresses=127.0.0.1",
            "start",
        )
    except BaseException:
        postgres.remove_cluster(cluster)
        raise
    return cluster


def new_app(data_dir: Path, embedder: Embedder, database_url: str | None = None) -> MemoryApp:
    settings = Settings(data_dir=data_dir, database_url=database_url, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    app = MemoryApp(settings, embedder=embedder)
    app.store.open()
    return app


def p50_p95(values: list[float]) -> str:
    p50, p95 = percentiles(values)
    return f"{p50:.1f} / {p95:.1f}"


# -- ops ---------------------------------------------------------------------------------------------------


def part_ops(calls: int, prefill: int, episodes_on_database: bool) -> dict[str, Any]:
    postgres = tests_module("postgres")
    cluster = durable_cluster()
    try:
        url = cluster.create_database("ops")
        embedder = Embedder(threads=1, batch_threads=2)
        embedder.load()
        with tempfile.TemporaryDirectory(prefix="mcp-memory-bench-ops-") as tmp:
            apps = {
                "SQLite": new_app(Path(tmp) / "sqlite", embedder),
                "PostgreSQL": new_app(Path(tmp) / "pg", embedder, url),
            }
            pool, _ = latency.corpus()
            for app in apps.values():
                latency.fill_patterns(app, pool, prefill)
            with_events = set(apps) if episodes_on_database else {"SQLite"}
            episodes = {
                name: app.episodes.start_blocking("benchmark the database", {}, "bench").episode_id
                for name, app in apps.items()
                if name in with_events
            }
            times: dict[tuple[str, str], list[float]] = {}
            tag = uuid.uuid4().hex[:8]
            started_load = load()
            for i in range(-3, calls):  # three untimed rounds first
                order = list(apps) if i % 2 == 0 else list(reversed(apps))
                for name in order:
                    app = apps[name]
                    draft = error_draft(**error_arguments(tag, i + 10))
                    steps: list[tuple[str, Callable[[], Any]]] = [
                        ("new store", lambda app=app, draft=draft: app.memory.remember_blocking(draft)),
                        ("duplicate store", lambda app=app, draft=draft: app.memory.remember_blocking(draft)),
                    ]
                    results: list[Any] = []
                    for label, step in steps:
                        start = time.perf_counter()
                        results.append(step())
                        if i >= 0:
                            times.setdefault((name, label), []).append((time.perf_counter() - start) * 1000)
                    assert not results[0].duplicate and results[1].duplicate
                    start = time.perf_counter()
                    app.memory.report_outcome_blocking(results[0].id, i % 4 != 0, f"run {i}")
                    if i >= 0:
                        times.setdefault((name, "report_outcome"), []).append((time.perf_counter() - start) * 1000)
                    if name in episodes:
                        start = time.perf_counter()
                        app.episodes.record_many_blocking(
                            episodes[name], [("test_run", "coder", {"passed": i % 3 != 0})]
                        )
                        if i >= 0:
                            times.setdefault((name, "record_event"), []).append((time.perf_counter() - start) * 1000)
            separate_file = (Path(tmp) / "pg" / "episodes.sqlite3").exists()
            for app in apps.values():  # the last stores' vectors land before their folder goes
                app.store.settle()
        return {
            "times": times,
            "calls": calls,
            "prefill": prefill,
            "load": (started_load, load()),
            "episodes_on_database": episodes_on_database,
            "pg_episodes_in_own_file": separate_file,
        }
    finally:
        postgres.remove_cluster(cluster)


def print_ops(figures: dict[str, Any]) -> None:
    times = figures["times"]
    start, end = figures["load"]
    print(
        f"\nOperation latency, {figures['calls']} calls each, {figures['prefill']:,} memories stored before "
        f"(load {start:.1f} -> {end:.1f} on {os.cpu_count()} cores)"
    )
    print("| operation | SQLite p50 / p95 ms | PostgreSQL p50 / p95 ms | PostgreSQL / SQLite p50 |")
    print("| --- | ---: | ---: | ---: |")
    for label in ("new store", "duplicate store", "report_outcome", "record_event"):
        sqlite, pg = times.get(("SQLite", label)), times.get(("PostgreSQL", label))
        if sqlite is None:
            continue
        if pg is None:
            print(f"| {label} (episodes.sqlite3) | {p50_p95(sqlite)} | not measured | - |")
            continue
        ratio = percentiles(pg)[0] / percentiles(sqlite)[0]
        print(f"| {label} | {p50_p95(sqlite)} | {p50_p95(pg)} | {ratio:.2f}x |")
    if figures["episodes_on_database"] and figures["pg_episodes_in_own_file"]:
        print("WARNING: the PostgreSQL app wrote episodes.sqlite3: its record_event column measured SQLite.")


# -- recall before and after ------------------------------------------------------------------------------


def recall_worker(data_dir: Path) -> None:
    """Serve fill and time commands (JSON lines on stdin) on one store, with whatever ``mcp_memory`` is on the path."""
    import mcp_memory

    embedder = Embedder(threads=1, batch_threads=2)
    embedder.load()
    app = new_app(data_dir, embedder)

    def reply(answer: dict[str, Any]) -> None:
        print(RESULT + json.dumps(answer), flush=True)

    reply({"code": mcp_memory.__file__})
    for line in sys.stdin:
        command = json.loads(line)
        if command["do"] in ("encode", "fill"):
            started = time.perf_counter()
            count, vectors_path = command["count"], Path(command["vectors"])
            pool, names = latency.corpus()
            rows = latency.error_rows(count, names, random.Random(0))
            if command["do"] == "encode":
                texts = [error_draft(m, c, r, True).embed_text for m, c, r in rows]
                vectors = [np.asarray(embedder.encode_batch(texts[i : i + 256])) for i in range(0, len(texts), 256)]
                partial = vectors_path.with_name(vectors_path.name + ".partial")
                with partial.open("wb") as out:
                    np.save(out, np.concatenate(vectors).astype(np.float32))
                partial.replace(vectors_path)
            else:
                latency.fill_errors(app, rows, np.load(vectors_path))
                latency.fill_patterns(app, pool, count)
            reply({"seconds": time.perf_counter() - started})
        else:
            whole, again, encodes = latency.recall_times(app, command["type"], command["queries"])
            reply({"whole": whole, "again": again, "encode": encodes})


class Worker:
    """A recall worker process on ``tree``'s code."""

    def __init__(self, tree: Path, data_dir: Path, log: Path) -> None:
        self._log = open(log, "wb")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--recall-worker", str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=_env(PYTHONPATH=str(tree)),
            cwd=str(data_dir.parent),
        )
        self.code = self.answer()["code"]

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self.answer()

    def answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(RESULT):
                answer: dict[str, Any] = json.loads(line[len(RESULT) :])
                return answer
        raise RuntimeError(f"recall worker exited; see {self._log.name}")

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def part_recall(before: Path, memories: int, queries: int, rounds: int) -> dict[str, Any]:
    trees = {"before": before.resolve(), "after": ROOT}
    sets = latency.query_sets(queries * rounds, random.Random(1))
    # The error texts are encoded once, by a process of their own (so both stores hold the same vectors and neither
    # worker ran the batch), and kept for later runs: the rows are the same on every run.
    vectors = Path(tempfile.gettempdir()) / f"mcp-memory-bench-error-vectors-{memories}.npy"
    with tempfile.TemporaryDirectory(prefix="mcp-memory-bench-recall-") as tmp, ExitStack() as stack:
        if not vectors.exists():
            (Path(tmp) / "encode").mkdir()
            encoder = Worker(ROOT, Path(tmp) / "encode" / "store", Path(tmp) / "encode.log")
            seconds = encoder.ask(do="encode", count=memories, vectors=str(vectors))["seconds"]
            encoder.close()
            print(f"encoded {memories:,} error texts in {seconds:.0f} s into {vectors}", file=sys.stderr)
        workers: dict[str, Worker] = {}
        for name in ("before", "after"):
            (Path(tmp) / name).mkdir()
            workers[name] = Worker(trees[name], Path(tmp) / name / "store", Path(tmp) / f"{name}.log")
            stack.callback(workers[name].close)
            seconds = workers[name].ask(do="fill", count=memories, vectors=str(vectors))["seconds"]
            print(
                f"{name}: {workers[name].code}, filled {memories:,} errors and patterns in {seconds:.0f} s",
                file=sys.stderr,
            )
        figures: dict[tuple[str, str, str], dict[str, list[float]]] = {}
        round_loads: list[tuple[float, float]] = []
        round_p50: list[dict[str, float]] = []
        for r in range(rounds):
            order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
            started_load, pooled = load(), {name: [] for name in order}
            for (kind, length), (memory_type, all_queries) in sets.items():
                chunk = all_queries[r * queries : (r + 1) * queries]
                for name in order:
                    answer = workers[name].ask(do="time", type=memory_type, queries=chunk)
                    slot = figures.setdefault((name, kind, length), {"whole": [], "again": [], "encode": []})
                    for key in slot:
                        slot[key] += answer[key]
                    pooled[name] += answer["whole"]
            round_loads.append((started_load, load()))
            round_p50.append({name: statistics.median(values) for name, values in pooled.items()})
            print(
                f"round {r + 1}/{rounds} ({' then '.join(order)}): after/before p50 "
                f"{round_p50[-1]['after'] / round_p50[-1]['before']:.2f}, load {load():.1f}",
                file=sys.stderr,
            )
    return {
        "figures": figures,
        "memories": memories,
        "queries": queries * rounds,
        "rounds": rounds,
        "round_loads": round_loads,
        "round_p50": round_p50,
    }


def print_recall(result: dict[str, Any]) -> None:
    figures = result["figures"]
    loads = [value for pair in result["round_loads"] for value in pair]
    print(
        f"\nRecall at {result['memories']:,} error and {result['memories']:,} pattern memories, before and after "
        f"the database: {result['queries']} queries per row, {result['rounds']} alternating rounds "
        f"(load {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores)"
    )
    print(
        "| recall | query | before p50 / p95 ms | after p50 / p95 ms | after / before p50 "
        "| without the encode: before / after p50 ms | encode alone: before / after p50 ms |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    worst = 0.0
    for kind, length in latency_rows(figures):
        b, a = figures[("before", kind, length)], figures[("after", kind, length)]
        ratio = statistics.median(a["whole"]) / statistics.median(b["whole"])
        worst = max(worst, ratio)
        print(
            f"| {kind} | {length} | {p50_p95(b['whole'])} | {p50_p95(a['whole'])} | {ratio:.2f}x "
            f"| {statistics.median(b['again']):.1f} / {statistics.median(a['again']):.1f} "
            f"| {statistics.median(b['encode']):.1f} / {statistics.median(a['encode']):.1f} |"
        )
    rounds = ", ".join(f"{p['after'] / p['before']:.2f}" for p in result["round_p50"])
    verdict = "within" if worst <= 1.10 else "MORE than"
    print(f"after / before p50 of all rows, round by round: {rounds}; worst row {worst:.2f}x: {verdict} 10%")


def latency_rows(figures: dict[tuple[str, str, str], Any]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((kind, length) for _, kind, length in figures))


# -- servers -----------------------------------------------------------------------------------------------


async def phase(
    sessions: list[Any], call: Callable[[int, int], tuple[str, dict[str, Any]]], per_client: int, seconds: float
) -> dict[str, Any]:
    """Every client makes up to ``per_client`` calls one after another, none started after ``seconds``."""
    processes = tests_module("processes")
    done: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds

    async def client(c: int, session: Any) -> None:
        for i in range(per_client):
            if time.perf_counter() > deadline:
                return
            name, arguments = call(c, i)
            start = time.perf_counter()
            await processes.tool(session, name, **arguments)
            done.append((time.perf_counter() - start) * 1000)

    async with anyio.create_task_group() as group:
        for c, session in enumerate(sessions):
            group.start_soon(client, c, session)
    elapsed = time.perf_counter() - started
    return {"calls": len(done), "seconds": elapsed, "per_s": len(done) / elapsed, "latency": percentiles(done)}


async def drive(urls: list[str], clients: int, per_client: int, seconds: float) -> dict[str, Any]:
    processes = tests_module("processes")
    tag = uuid.uuid4().hex[:8]
    async with AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(processes.http_client(urls[c % len(urls)], timeout=600))
            for c in range(clients)
        ]
        for session in sessions[: len(urls)]:  # each server: model loaded, indexes built
            await processes.tool(session, "recall_error_solutions", error_message="warm up")
        load_before = load()
        stores = await phase(
            sessions, lambda c, i: ("store_error_resolution", error_arguments(f"{tag}-{c}", i)), per_client, seconds
        )
        recalls = await phase(
            sessions,
            lambda c, i: (
                "recall_error_solutions",
                {"error_message": error_arguments(f"{tag}-{c}", 1000 + i)["error_message"]},
            ),
            per_client,
            seconds,
        )
        return {"stores": stores, "recalls": recalls, "load": (load_before, load())}


def part_servers(counts: list[int], clients: int, per_client: int, seconds: float) -> dict[str, Any]:
    postgres, helpers, processes = (tests_module(name) for name in ("postgres", "helpers", "processes"))
    cluster = durable_cluster()
    results: dict[int, Any] = {}
    try:
        for n in counts:
            with tempfile.TemporaryDirectory(prefix="mcp-memory-bench-servers-") as tmp, ExitStack() as stack:
                folder = Path(tmp)
                chroma_url = stack.enter_context(helpers.chroma_server(folder / "chroma"))
                url = cluster.create_database(f"servers{n}")
                servers = [
                    stack.enter_context(
                        processes.http_server(
                            folder / f"data{k}", folder, chroma_url=chroma_url, database_url=url, name=f"server{k}"
                        )
                    )
                    for k in range(n)
                ]
                results[n] = anyio.run(drive, [server.url for server in servers], clients, per_client, seconds)
                figures = results[n]
                print(
                    f"{n} server(s): {figures['stores']['per_s']:.1f} stores/s, "
                    f"{figures['recalls']['per_s']:.1f} recalls/s, load {figures['load'][1]:.1f}",
                    file=sys.stderr,
                )
    finally:
        postgres.remove_cluster(cluster)
    return {"servers": results, "clients": clients, "per_client": per_client, "seconds": seconds}


def print_servers(result: dict[str, Any]) -> None:
    servers = result["servers"]
    print(
        f"\nThroughput: {result['clients']} clients spread over the servers, up to {result['per_client']} stores "
        f"then {result['per_client']} recalls each (none started after {result['seconds']:.0f} s); one chroma run "
        f"and one PostgreSQL database shared, {os.cpu_count()} cores"
    )
    print(
        "| servers | stores/s | store p50 / p95 ms | recalls/s | recall p50 / p95 ms | calls (stores + recalls) "
        "| load |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for n, figures in servers.items():
        s, r = figures["stores"], figures["recalls"]
        print(
            f"| {n} | {s['per_s']:.1f} | {s['latency'][0]:.0f} / {s['latency'][1]:.0f} | {r['per_s']:.1f} "
            f"| {r['latency'][0]:.0f} / {r['latency'][1]:.0f} | {s['calls']} + {r['calls']} "
            f"| {figures['load'][0]:.1f} -> {figures['load'][1]:.1f} |"
        )


def jsonable(value: Any) -> Any:
    """Figures as JSON: tuple keys joined with '/'."""
    if isinstance(value, dict):
        return {"/".join(map(str, k)) if isinstance(k, tuple) else str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


# -- main --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--part",
        choices=["ops", "recall", "servers"],
        action="append",
        help="Run only this part (repeatable); all three by default.",
    )
    parser.add_argument("--quick", action="store_true", help="A smaller run of each part (~5 min in all).")
    parser.add_argument("--before", type=Path, help="A checkout of the code before the database (for --part recall).")
    parser.add_argument(
        "--episodes-on-database",
        action="store_true",
        help="The episode store follows the memory database: measure record_event on PostgreSQL too.",
    )
    parser.add_argument("--json", type=Path, help="Also write every figure here.")
    parser.add_argument("--recall-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.recall_worker:
        recall_worker(args.recall_worker)
        return
    parts = args.part or ["ops", "recall", "servers"]
    if "recall" in parts and args.before is None:
        parser.error("--part recall needs --before DIR, a checkout of the commit before the database")
    quick = args.quick
    print(f"started {time.strftime('%Y-%m-%d %H:%M')}, load {load():.1f} on {os.cpu_count()} cores", file=sys.stderr)
    out: dict[str, Any] = {}
    if "ops" in parts:
        out["ops"] = part_ops(20 if quick else 60, 500 if quick else 2000, args.episodes_on_database)
        print_ops(out["ops"])
    if "recall" in parts:
        memories, queries, rounds = (2000, 5, 2) if quick else (10_000, 10, 4)
        out["recall"] = part_recall(args.before, memories, queries, rounds)
        print_recall(out["recall"])
    if "servers" in parts:
        clients, per_client, seconds = (12, 4, 20.0) if quick else (12, 10, 45.0)
        out["servers"] = part_servers([1, 2, 3], clients, per_client, seconds)
        print_servers(out["servers"])
    if args.json:
        args.json.write_text(json.dumps(jsonable(out), indent=1))


if __name__ == "__main__":
    main()
