"""The command-line tools for people and scripts: import, export, backup, recall, stats, repair.

Only one process may open an embedded Chroma store. On a data dir a server owns, ``recall`` and ``stats`` ask
that server over its socket, as forwarding servers do, and ``export`` and ``backup`` have it stream the export;
``import`` and ``repair`` write, so they hold the owner lock and refuse while a server owns the data dir.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import anyio

from mcp_memory.app import MemoryApp
from mcp_memory.cli.terminal import Progress, one_line, table
from mcp_memory.console.render import human_bytes
from mcp_memory.edge.ownership import LOCK_NAME, OwnerInfo, StoreOwnership
from mcp_memory.edge.proxy import ask_owner
from mcp_memory.errors import Conflict, InvalidInput, MemoryStoreError, Unavailable
from mcp_memory.memory.moments import parse_moment
from mcp_memory.memory.projects import require_project
from mcp_memory.memory.purge import purge_agent_blocking, purge_tombstones_blocking
from mcp_memory.models import MEMORY_TYPES, MemoryStats, MemoryType, RecallResult, ReconcileReport
from mcp_memory.transfer.exporting import ExportReport, copy_export, count_exportable, export_to
from mcp_memory.transfer.importing import ImportReport, check_file, import_file

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
        checked = check_file(path, app.settings.max_text_chars)
        progress = Progress(checked.records, "importing", enabled=False if quiet else None)
        report = import_file(
            app, path, skip_bad=skip_bad, batch_size=batch_size, progress=progress.advance, checked=checked
        )
    progress.close()
    return report


def run_export(
    app: MemoryApp, target: str, *, with_embeddings: bool, quiet: bool = False, project: str | None = None
) -> ExportReport:
    """Write the export to ``target`` (``-`` for stdout); a file appears whole or not at all. On a data dir a
    server owns, that server writes it (streamed over its socket). With ``project``, only that project's memories
    and episodes ("" : the global ones)."""
    project = require_project(project, "--project", allow_every=False)
    owner = owner_of(app)
    if owner is not None:
        app.open_rows_only()  # only to count what comes, for the progress bar
    progress = Progress(count_exportable(app, project), "exporting", enabled=False if quiet else None)

    def write(out: TextIO) -> ExportReport:
        if owner is not None:
            return export_through_owner(owner, out, with_embeddings, progress.advance, project)
        return export_to(app, out, with_embeddings, progress.advance, project)

    if target == "-":
        report = write(sys.stdout)
    else:
        path = Path(target)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            with partial.open("w", encoding="utf-8") as out:
                report = write(out)
                out.flush()
                os.fsync(out.fileno())
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
    progress.close()
    return report


@dataclass
class Backup:
    export: Path
    report: ExportReport
    database: Path | None  # the SQLite copy; None when the database is PostgreSQL (back it up with pg_dump)


def run_backup(app: MemoryApp, folder: Path, quiet: bool = False) -> Backup:
    """A restorable backup named by the time it was taken: a full export (with the vectors, unless a server owns
    the embedded store) and, for SQLite, an online copy of the database file."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"mcp-memory-{stamp}.jsonl"
    database = folder / f"mcp-memory-{stamp}.sqlite3"
    copied = app.backup_database(database)
    report = run_export(app, str(path), with_embeddings=True, quiet=quiet)
    return Backup(path, report, database if copied else None)


@dataclass
class PurgeReport:
    action: str
    memories: list[tuple[str, str, str]]  # (id, type, title)


def run_purge(app: MemoryApp, agent: str | None, since: str | None, dry_run: bool, forever: bool) -> PurgeReport:
    """``--agent``: delete (into tombstones) every memory one agent wrote; ``--tombstones``: remove tombstones for
    good. ``--dry-run`` only says what it would do."""
    if bool(agent) == forever:
        raise InvalidInput(
            "purge", "needs exactly one of --agent NAME or --tombstones.", "mcp-memory purge --agent worker-7 --dry-run"
        )
    moment = parse_moment(since, "--since") if since else None
    with sole_writer(app):
        if forever:
            buried = purge_tombstones_blocking(app.memory, moment, dry_run)
            return PurgeReport("would be removed for good" if dry_run else "removed for good", buried)
        assert agent is not None
        written = purge_agent_blocking(app.memory, agent, moment, dry_run)
        return PurgeReport(
            "would be deleted" if dry_run else "deleted (restorable until purged with --tombstones)", written
        )


def purge_summary(report: PurgeReport) -> str:
    lines = [f"{len(report.memories):,} memories {report.action}."]
    lines += [
        f"  {item_id}  {memory_type:<13}  {one_line(title)}" for item_id, memory_type, title in report.memories[:200]
    ]
    if len(report.memories) > 200:
        lines.append(f"  ... and {len(report.memories) - 200:,} more")
    return "\n".join(lines)


