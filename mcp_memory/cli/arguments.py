"""The command line's words: every command with its flags, and settings from them (flags beat environment beats
defaults)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from mcp_memory import __version__
from mcp_memory.config import Settings

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


def setting_problem(error: Any) -> str:
    """One invalid setting, named as the user sets it: the variable, and the flag when there is one."""
    name = ".".join(map(str, error["loc"]))
    where = f"MCP_MEMORY_{name.upper()}" + (f" or --{name.replace('_', '-')}" if name in SETTING_FLAGS else "")
    return f"{name}: {str(error['msg']).removeprefix('Value error, ')} [{where}]"
