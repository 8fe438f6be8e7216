"""Command line: ``mcp-memory serve | console | seed | stats | recall | import | export | backup | repair | purge |
consolidate | warm | demo``.

Flags beat environment beats defaults.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from mcp_memory import __version__
from mcp_memory.config import Settings
from mcp_memory.edge.startup import store_error_in

CONSOLE_PORT = 8766  # the console alone, so that it can run beside a server on the default port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-memory", description="Shared, persistent memory for coding agents (MCP)."
    )
    parser.add_argument("--version", action="version", version=f"mcp-memory {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return subparsers.add_parser(name, help=summary, description=summary)

    def store_flags(sub: argparse.ArgumentParser) -> None:
        # SUPPRESS: a flag given before the command (mcp-memory --data-dir D serve) is not reset by the command's own.
        sub.add_argument(
            "--data-dir", default=argparse.SUPPRESS, help="Where the embedded store lives (env MCP_MEMORY_DATA_DIR)."
        )
        sub.add_argument(
            "--chroma-url",
            default=argparse.SUPPRESS,
            help="Use a Chroma server, e.g. http://127.0.0.1:8000 (env MCP_MEMORY_CHROMA_URL).",
        )
        sub.add_argument(
            "--database-url",
            default=argparse.SUPPRESS,
            help="Use a PostgreSQL database, e.g. postgresql://user@host:5432/memory (env MCP_MEMORY_DATABASE_URL).",
        )
        sub.add_argument(
            "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="More logging on stderr (-vv for debug)."
        )

    store_flags(parser)
    serve = command("serve", "Run the MCP server (default).")
    serve.add_argument("--transport", choices=["stdio", "http"], help="stdio (default) or streamable HTTP at /mcp.")
    serve.add_argument("--host", help="HTTP host (default 127.0.0.1).")
    serve.add_argument("--port", type=int, help="HTTP port (default 8765).")
    store_flags(serve)

    console = command("console", "Serve the web console alone (no /mcp) on a data dir or Chroma server.")
    console.add_argument("--host", help="HTTP host (default 127.0.0.1).")
    console.add_argument("--port", type=int, help=f"HTTP port (default {CONSOLE_PORT}, beside serve's 8765).")
    store_flags(console)

    seed = command("seed", "Seed the knowledge base and print the counts.")
    store_flags(seed)
    stats = command("stats", "Print memory statistics (a table; --json for machines).")
    stats.add_argument("--json", action="store_true", help="Print the statistics as JSON.")
    stats.add_argument("--project", default="*", help='Count one project with the global memories (default "*": all).')
    store_flags(stats)
    recall = command("recall", "Recall memories for a query and print them as a table.")
    recall.add_argument("query", help="What to look for, in words or code.")
    recall.add_argument(
        "--type",
        action="append",
        dest="types",
        metavar="TYPE",
        choices=sorted(TYPE_CHOICES),
        help="errors, patterns, solutions, best_practices, episodes or all (repeatable; default all).",
    )
    recall.add_argument("--language", help="Only memories in this language, e.g. python.")
    recall.add_argument("-n", "--n-results", type=int, default=5, help="How many to show (default 5).")
    recall.add_argument(
        "--project", default="*", help='Search one project with the global memories (default "*": every project).'
    )
    recall.add_argument("--json", action="store_true", help="Print the full results as JSON.")
    store_flags(recall)
    export = command("export", "Export every memory and episode to a JSON-lines file.")
    export.add_argument("file", help="Where to write (- for stdout). Written whole or not at all.")
    export.add_argument("--with-embeddings", action="store_true", help="Carry the vectors, so import skips the model.")
    export.add_argument("--project", help='Only this project\'s memories and episodes ("" for the global ones).')
    store_flags(export)
    load = command("import", "Import a JSON-lines export; re-running it adds only what is missing.")
    load.add_argument("file", help="A file written by export (or backup).")
    load.add_argument(
        "--skip-bad",
        action="store_true",
        help="Import the good lines and list the bad ones (default: a bad line aborts before any write).",
    )
    load.add_argument("--batch-size", type=int, default=1000, help="Memories written per batch (default 1000).")
    load.add_argument(
        "--threads",
        type=int,
        default=1,
        choices=range(1, 65),
        metavar="N",
        help="Threads for encoding batches (default 1; 2 is faster only on an otherwise idle machine).",
    )
    load.add_argument("--json", action="store_true", help="Print the import report as JSON.")
    store_flags(load)
    backup = command("backup", "Back up the memory into a folder; safe while a server runs.")
    backup.add_argument(
        "folder", help="Folder to write mcp-memory-<time>.jsonl (and .sqlite3) into (restore with import)."
    )
    store_flags(backup)
    repair = command(
        "repair", "Make the vector index agree with the database: embed memories without a vector, drop stray vectors."
    )
    store_flags(repair)
    purge = command(
        "purge", "Delete everything one agent wrote (--agent), or remove deleted memories for good (--tombstones)."
    )
    purge.add_argument("--agent", help="The agent (token name) whose memories to delete; they stay restorable.")
    purge.add_argument("--tombstones", action="store_true", help="Remove deleted memories for good.")
    purge.add_argument(
        "--since", help="Only what was written (or deleted) since: an ISO date/time or an age (7d, 36h)."
    )
    purge.add_argument("--dry-run", action="store_true", help="Say what would happen; change nothing.")
    store_flags(purge)
    consolidate = command(
        "consolidate",
        "Merge near-duplicate memories and archive ones that only failed or went unused (a server owning the store "
        "does it every MCP_MEMORY_CONSOLIDATE_EVERY).",
    )
    consolidate.add_argument("--dry-run", action="store_true", help="Say what would be done and why; change nothing.")
    consolidate.add_argument("--project", help='Only this project\'s memories ("" for those of no project).')
    consolidate.add_argument("--json", action="store_true", help="Print the full report as JSON.")
    store_flags(consolidate)
    command("warm", "Prepare the embedding model (export its ONNX graph once), so a server's first start is fast.")
    demo = command("demo", "Spawn the server and play a complete agent workflow against it.")
    demo.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help="Store to use (default: a temporary directory, removed afterwards).",
    )
    demo.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS)
    return parser


SETTING_FLAGS = ("transport", "host", "port", "data_dir", "chroma_url", "database_url")


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for flag in SETTING_FLAGS:
        value = getattr(args, flag, None)
        if value is not None:
            overrides[flag] = value
    if getattr(args, "command", None) == "console" and "port" not in overrides and "MCP_MEMORY_PORT" not in os.environ:
        overrides["port"] = CONSOLE_PORT
    verbose = getattr(args, "verbose", 0)
    if verbose:
        overrides["log_level"] = "DEBUG" if verbose > 1 else "INFO"
    return Settings(**overrides)


def _setting_problem(error: Any) -> str:
    """One invalid setting, named as the user sets it: the variable, and the flag when there is one."""
    name = ".".join(map(str, error["loc"]))
    where = f"MCP_MEMORY_{name.upper()}" + (f" or --{name.replace('_', '-')}" if name in SETTING_FLAGS else "")
    return f"{name}: {str(error['msg']).removeprefix('Value error, ')} [{where}]"


def configure_logging(settings: Settings) -> None:
    """Logs go to stderr only: in stdio mode stdout carries nothing but protocol messages."""
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    command = args.command or "serve"
    # Everything this program writes holds memories or secrets (the store, sessions, exports): the user's alone.
    os.umask(0o077)
    status = _with_one_line_errors(command, args, lambda: _dispatch(command, args))
    if status:
        sys.exit(status)


def _dispatch(command: str, args: argparse.Namespace) -> int:
    """Settings from flags and environment, then the command; ``demo`` makes its own."""
    if command == "demo":
        from mcp_memory.edge.demo import run_demo

        return run_demo(data_dir=getattr(args, "data_dir", None), verbose=getattr(args, "verbose", 0))
    from pydantic import ValidationError

    try:
        settings = settings_from_args(args)
    except ValidationError as exc:
        problems = "; ".join(_setting_problem(error) for error in exc.errors())
        print(f"mcp-memory: invalid setting ({problems}). Check the flags and MCP_MEMORY_* variables.", file=sys.stderr)
        return 2
    configure_logging(settings)
    return COMMANDS[command](args, settings)


def _with_one_line_errors(command: str, args: argparse.Namespace, run: Callable[[], int]) -> int:
    """Our errors (a bad data dir, a taken port, a store out of reach, a bad argument) and the system's as one line
    saying what to do, exit status 1; the traceback only with ``-v``."""
    try:
        return run()
    except Exception as exc:
        problem = store_error_in(exc) or (exc if isinstance(exc, OSError) else None)
        if problem is None:
            raise
        if getattr(args, "verbose", 0):
            traceback.print_exception(exc)
        print(f"mcp-memory {command}: {problem}", file=sys.stderr)
        return 1


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    return serve(settings)


def _console(args: argparse.Namespace, settings: Settings) -> int:
    return serve(settings.model_copy(update={"transport": "http"}), console_only=True)


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    app = _app(settings)
    app.store.open()
    counts = app.knowledge.seed_blocking().model_dump(include={"patterns", "best_practices", "common_errors"})
    print(json.dumps(counts))
    return 0


def _warm(args: argparse.Namespace, settings: Settings) -> int:
    return warm(settings)


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_memory.cli.commands import run_stats, stats_text

    stats, episodes = run_stats(_app(settings), args.project)
    print(stats.model_dump_json(indent=2) if args.json else stats_text(stats, episodes))
    return 0


def _recall(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_memory.cli import commands

    types = commands.memory_types(args.types)
    result = commands.run_recall(_app(settings), args.query, types, args.language, args.n_results, args.project)
    print(result.model_dump_json(indent=2) if args.json else commands.recall_table(result))
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from mcp_memory.app import MemoryApp, configured_embedder
    from mcp_memory.cli import commands

    app = MemoryApp(settings, embedder=configured_embedder(settings, batch_threads=args.threads))
    report = commands.run_import(app, Path(args.file), skip_bad=args.skip_bad, batch_size=args.batch_size)
    print(report.model_dump_json(indent=2) if args.json else commands.import_summary(report))
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_memory.cli import commands

    exported = commands.run_export(
        _app(settings), args.file, with_embeddings=args.with_embeddings, project=args.project
    )
    print(commands.export_summary(exported, args.file), file=sys.stderr)
    return 0


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_memory.cli import commands

    report = commands.run_purge(_app(settings), args.agent, args.since, args.dry_run, forever=args.tombstones)
    print(commands.purge_summary(report))
    return 0


def _repair(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_memory.cli import commands

    print(commands.repair_summary(commands.run_repair(_app(settings))))
    return 0


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from mcp_memory.cli import commands

    backup = commands.run_backup(_app(settings), Path(args.folder))
    print(commands.export_summary(backup.report, str(backup.export)))
    if backup.database is not None:
        print(f"Database copied to {backup.database} (SQLite online backup).")
    else:
        print("The database is PostgreSQL: back it up with pg_dump (the export above holds everything too).")
    print(f"Restore with: mcp-memory import {backup.export} --data-dir NEW_DIR")
    return 0


def _consolidate(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_memory.cli.consolidate import consolidate_summary, run_consolidate

    report = run_consolidate(_app(settings), args.dry_run, args.project)
    print(report.model_dump_json(indent=2) if args.json else consolidate_summary(report))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "serve": _serve,
    "console": _console,
    "seed": _seed,
    "warm": _warm,
    "stats": _stats,
    "recall": _recall,
    "import": _import,
    "export": _export,
    "backup": _backup,
    "repair": _repair,
    "purge": _purge,
    "consolidate": _consolidate,
}


TYPE_CHOICES = {
    "all",
    "knowledge",
    "pattern",
    "patterns",
    "solution",
    "solutions",
    "error",
    "errors",
    "best_practice",
    "best_practices",
    "episode",
    "episodes",
}


def warm(settings: Settings) -> int:
    """Load the configured encoder (exporting the ONNX graph when the cache has none) and say which one serves."""
    import time

    from mcp_memory.app import configured_embedder

    start = time.monotonic()
    embedder = configured_embedder(settings)
    embedder.warm()
    where = getattr(embedder.encoder, "folder", None)
    print(
        f"{embedder.model_name} ready on {embedder.encoder_name}"
        + (f" ({where})" if where else "")
        + f" in {time.monotonic() - start:.1f} s"
    )
    return 0 if embedder.encoder_name == settings.encoder else 1


def _app(settings: Settings) -> Any:
    from mcp_memory.app import MemoryApp

    return MemoryApp(settings)


def serve(settings: Settings, console_only: bool = False) -> int:
    from mcp_memory.access.hosts import is_loopback
    from mcp_memory.edge.server import user_auth
    from mcp_memory.errors import MemoryStoreError

    if (
        settings.transport == "http"
        and not is_loopback(settings.host)
        and not (settings.tokens or settings.tokens_file)
    ):
        print(
            f"mcp-memory: refusing to serve HTTP on {settings.host} without authentication. Set MCP_MEMORY_TOKENS "
            "(agent-a:TOKEN,...) or MCP_MEMORY_TOKENS_FILE, or bind to 127.0.0.1.",
            file=sys.stderr,
        )
        sys.exit(2)
    try:
        user_auth(settings)  # a malformed token list stops here, before anything listens
    except MemoryStoreError as exc:
        print(f"mcp-memory: {exc}", file=sys.stderr)
        sys.exit(2)
    from functools import partial

    import anyio

    from mcp_memory.edge.runner import serve as run_server

    status = anyio.run(partial(run_server, console_only=console_only), settings)
    from mcp_memory.app import warming_up

    if warming_up():
        # The client left before the warm-up finished. Everything the server acknowledged is on disk (as after a
        # kill -9), so the process ends here: the interpreter's teardown under a half-imported torch or Chroma
        # would only print their finalizers' tracebacks.
        logging.shutdown()
        sys.stderr.flush()
        os._exit(status)
    return status
