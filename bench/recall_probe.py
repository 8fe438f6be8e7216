"""Span probe for ``recall_floor.py``: runs ``mcp-memory serve`` (or a script) with timers around the MCP SDK's
and our functions; and reads py-spy samples.

    python bench/recall_probe.py --spans OUT.json serve --data-dir DIR [--transport http ...]
    python bench/recall_probe.py --spans OUT.json --script bare_server.py stdio

Spans: wall-clock time of each wrapped function (nested spans overlap: a span includes the spans it calls), with
the thread's CPU time beside it for functions that do not await (``LABEL [cpu]``), and every
``anyio.to_thread.run_sync`` hop: ``hop.NAME.in`` from the submit to the worker starting ``NAME``,
``hop.NAME.out`` from ``NAME`` returning to the awaiting task resuming. SIGUSR2 forgets what was recorded (after
the warm-up), SIGUSR1 writes it to OUT.json. Spans change nothing the server does.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import runpy
import signal
import sys
import threading
import time
from collections import Counter, defaultdict, deque
from pathlib import Path
from typing import Any

SPANS: dict[str, list[float]] = defaultdict(list)
_lock = threading.Lock()
# stdio: when request lines were read and when handlers returned, oldest first (one call at a time: each flush
# answers the oldest)
_read_lines: deque[float] = deque()
_handled: deque[float] = deque()

_FM = "mcp.server.mcpserver.utilities.func_metadata:"
# label -> "module:attribute.path": the SDK's path of a tools/call, then ours
SDK_TARGETS = {
    "transport.parse (validate_json)": "mcp_types:jsonrpc_message_adapter.validate_json",
    "sdk.handle_request (dispatcher, whole)": "mcp.shared.jsonrpc_dispatcher:JSONRPCDispatcher._handle_request",
    "sdk.write_result (JSONRPCResponse + send)": "mcp.shared.jsonrpc_dispatcher:JSONRPCDispatcher._write_result",
    "sdk.on_request (runner, whole)": "mcp.server.runner:ServerRunner._on_request",
    "sdk.validate_client_request": "mcp_types.methods:validate_client_request",
    "sdk.handle_call_tool": "mcp.server.mcpserver.server:MCPServer._handle_call_tool",
    "sdk.tool_run": "mcp.server.mcpserver.tools.base:Tool.run",
    "sdk.validate_arguments": _FM + "FuncMetadata.validate_arguments",
    "sdk.call_fn (the tool function)": _FM + "FuncMetadata.call_fn",
    "sdk.convert_result (text + structured)": _FM + "FuncMetadata.convert_result",
    "sdk.convert_result: text content (to_json indent=2)": _FM + "_convert_to_content",
    "sdk.serialize (runner._serialize)": "mcp.server.runner:ServerRunner._serialize",
    "sdk.serialize: serialize_server_result (revalidate + dump)": "mcp_types.methods:serialize_server_result",
    "http.session_manager.handle_request": "mcp.server.streamable_http_manager:"
    "StreamableHTTPSessionManager.handle_request",
}
OUR_TARGETS = {
    "ours.tool: ctx.begin": "mcp_memory.edge.tools.context:ToolContext.begin",
    "ours.service.recall (async, with hop)": "mcp_memory.memory.service:MemoryService.recall",
    "ours.service.RecallResult(...)": "mcp_memory.memory.service:RecallResult",
    "ours.recaller.recall (worker)": "mcp_memory.memory.recall:Recaller.recall",
    "ours.encode (Embedder.encode)": "mcp_memory.storage.embeddings:Embedder.encode",
    "ours.encode: model": "mcp_memory.storage.embeddings:Embedder._run_model",
    "ours.rank_once": "mcp_memory.memory.recall:Recaller._rank_once",
    "ours.dense (nearest)": "mcp_memory.storage.vectors:ChromaIndex.nearest",
    "chroma Collection.query": "chromadb.api.models.Collection:Collection.query",
    "chroma Collection.get": "chromadb.api.models.Collection:Collection.get",
    "ours.vectors (Chroma get of word hits)": "mcp_memory.storage.vectors:ChromaIndex.vectors",
    "ours.catalog.view": "mcp_memory.memory.catalog:Catalog.view",
    "ours.code_tokens (recall.py)": "mcp_memory.memory.recall:code_tokens",
    "ours.bm25.search": "mcp_memory.memory.word_index:BM25Index.search",
    "ours.bm25.query_weight": "mcp_memory.memory.word_index:BM25Index.query_weight",
    "ours.signature_if_named": "mcp_memory.memory.recall:signature_if_named",
    "ours.catalog.signature_ids": "mcp_memory.memory.type_catalog:TypeCatalog.signature_ids",
    "ours.query_text (error_focus)": "mcp_memory.memory.ranking:RankingPolicy.query_text",
    "ours.with_outcomes (rows, scores)": "mcp_memory.memory.recall:Recaller._with_outcomes",
    "ours.store.get (rows)": "mcp_memory.storage.store:MemoryStore.get",
    "ours.rows.get (SQL)": "mcp_memory.storage.memory_rows:MemoryRows.get",
    "ours.fold_parts": "mcp_memory.memory.recall:Recaller._fold_parts",
    "ours._hit (MemoryHit per result)": "mcp_memory.memory.recall:_hit",
    "ours._hit: to_record": "mcp_memory.memory.recall:to_record",
}


def record(label: str, seconds: float, cpu_seconds: float | None = None) -> None:
    with _lock:
        SPANS[label].append(seconds * 1000)
        if cpu_seconds is not None:
            SPANS[f"{label} [cpu]"].append(cpu_seconds * 1000)


def _timed(label: str, func: Any) -> Any:
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await func(*args, **kwargs)
            finally:
                record(label, time.perf_counter() - start)

        return timed_async

    @functools.wraps(func)
    def timed(*args: Any, **kwargs: Any) -> Any:
        cpu = time.thread_time()
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            record(label, time.perf_counter() - start, time.thread_time() - cpu)

    return timed


class _TimedProxy:
    """An object whose one method is timed (for attributes that are instances, such as a TypeAdapter)."""

    def __init__(self, wrapped: Any, method: str, label: str) -> None:
        self._wrapped = wrapped
        setattr(self, method, _timed(label, getattr(wrapped, method)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


def patch(label: str, target: str) -> bool:
    module_name, _, path = target.partition(":")
    try:
        owner: Any = importlib.import_module(module_name)
    except ImportError:
        return False
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part, None)
        if owner is None:
            return False
    original = getattr(owner, name, None)
    if original is None:
        return False
    if inspect.isclass(owner) or inspect.ismodule(owner):
        if isinstance(owner, type) and isinstance(inspect.getattr_static(owner, name), staticmethod):
            setattr(owner, name, staticmethod(_timed(label, original)))
        else:
            setattr(owner, name, _timed(label, original))
        return True
    # an instance held by a module (the message TypeAdapter): replace it by a proxy in its module
    module = importlib.import_module(module_name)
    setattr(module, parents[0], _TimedProxy(owner, name, label))
    return True


def patch_threads() -> None:
    """Time every worker-thread hop (the stdio transport's readline/write/flush, our recall, the warm-up)."""
    import anyio.to_thread

    original = anyio.to_thread.run_sync

    async def run_sync(func: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(func, "__name__", type(func).__name__)
        marks: dict[str, float] = {}

        def inner(*inner_args: Any) -> Any:
            marks["cpu"] = time.thread_time()
            marks["start"] = time.perf_counter()
            try:
                return func(*inner_args)
            finally:
                marks["end"] = time.perf_counter()
                marks["cpu"] = time.thread_time() - marks["cpu"]

        submitted = time.perf_counter()
        try:
            return await original(inner, *args, **kwargs)
        finally:
            resumed = time.perf_counter()
            if name == "readline" and "end" in marks:
                _read_lines.append(marks["end"])
            if name == "flush" and "end" in marks and _read_lines:
                record("server: line read -> response flushed", marks["end"] - _read_lines.popleft())
                if _handled:
                    record("gap: on_request returned -> response flushed", marks["end"] - _handled.popleft())
            if "end" in marks:
                record(f"hop.{name}.in", marks["start"] - submitted)
                record(f"thread.{name}", marks["end"] - marks["start"], marks["cpu"])
                record(f"hop.{name}.out", resumed - marks["end"])

    anyio.to_thread.run_sync = run_sync


def patch_dumps() -> None:
    """Time ``model_dump_json`` of the wire messages (the stdio transport's serialization)."""
    import mcp_types

    for name in ("JSONRPCResponse", "JSONRPCMessage"):
        cls = getattr(mcp_types, name, None)
        if isinstance(cls, type) and "model_dump_json" not in cls.__dict__:
            cls.model_dump_json = _timed(f"transport.dump ({name}.model_dump_json)", cls.model_dump_json)


def patch_on_request() -> None:
    """The gaps around the handler over stdio: line read -> ``_on_request`` called (the transport's relay and the
    dispatcher), and ``_on_request`` returned -> response flushed (the response's way out)."""
    from mcp.server.runner import ServerRunner

    original = ServerRunner._on_request

    async def on_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _read_lines:
            record("gap: line read -> on_request called", time.perf_counter() - _read_lines[-1])
        try:
            return await original(self, *args, **kwargs)
        finally:
            if _read_lines:
                _handled.append(time.perf_counter())

    ServerRunner._on_request = on_request  # type: ignore[method-assign]


def install(with_ours: bool) -> list[str]:
    patch_threads()
    patch_dumps()
    patch_on_request()
    missed = [label for label, target in SDK_TARGETS.items() if not patch(label, target)]
    if with_ours:
        missed += [label for label, target in OUR_TARGETS.items() if not patch(label, target)]
    return missed


def main() -> None:
    args = sys.argv[1:]
    out: Path | None = None
    if args[:1] == ["--spans"]:
        out = Path(args[1])
        args = args[2:]
    with_ours = args[:1] != ["--script"]
    missed: list[str] = []
    if out is not None:
        missed = install(with_ours)

        def write(*_: Any) -> None:
            with _lock:
                data: dict[str, Any] = {label: list(values) for label, values in SPANS.items()}
            data["_missed"] = missed
            tmp = out.with_suffix(".tmp")
            tmp.write_text(json.dumps(data))
            os.replace(tmp, out)

        def reset(*_: Any) -> None:
            with _lock:
                SPANS.clear()
                _read_lines.clear()
                _handled.clear()

        signal.signal(signal.SIGUSR1, write)
        signal.signal(signal.SIGUSR2, reset)
    if with_ours:
        from mcp_memory.cli.main import main as cli_main

        cli_main(args)
    else:
        sys.argv = args[1:]
        runpy.run_path(args[1], run_name="__main__")


# -- reading what was recorded (in the benchmark process) ---------------------------------------------


def per_call(spans: dict[str, Any], calls: int) -> dict[str, dict[str, float]]:
    """Per label: milliseconds per call (sum / calls), how many times per call, and the median of one."""
    found = {}
    for label, values in spans.items():
        if label.startswith("_") or not values:
            continue
        ordered = sorted(values)
        found[label] = {
            "ms_per_call": sum(values) / calls,
            "times_per_call": len(values) / calls,
            "median_ms": ordered[len(ordered) // 2],
            "mean_ms": sum(values) / len(values),
        }
    return found


# (category, substrings of a frame "function (file:line)"): a sample goes to the innermost frame that matches
CATEGORIES = [
    ("encode (torch, sentence-transformers)", ("sentence_transformers/", "torch/", "transformers/", "tokenizers")),
    ("chroma (query, get)", ("chromadb/",)),
    ("database rows (SQLAlchemy, sqlite3)", ("sqlalchemy/", "memory_rows.py", "storage/database.py", "sqlite3")),
    (
        "word index, signature (catalog, lexical)",
        ("word_index.py", "catalog.py", "error_signature.py", "mcp_memory/words.py"),
    ),
    ("hits: _hit, to_record, MemoryHit", ("_hit (", "to_record (", "memory/records.py", "mcp_memory/models.py")),
    ("ranking, fusion (recall.py, ranking.py)", ("memory/recall.py", "memory/ranking.py", "memory/dense.py")),
    (
        "service, tools (memory.py, tools/, validation)",
        ("mcp_memory/memory/", "mcp_memory/edge/tools/", "mcp_memory/app.py", "mcp_memory/storage/"),
    ),
    ("sdk: argument validation", ("validate_arguments (", "pre_parse_json (")),
    ("sdk: text content (to_json indent=2)", ("_convert_to_content (",)),
    ("sdk: structured content (validate + dump)", ("convert_result (",)),
    ("sdk: serialize result (_serialize, surface revalidation)", ("_serialize (", "serialize_server_result (")),
    ("sdk: request validation (validate_client_request)", ("validate_client_request (",)),
    (
        "transport: stdio read/parse/write",
        ("mcp/server/stdio.py", "mcp_memory/edge/stdio.py", "anyio/_core/_fileio.py"),
    ),
    (
        "transport: HTTP (uvicorn, starlette, sse, streamable_http)",
        (
            "uvicorn/",
            "starlette/",
            "sse_starlette/",
            "h11/",
            "httptools",
            "streamable_http",
            "mcp_memory/edge/http_",
            "mcp_memory/edge/server.py",
        ),
    ),
    ("sdk: OpenTelemetry middleware", ("opentelemetry", "_otel.py")),
    ("sdk: dispatch, session, context", ("mcp/server/", "mcp/shared/", "mcp_types/")),
    ("pydantic (outside the above)", ("pydantic",)),
    (
        "event loop, thread hops (asyncio, anyio, threading)",
        ("asyncio/", "anyio/", "threading.py", "concurrent/", "selectors.py"),
    ),
]


def _category(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, signs in CATEGORIES:
            if any(sign in frame for sign in signs):
                return name
    return "other"


def cpu_by_category(raw: str, calls: int, wall_seconds: float, rate: float = 997.0) -> dict[str, Any]:
    """py-spy ``--format raw`` (collapsed stacks) as milliseconds of CPU per call, by category and by function."""
    by_category: Counter[str] = Counter()
    by_leaf: Counter[str] = Counter()
    by_thread: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0] if frames[0].startswith("thread") else ""
        frames = [f for f in frames if not f.startswith(("thread", "process"))]
        if not frames:
            continue
        total += count
        by_category[_category(frames)] += count
        by_leaf[_leaf_owner(frames)] += count
        by_thread[thread] += count
    per = 1000.0 / rate / calls
    return {
        "samples": total,
        "cpu_ms_per_call": total * per,
        "wall_ms_per_call": wall_seconds * 1000 / calls,
        "by_category": {k: v * per for k, v in by_category.most_common()},
        "by_function": {k: v * per for k, v in by_leaf.most_common(40)},
        "by_thread": {k: v * per for k, v in by_thread.most_common(6)},
    }


def _leaf_owner(frames: list[str]) -> str:
    """The innermost frame of our code or the SDK (what a sample is spent for), else the leaf."""
    for frame in reversed(frames):
        if "mcp_memory/" in frame or "/mcp/" in frame or "mcp_types/" in frame:
            return frame
    return frames[-1]


SHOWN_SPANS = [
    "server: line read -> response flushed",
    "gap: line read -> on_request called",
    "gap: on_request returned -> response flushed",
    "hop.readline.out",
    "transport.parse (validate_json)",
    "sdk.handle_request (dispatcher, whole)",
    "sdk.on_request (runner, whole)",
    "sdk.validate_client_request",
    "sdk.handle_call_tool",
    "sdk.tool_run",
    "sdk.validate_arguments",
    "sdk.call_fn (the tool function)",
    "ours.tool: ctx.begin",
    "ours.service.recall (async, with hop)",
    "hop._recall_blocking.in",
    "thread._recall_blocking",
    "hop._recall_blocking.out",
    "ours.recaller.recall (worker)",
    "ours.query_text (error_focus)",
    "ours.encode (Embedder.encode)",
    "ours.encode: model",
    "ours.rank_once",
    "ours.dense (nearest)",
    "chroma Collection.query",
    "ours.catalog.view",
    "ours.code_tokens (recall.py)",
    "ours.bm25.search",
    "ours.bm25.query_weight",
    "ours.signature_if_named",
    "ours.catalog.signature_ids",
    "ours.vectors (Chroma get of word hits)",
    "chroma Collection.get",
    "ours.with_outcomes (rows, scores)",
    "ours.store.get (rows)",
    "ours.rows.get (SQL)",
    "ours.fold_parts",
    "ours._hit (MemoryHit per result)",
    "ours._hit: to_record",
    "ours.service.RecallResult(...)",
    "sdk.convert_result (text + structured)",
    "sdk.convert_result: text content (to_json indent=2)",
    "sdk.serialize (runner._serialize)",
    "sdk.serialize: serialize_server_result (revalidate + dump)",
    "sdk.write_result (JSONRPCResponse + send)",
    "transport.dump (JSONRPCResponse.model_dump_json)",
    "transport.dump (JSONRPCMessage.model_dump_json)",
    "hop.write.in",
    "thread.write",
    "hop.write.out",
    "hop.flush.in",
    "thread.flush",
    "hop.flush.out",
    "http.session_manager.handle_request",
]


def breakdown(spans: dict[str, dict[str, float]], round_trip_mean: float) -> list[tuple[str, float, float | None]]:
    """One call's time, mean per call, split into parts that add up (wall ms, CPU ms of the thread where known)."""

    def wall(label: str) -> float:
        return spans.get(label, {}).get("ms_per_call", 0.0)

    def once(label: str) -> float:  # per occurrence: what happens once per call but was not seen every time
        return spans.get(label, {}).get("mean_ms", 0.0)

    def cpu(label: str) -> float | None:
        found = spans.get(f"{label} [cpu]")
        return found["ms_per_call"] if found else None

    rows: list[tuple[str, float, float | None]] = []
    server = once("server: line read -> response flushed")
    if server:
        rows.append(("client and pipes (round trip - server)", round_trip_mean - server, None))
        rows.append(
            (
                "server: line read -> on_request (stdin hop, parse, relay, dispatch)",
                once("gap: line read -> on_request called"),
                None,
            )
        )
    on_request, call_tool = wall("sdk.on_request (runner, whole)"), wall("sdk.handle_call_tool")
    serialize = wall("sdk.serialize (runner._serialize)")
    rows.append(("sdk: request validation, middleware, context", on_request - call_tool - serialize, None))
    call_fn, convert = wall("sdk.call_fn (the tool function)"), wall("sdk.convert_result (text + structured)")
    rows.append(("sdk: argument validation, tool lookup", call_tool - call_fn - convert, None))
    recall = wall("ours.service.recall (async, with hop)")
    if recall:
        blocking = wall("thread._recall_blocking")
        rank = wall("ours.rank_once")
        dense = wall("ours.dense (nearest)")
        outcomes = wall("ours.with_outcomes (rows, scores)")
        words = sum(
            wall(label)
            for label in (
                "ours.catalog.view",
                "ours.bm25.search",
                "ours.bm25.query_weight",
                "ours.signature_if_named",
                "ours.catalog.signature_ids",
            )
        )
        vectors = wall("ours.vectors (Chroma get of word hits)")
        hits = wall("ours._hit (MemoryHit per result)")
        encode = wall("ours.encode (Embedder.encode)")
        rows += [
            ("ours: tool body around the service (begin, argument checks)", call_fn - recall, None),
            (
                "ours: thread hop into and out of the worker",
                wall("hop._recall_blocking.in") + wall("hop._recall_blocking.out"),
                None,
            ),
            (
                "ours: service around the worker (checks, RecallResult)",
                recall - blocking - wall("hop._recall_blocking.in") - wall("hop._recall_blocking.out"),
                None,
            ),
            ("ours: encode (Embedder.encode)", encode, cpu("ours.encode (Embedder.encode)")),
            ("ours: Chroma query (ChromaIndex.nearest)", dense, cpu("ours.dense (nearest)")),
            ("ours: word index + signature (errors)", words, None),
            ("ours: Chroma get of word hits' vectors (errors)", vectors, cpu("ours.vectors (Chroma get of word hits)")),
            (
                "ours: rows for counters and text (_with_outcomes -> MemoryRows.get)",
                outcomes,
                cpu("ours.with_outcomes (rows, scores)"),
            ),
            ("ours: rest of ranking (_rank_once, fusion, fold)", rank - dense - outcomes - words - vectors, None),
            ("ours: hits (_hit: to_record, why, MemoryHit)", hits, cpu("ours._hit (MemoryHit per result)")),
            ("ours: rest of the worker", blocking - encode - rank - hits, None),
        ]
    else:
        rows.append(("the tool function (echo, with its worker-thread hop)", call_fn, None))
    rows.append(
        ("sdk: result -> text (indent=2) + structured content", convert, cpu("sdk.convert_result (text + structured)"))
    )
    rows.append(
        ("sdk: _serialize (dump, per-version revalidation)", serialize, cpu("sdk.serialize (runner._serialize)"))
    )
    if server:
        rows.append(
            (
                "server: on_request returned -> flushed (JSONRPCResponse, dump, write + flush hops)",
                once("gap: on_request returned -> response flushed"),
                None,
            )
        )
    return rows


def print_breakdown(title: str, figures: dict[str, Any]) -> None:
    """Ours beside the echo server, tool by tool."""
    for tool, entry in figures.items():
        rows = breakdown(entry["spans"], entry["round_trip"]["mean"])
        print(
            f"\n{title}: {tool} (round trip mean {entry['round_trip']['mean']:.2f} ms, p50 "
            f"{entry['round_trip']['p50']:.2f} ms)"
        )
        print("| part | wall ms per call | CPU ms |")
        print("| --- | ---: | ---: |")
        for label, value, cpu_ms in rows:
            print(f"| {label} | {value:.2f} | {'' if cpu_ms is None else f'{cpu_ms:.2f}'} |")


def print_profile(transport: str, figures: dict[str, Any]) -> None:
    for tool, entry in figures.items():
        print(f"\n### {transport}: {tool}, {entry['calls']} calls, round trip p50 {entry['round_trip']['p50']:.2f} ms")
        print("| span | ms per call | times per call | median of one |")
        spans = entry["spans"]
        for label in SHOWN_SPANS + sorted(set(spans) - set(SHOWN_SPANS)):
            if label in spans:
                row = spans[label]
                print(f"| {label} | {row['ms_per_call']:.3f} | {row['times_per_call']:.1f} | {row['median_ms']:.3f} |")
        spy = entry.get("py_spy")
        if spy:
            print(f"\npy-spy: {spy['cpu_ms_per_call']:.2f} ms CPU per call (wall {spy['wall_ms_per_call']:.2f} ms)")
            print("| category | CPU ms per call |")
            for name, value in spy["by_category"].items():
                print(f"| {name} | {value:.2f} |")
            print("| function (innermost of ours or the SDK) | CPU ms per call |")
            for name, value in list(spy["by_function"].items())[:25]:
                print(f"| {name} | {value:.2f} |")


if __name__ == "__main__":
    main()