def run_repair(app: MemoryApp) -> ReconcileReport:
    """Make the vector index agree with the database (see ``MemoryStore.reconcile``)."""
    with sole_writer(app):
        app.open_blocking()
        return app.reconcile(settle_seconds=0.0)  # the sole writer: nothing is in flight


def repair_summary(report: ReconcileReport) -> str:
    return (
        f"Repaired: {report.embedded:,} memories without a vector embedded again, "
        f"{report.removed:,} vectors without a memory removed."
    )


# -- a server that owns the data dir ----------------------------------------------------------------


def owner_of(app: MemoryApp) -> OwnerInfo | None:
    """The server that owns the embedded store of the data dir, if one is running."""
    if app.settings.chroma_url:
        return None
    ownership = StoreOwnership(app.settings.data_dir)
    if not ownership.held_by_other():
        return None
    owner = ownership.owner_info()
    owner.wait_listening()
    return owner


def export_through_owner(
    owner: OwnerInfo, out: TextIO, with_embeddings: bool, progress: Any, project: str | None = None
) -> ExportReport:
    """Have the owning server write the export, streamed over its socket."""
    import httpx2

    from mcp_memory.edge.runner import EXPORT_PATH

    transport = httpx2.HTTPTransport(uds=str(owner.socket_path))
    headers = {"Authorization": f"Bearer {owner.secret}.cli"}
    params = {"with_embeddings": "1" if with_embeddings else "0"}
    if project is not None:
        params["project"] = project
    try:
        with (
            httpx2.Client(transport=transport, timeout=httpx2.Timeout(30.0, read=600.0)) as client,
            client.stream("GET", f"http://localhost{EXPORT_PATH}", headers=headers, params=params) as response,
        ):
            if response.status_code != 200:
                raise Unavailable(
                    f"The server that owns the data dir refused the export (HTTP {response.status_code})."
                )
            return copy_export(response.iter_lines(), out, progress)
    except httpx2.TransportError as exc:
        raise Unavailable(f"Cannot reach the server that owns the data dir ({exc}); run export again.") from exc


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
    counted = f"{memories:,} memories and {report.episodes:,} episodes{vectors}"
    return f"Exported {counted} to {target} in {report.seconds:.1f}s."


# -- recall / stats -------------------------------------------------------------------------------


def run_recall(
    app: MemoryApp, query: str, types: list[MemoryType], language: str | None, n: int, project: str = "*"
) -> RecallResult:
    """The best memories of ``project`` and global ones ("*": every project)."""
    from mcp_memory.memory.validation import normalize_language

    owner = owner_of(app)
    if owner is not None:
        where = {"language": normalize_language(language)} if language else None
        asked = {"query": query, "memory_types": types, "where": where, "n_results": n, "project": project}
        return RecallResult.model_validate(ask_owner(owner, "search_memory", asked))
    app.open_blocking()
    try:
        return anyio.run(
            lambda: app.memory.recall(query, types, n, language=normalize_language(language), project=project)
        )
    finally:
        app.stop_background_work()  # what it recalled counts as used


def recall_table(result: RecallResult) -> str:
    if not result.results:
        return result.note or "Nothing found."
    heads = ["#", "score", "type", "outcome", "language", "title", "id"]
    rows = [
        [rank, f"{hit.score:.3f}", hit.type, hit.outcome, hit.language or "", one_line(hit.title), hit.id]
        for rank, hit in enumerate(result.results, 1)
    ]
    if any(hit.project for hit in result.results):  # a project column once projects show up
        heads.insert(4, "project")
        for row, hit in zip(rows, result.results, strict=True):
            row.insert(4, hit.project or "-")
    return table(heads, rows, align_right=["#", "score"])


def run_stats(app: MemoryApp, project: str = "*") -> tuple[MemoryStats, int]:
    """Counts of ``project`` with the global memories ("*": all), and per project of the whole store."""
    owner = owner_of(app)
    if owner is not None:
        return MemoryStats.model_validate(ask_owner(owner, "memory_stats", {"project": project})), _episode_count(app)
    app.open_blocking()
    stats = anyio.run(lambda: app.memory.stats(project))
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
    if set(stats.by_project) - {""}:
        projects = [[name or "(global)", f"{count:,}"] for name, count in stats.by_project.items()]
        lines += ["", table(["project", "count"], projects, align_right=["count"])]
    return "\n".join(lines)


def _episode_count(app: MemoryApp) -> int:
    return app.episodes.count_blocking()
