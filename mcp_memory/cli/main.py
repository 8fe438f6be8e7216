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

from mcp_memory.cli.arguments import build_parser, setting_problem, settings_from_args
from mcp_memory.config import Settings
from mcp_memory.edge.startup import store_error_in


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
        problems = "; ".join(setting_problem(error) for error in exc.errors())
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
    app.open_blocking()
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
    from mcp_memory.collector_pause import pause_while_starting

    pause_while_starting()  # until the warm-up is done: the imports of the start run ~20% faster
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
    from mcp_memory.app import index_answered_stores, warming_up

    if warming_up():
        # The client left before the warm-up finished. Everything the server acknowledged is on disk (as after a
        # kill -9), so the process ends here: the interpreter's teardown under a half-imported torch or Chroma
        # would only print their finalizers' tracebacks.
        index_answered_stores()
        logging.shutdown()
        sys.stderr.flush()
        os._exit(status)
    return status
