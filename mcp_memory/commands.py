"""The command-line tools for people and scripts: import, export, backup, recall, stats.

Reads (export, backup, recall, stats) open the store beside a running server: Chroma reads go through
SQLite, which gives each read a consistent view while the server writes. Imports write, and an embedded
store takes one writer only: an import holds the data dir's owner lock and refuses while a server owns it.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import anyio

from mcp_memory.app import MemoryApp
from mcp_memory.errors import Conflict, MemoryStoreError
from mcp_memory.models import MEMORY_TYPES, MemoryStats, MemoryType, RecallResult
from mcp_memory.ownership import LOCK_NAME, StoreOwnership
from mcp_memory.terminal import Progress, human_bytes, one_line, table
from mcp_memory.transfer import (
    ExportReport,
    ImportReport,
    check_file,
    count_exportable,
    export_to,
    import_file,
)

TYPE_NAMES: dict[str, MemoryType] = {
    **{t: t for t in MEMORY_TYPES},
    **{f"{t}s": t for t in MEMORY_TYPES},
    "knowledge": "best_practice",
}


def memory_types(names: Sequence[str] | None) -> list[MemoryType]:
    """Types named on the command line (``errors``, ``pattern``, ``all`` ...); all when none are named."""
    if not names or "all" in names:
        return list(MEMORY_TYPES)
    return list(dict.fromkeys(TYPE_NAMES[name] for name in names))


# -- import / export / backup ---------------------------------------------------------------------


@contextmanager
def sole_writer(app: MemoryApp) -> Iterator[None]:
    """Hold the data dir's owner lock (unpublished: servers started meanwhile wait and retry)."""
    if app.settings.chroma_url:  # a Chroma server serializes its writers itself
        yield
        return
    data_dir = app.settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                f"A server owns the store in {data_dir}{_owner_pid(app)}. Stop it and import again, or run the "
                "import against a Chroma server (--chroma-url) that both use."
            ) from None
        yield
    finally:
        os.close(fd)  # drops the lock


def _owner_pid(app: MemoryApp) -> str:
    try:
        return f" (pid {StoreOwnership(app.settings.data_dir).owner_info().pid})"
    except MemoryStoreError:  # no owner published yet: the lock alone says a server is there
        return ""


def run_import(app: MemoryApp, path: Path, *, skip_bad: bool, batch_size: int, quiet: bool = False) -> ImportReport:
    with sole_writer(app):  # first: a running server is reported before a large file is read
        checked = check_file(path)
        progress = Progress(checked.records, "importing", enabled=False if quiet else None)
        report = import_file(app, path, skip_bad=skip_bad, batch_size=batch_size, progress=progress.advance,
                             checked=checked)
    progress.close()
    return report


def run_export(app: MemoryApp, target: str, *, with_embeddings: bool, quiet: bool = False) -> ExportReport:
    """Write the export to ``target`` (``-`` for stdout); a file appears whole or not at all."""
    progress = Progress(count_exportable(app), "exporting", enabled=False if quiet else None)
    if target == "-":
        report = export_to(app, sys.stdout, with_embeddings, progress.advance)
    else:
        path = Path(target)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            with partial.open("w", encoding="utf-8") as out:
                report = export_to(app, out, with_embeddings, progress.advance)
                out.flush()
                os.fsync(out.fileno())
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
    progress.close()
    return report


def run_backup(app: MemoryApp, folder: Path, quiet: bool = False) -> tuple[Path, ExportReport]:
    """A restorable backup: a full export with embeddings, named by the time it was taken."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"mcp-memory-{stamp}.jsonl"
    return path, run_export(app, str(path), with_embeddings=True, quiet=quiet)


def import_summary(report: ImportReport) -> str:
    parts = [f"{report.memories_added:,} memories added", f"{report.memories_present:,} already present"]
    if report.episodes_added or report.episodes_present:
        parts.append(f"{report.episodes_added:,} episodes added, {report.episodes_present:,} already present")
    parts.append(f"{report.embedded:,} texts embedded")
    text = "Imported: " + ", ".join(parts) + f" in {report.seconds:.1f}s."
    if report.bad_lines:
        shown = "\n".join(f"  line {b.line}: {b.error}" for b in report.bad_lines[:20])
        text += f"\nSkipped {len(report.bad_lines):,} bad line(s):\n{shown}"
    return text


def export_summary(report: ExportReport, target: str) -> str:
    memories = sum(report.memories.values())
    vectors = " with embeddings" if report.with_embeddings else ""
    return f"Exported {memories:,} memories and {report.episodes:,} episodes{vectors} to {target} in {report.seconds:.1f}s."


# -- recall / stats -------------------------------------------------------------------------------


def run_recall(app: MemoryApp, query: str, types: list[MemoryType], language: str | None, n: int) -> RecallResult:
    from mcp_memory.validation import normalize_language

    app.store.open()
    return anyio.run(lambda: app.memory.recall(query, types, n, language=normalize_language(language)))


def recall_table(result: RecallResult) -> str:
    if not result.results:
        return result.note or "Nothing found."
    rows = [
        [rank, f"{hit.score:.3f}", hit.type, hit.outcome, hit.language or "", one_line(hit.title), hit.id]
        for rank, hit in enumerate(result.results, 1)
    ]
    return table(["#", "score", "type", "outcome", "language", "title", "id"], rows, align_right=["#", "score"])


def run_stats(app: MemoryApp) -> tuple[MemoryStats, int]:
    app.store.open()
    stats = anyio.run(app.memory.stats)
    return stats, _episode_count(app)


def stats_text(stats: MemoryStats, episodes: int) -> str:
    where = stats.chroma_url or stats.data_dir or "-"
    lines = [
        f"store     {where}" + ("" if stats.chroma_url else " (embedded)"),
        f"on disk   {human_bytes(stats.size_on_disk_bytes)}",
        f"model     {stats.model}",
        f"memories  {stats.total:,}" + (f"   episodes  {episodes:,}" if episodes else ""),
        "",
        table(["type", "count"], [[t, f"{c:,}"] for t, c in stats.by_type.items()], align_right=["count"]),
    ]
    languages = sorted(stats.by_language.items(), key=lambda pair: (-pair[1], pair[0]))
    if languages:
        lines += ["", table(["language", "count"], [[k, f"{v:,}"] for k, v in languages[:15]], align_right=["count"])]
        if len(languages) > 15:
            lines.append(f"... and {len(languages) - 15} more languages (--json lists all)")
    return "\n".join(lines)


def _episode_count(app: MemoryApp) -> int:
    return app.episodes.store.count()

