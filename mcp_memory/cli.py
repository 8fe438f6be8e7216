"""Command line: ``mcp-memory serve | seed | stats | demo``. Flags beat environment beats defaults."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from mcp_memory import __version__
from mcp_memory.config import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-memory", description="Shared, persistent memory for coding agents (MCP).")
    parser.add_argument("--version", action="version", version=f"mcp-memory {__version__}")
    commands = parser.add_subparsers(dest="command")

    def store_flags(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--data-dir", help="Where the embedded store lives (env MCP_MEMORY_DATA_DIR).")
        sub.add_argument("--chroma-url", help="Use a Chroma server, e.g. http://127.0.0.1:8000 (env MCP_MEMORY_CHROMA_URL).")
        sub.add_argument("-v", "--verbose", action="count", default=0, help="More logging on stderr (-vv for debug).")

    serve = commands.add_parser("serve", help="Run the MCP server (default).")
    serve.add_argument("--transport", choices=["stdio", "http"], help="stdio (default) or streamable HTTP at /mcp.")
    serve.add_argument("--host", help="HTTP host (default 127.0.0.1).")
    serve.add_argument("--port", type=int, help="HTTP port (default 8765).")
    store_flags(serve)

    seed = commands.add_parser("seed", help="Seed the knowledge base and print the counts.")
    store_flags(seed)
    stats = commands.add_parser("stats", help="Print memory statistics as JSON.")
    store_flags(stats)
    demo = commands.add_parser("demo", help="Spawn the server and play a complete agent workflow against it.")
    demo.add_argument("--data-dir", help="Store to use (default: a temporary directory, removed afterwards).")
    demo.add_argument("-v", "--verbose", action="count", default=0)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for flag in ("transport", "host", "port", "data_dir", "chroma_url"):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[flag] = value
    verbose = getattr(args, "verbose", 0)
    if verbose:
        overrides["log_level"] = "DEBUG" if verbose > 1 else "INFO"
    return Settings(**overrides)


def configure_logging(settings: Settings) -> None:
    """Logs go to stderr only: in stdio mode stdout carries nothing but protocol messages."""
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    command = args.command or "serve"
    if command == "demo":
        from mcp_memory.demo import run_demo

        sys.exit(run_demo(data_dir=args.data_dir, verbose=args.verbose))
    from pydantic import ValidationError

    try:
        settings = settings_from_args(args) if args.command else Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"mcp-memory: invalid setting ({problems}). Check the flags and MCP_MEMORY_* variables.", file=sys.stderr)
        sys.exit(2)
    configure_logging(settings)
    if command == "serve":
        serve(settings)
    elif command == "seed":
        app = _app(settings)
        app.store.open()
        print(json.dumps(app.knowledge.seed_blocking().model_dump(include={"patterns", "best_practices", "common_errors"})))
    elif command == "stats":
        import anyio

        app = _app(settings)
        app.store.open()
        print(json.dumps(anyio.run(app.memory.stats).model_dump(), indent=2))


def _app(settings: Settings) -> Any:
    from mcp_memory.app import MemoryApp

    return MemoryApp(settings)


def serve(settings: Settings) -> None:
    from mcp_memory.app import MemoryApp
    from mcp_memory.errors import MemoryStoreError
    from mcp_memory.server import build_server, is_loopback, serve_http

    if settings.transport == "http" and not is_loopback(settings.host) and not (settings.tokens or settings.tokens_file):
        print(
            f"mcp-memory: refusing to serve HTTP on {settings.host} without authentication. Set MCP_MEMORY_TOKENS "
            "(agent-a:TOKEN,...) or MCP_MEMORY_TOKENS_FILE, or bind to 127.0.0.1.",
            file=sys.stderr,
        )
        sys.exit(2)
    app = MemoryApp(settings)
    try:
        server = build_server(app)
    except MemoryStoreError as exc:
        print(f"mcp-memory: {exc}", file=sys.stderr)
        sys.exit(2)
    if settings.transport == "stdio":
        server.run()
    else:
        app.start_in_background()
        serve_http(server, settings)
