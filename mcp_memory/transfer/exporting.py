"""Export of everything remembered as JSON lines: the header, every memory type a page at a time, then the
episodes; export, import and export again gives the same bytes. A streamed export ends with an end line, so a
stream cut short is never taken for a whole one."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from pydantic import BaseModel

from mcp_memory.app import MemoryApp
from mcp_memory.errors import Unavailable
from mcp_memory.transfer.episodes import episode_lines
from mcp_memory.transfer.lines import EXPORTED_TYPES, FORMAT, FORMAT_VERSION, Progress, dumps, memory_line

READ_BATCH = 1000


class ExportReport(BaseModel):
    memories: dict[str, int]
    episodes: int
    with_embeddings: bool
    seconds: float


def export_lines(app: MemoryApp, with_embeddings: bool = False, progress: Progress | None = None) -> Iterator[str]:
    """The export file line by line: header, memories by type and id, then episodes oldest first."""
    return (line for _, line in _export_records(app, with_embeddings, progress))


def export_to(
    app: MemoryApp,
    out: TextIO,
    with_embeddings: bool = False,
    progress: Progress | None = None,
    project: str | None = None,
) -> ExportReport:
    """Write the export (of one project's memories and episodes when ``project`` is given; "" is global)."""
    start = time.monotonic()
    counts: dict[str, int] = {t: 0 for t in (*EXPORTED_TYPES, "episode", "header")}
    for kind, line in _export_records(app, with_embeddings, progress, project):
        out.write(line)
        out.write("\n")
        counts[kind] += 1
    return ExportReport(
        memories={t: counts[t] for t in EXPORTED_TYPES},
        episodes=counts["episode"],
        with_embeddings=with_embeddings,
        seconds=round(time.monotonic() - start, 3),
    )


END_KIND = "end"  # closes a streamed export, so a stream cut short is never taken for a whole one


def streamed_export(app: MemoryApp, with_embeddings: bool, project: str | None = None) -> Iterator[str]:
    """The export as lines ending in a newline, then an end line (what a data dir's owner streams to the CLI)."""
    written = 0
    for _, line in _export_records(app, with_embeddings, None, project):
        written += 1
        yield line + "\n"
    yield dumps({"kind": END_KIND, "lines": written}) + "\n"


def copy_export(lines: Iterable[str], out: TextIO, progress: Progress | None = None) -> ExportReport:
    """Write export lines streamed from elsewhere (the owner of the data dir), counted as ``export_to`` counts."""
    start = time.monotonic()
    counts: dict[str, int] = {t: 0 for t in (*EXPORTED_TYPES, "episode", "header")}
    with_embeddings = False
    written, ended = 0, False
    for line in lines:
        if not line.strip():
            continue
        parsed = json.loads(line)
        kind = parsed.get("type") if parsed.get("kind") == "memory" else parsed.get("kind")
        if kind == END_KIND:
            ended = parsed.get("lines") == written
            break
        written += 1
        if kind == "header":
            with_embeddings = "dimension" in parsed
        counts[kind] = counts.get(kind, 0) + 1
        out.write(line if line.endswith("\n") else line + "\n")
        if progress and kind != "header":
            progress(1)
    if not ended:
        raise Unavailable("The server that owns the data dir stopped sending the export midway; run export again.")
    return ExportReport(
        memories={t: counts[t] for t in EXPORTED_TYPES},
        episodes=counts["episode"],
        with_embeddings=with_embeddings,
        seconds=round(time.monotonic() - start, 3),
    )


def count_exportable(app: MemoryApp, project: str | None = None) -> int:
    """How many records an export (of ``project``) writes (for a progress bar)."""
    app.store.open()
    if project is not None:
        counts = app.store.count_by("project", [project])
        return sum(counts.values()) + app.episodes.store.recent(None, None, 1, [project])[1]
    return sum(app.store.count(t) for t in EXPORTED_TYPES) + _episode_count(app)


def _export_records(
    app: MemoryApp, with_embeddings: bool, progress: Progress | None, project: str | None = None
) -> Iterator[tuple[str, str]]:
    """(kind, line) pairs, kind being a memory type, "episode" or "header"; of ``project`` only when given."""
    header: dict[str, Any] = {
        "kind": "header",
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model": app.embedder.model_name,
    }
    if with_embeddings:
        header["dimension"] = app.embedder.dimension
    yield "header", dumps(header)
    store = app.store
    store.open()
    for memory_type in EXPORTED_TYPES:
        ids = sorted(store.ids(memory_type) if project is None else store.ids(memory_type, {"project": project}))
        for start in range(0, len(ids), READ_BATCH):
            chunk = ids[start : start + READ_BATCH]
            by_id = {item.id: (item, vector) for item, vector in store.exported(memory_type, chunk, with_embeddings)}
            for item_id in chunk:
                if item_id in by_id:  # deleted since the id snapshot: gone, not an error
                    item, vector = by_id[item_id]
                    yield memory_type, dumps(memory_line(memory_type, item, vector))
            if progress:
                progress(len(chunk))
    for episode in episode_lines(app.episodes.store, project):
        yield "episode", dumps(episode)
        if progress:
            progress(1)


def _episode_count(app: MemoryApp) -> int:
    return app.episodes.store.count()
