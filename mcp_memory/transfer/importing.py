"""Export and import of everything remembered, as JSON lines: lossless, batched, idempotent.

A file is a header line, then one line per memory and one per episode (its events inside). Memories
keep their Chroma metadata verbatim (counters, timestamps, content hash), so export → import → export
gives the same bytes. With embeddings, a memory line carries its vector (base64 of little-endian
float32, exact to the bit) and import does not run the model for it.

Import reads the file twice. The first pass checks every line; a bad line is reported with its number
and, unless ``skip_bad`` is set, nothing is written at all. The second pass writes in batches: ids are
content hashes, so a memory or episode already stored is left as it is and re-running an import (after
a crash, or twice) only adds what is missing. Text already stored is never embedded again, and equal
texts in one batch are embedded once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self, cast

import numpy as np
from pydantic import BaseModel, Field

from mcp_memory.app import MemoryApp
from mcp_memory.errors import Conflict, InvalidInput
from mcp_memory.memory.redraft import embed_text_of
from mcp_memory.models import MEMORY_TYPES, MemoryType
from mcp_memory.storage.store import StoredItem
from mcp_memory.transfer.episodes import EpisodeLine, insert_episodes
from mcp_memory.transfer.lines import (
    MAX_LINE_BYTES,
    BadLine,
    Header,
    MemoryLine,
    Progress,
    check_memory,
    numbered_lines,
    parse,
    stored_metadata,
)

WRITE_BATCH = 1000


EPISODE_BATCH = 200


MAX_REPORTED_BAD_LINES = 1000


class ImportReport(BaseModel):
    """What an import did; bad lines are listed even when they were skipped."""

    lines: int
    memories_added: int = 0
    memories_present: int = Field(default=0, description="Already stored (or repeated in the file): left as they are.")
    episodes_added: int = 0
    episodes_present: int = 0
    embedded: int = Field(default=0, description="Distinct texts given to the model (the rest came with vectors).")
    bad_lines: list[BadLine] = Field(default_factory=list)
    seconds: float = 0.0


class BadImportFile(InvalidInput):
    """The file has bad lines and nothing was imported."""

    def __init__(self, path: Path, bad_lines: list[BadLine], total_bad: int) -> None:
        self.bad_lines = bad_lines
        shown = "; ".join(f"line {b.line}: {b.error}" for b in bad_lines[:5])
        more = f" (and {total_bad - 5} more)" if total_bad > 5 else ""
        super().__init__(
            "file",
            f"{path} has {total_bad} bad line(s), so nothing was imported: {shown}{more}.",
            "Fix them, or pass --skip-bad to import the good lines and list the bad ones.",
        )


@dataclass
class FileCheck:
    """What the first pass found: good records, bad lines (the first 1,000), the header, lines with vectors
    and the lengths of those vectors."""

    records: int = 0
    bad: list[BadLine] = field(default_factory=list)
    bad_total: int = 0
    header: Header | None = None
    with_vectors: int = 0
    dimensions: set[int] = field(default_factory=set)


def check_file(path: Path, max_text_chars: int) -> FileCheck:
    """First pass: read and check every line without writing anything."""
    found = FileCheck()
    for number, parsed, dimension in _checked_lines(path, max_text_chars):
        if isinstance(parsed, ValueError):
            found.bad_total += 1
            if len(found.bad) < MAX_REPORTED_BAD_LINES:
                found.bad.append(BadLine(line=number, error=str(parsed)))
            continue
        if isinstance(parsed, Header):
            found.header = parsed
        else:
            found.records += 1
        if dimension is not None:
            found.with_vectors += 1
            found.dimensions.add(dimension)
    return found


def _checked_lines(
    path: Path, max_text_chars: int
) -> Iterator[tuple[int, Header | MemoryLine | EpisodeLine | ValueError, int | None]]:
    """Every line checked — the same way by both passes — with its vector's length; a bad line comes as the
    ValueError saying what is wrong with it."""
    header: Header | None = None
    for number, line in numbered_lines(path):
        try:
            if line is None:
                raise ValueError(f"the line is longer than {MAX_LINE_BYTES // 2**20} MiB; it was not read")
            parsed = parse(line)
            if isinstance(parsed, MemoryLine):
                check_memory(parsed, max_text_chars)
            dimension = vector_dimension(parsed, header)
        except ValueError as exc:
            yield number, exc, None
            continue
        if isinstance(parsed, Header):
            header = parsed
        yield number, parsed, dimension


def vector_dimension(parsed: Header | MemoryLine | EpisodeLine, header: Header | None) -> int | None:
    """The length of a memory line's vector (None without one); it must be the one the header announced."""
    vector = parsed.vector() if isinstance(parsed, MemoryLine) else None
    if vector is None:
        return None
    if header is not None and header.dimension is not None and vector.size != header.dimension:
        raise ValueError(f"embedding has {vector.size} dimensions; the header says {header.dimension}")
    return int(vector.size)


def import_file(
    app: MemoryApp,
    path: Path,
    *,
    skip_bad: bool = False,
    batch_size: int = WRITE_BATCH,
    progress: Progress | None = None,
    checked: FileCheck | None = None,
) -> ImportReport:
    """Import an export file into ``app``'s store; see the module docstring for the guarantees."""
    start = time.monotonic()
    found = checked or check_file(path, app.settings.max_text_chars)
    if found.bad_total and not skip_bad:
        raise BadImportFile(path, found.bad, found.bad_total)
    if found.with_vectors:
        _check_vectors_fit(app, path, found)
    report = ImportReport(lines=found.records + found.bad_total, bad_lines=found.bad)
    app.store.open()
    with _Writer(app) as writer:
        importer = _Importer(app, writer, report, batch_size, progress)
        for _, parsed, _ in _checked_lines(path, app.settings.max_text_chars):
            if not isinstance(parsed, ValueError):  # a bad line was reported by the first pass
                importer.take(parsed)
        importer.flush_all()
    if report.memories_added:
        app.memory.mark_changed()  # results cached in this process predate the import
    if report.episodes_added:
        app.episodes.finish_pending_blocking()  # digests, words and summary vectors of the new episodes
    report.seconds = round(time.monotonic() - start, 3)
    return report


def _check_vectors_fit(app: MemoryApp, path: Path, found: FileCheck) -> None:
    """Vectors are imported as they are only when the model that made them is this store's model."""
    model, dimension = app.embedder.model_name, app.embedder.dimension
    header = found.header
    made_by = header.model if header is not None else None
    if (made_by is not None and made_by != model) or found.dimensions != {dimension}:
        lengths = ", ".join(str(d) for d in sorted(found.dimensions))
        raise Conflict(
            f"{path} carries vectors of the model {made_by or '(not named)'} ({lengths} dimensions); this store uses "
            f"{model} ({dimension}). Export it again without --with-embeddings, or import it into a store of "
            f"{made_by or 'that model'} (MCP_MEMORY_MODEL)."
        )


class _Importer:
    """Buffers lines per type and writes them in batches."""

    def __init__(
        self, app: MemoryApp, writer: _Writer, report: ImportReport, batch_size: int, progress: Progress | None
    ) -> None:
        self.app = app
        self.writer = writer
        self.report = report
        self.batch_size = batch_size
        self.progress = progress
        self.memories: dict[MemoryType, list[MemoryLine]] = {t: [] for t in MEMORY_TYPES}
        self.episodes: list[EpisodeLine] = []
        self.seen: set[str] = set()

    def take(self, parsed: Header | MemoryLine | EpisodeLine) -> None:
        if isinstance(parsed, MemoryLine):
            buffer = self.memories[parsed.type]
            buffer.append(parsed)
            if len(buffer) >= self.batch_size:
                self.flush_memories(parsed.type)
        elif isinstance(parsed, EpisodeLine):
            self.episodes.append(parsed)
            if len(self.episodes) >= EPISODE_BATCH:
                self.flush_episodes()

    def flush_all(self) -> None:
        for memory_type in MEMORY_TYPES:
            self.flush_memories(memory_type)
        self.flush_episodes()

    def flush_memories(self, memory_type: MemoryType) -> None:
        lines, self.memories[memory_type] = self.memories[memory_type], []
        if not lines:
            return
        fresh: dict[str, MemoryLine] = {}
        for line in lines:
            if line.id not in self.seen:
                fresh[line.id] = line
        present = {item.id for item in self.app.store.get(memory_type, list(fresh))} if fresh else set()
        new = [line for item_id, line in fresh.items() if item_id not in present]
        self.seen.update(fresh)
        self.report.memories_present += len(lines) - len(new)
        if new:
            items = [StoredItem(line.id, line.content, stored_metadata(line)) for line in new]
            vectors = [line.vector() for line in new]
            missing = [i for i, v in enumerate(vectors) if v is None]
            if missing:
                texts = [embed_text_of(items[i]) for i in missing]
                encoded = self.app.embedder.encode_batch(texts)
                for i, vector in zip(missing, encoded, strict=True):
                    vectors[i] = vector
                self.report.embedded += len(set(texts))
            self.writer.put(memory_type, items, np.vstack(cast(list[np.ndarray], vectors)))
            self.report.memories_added += len(new)
        if self.progress:
            self.progress(len(lines))

    def flush_episodes(self) -> None:
        episodes, self.episodes = self.episodes, []
        if not episodes:
            return
        added = insert_episodes(self.app.episodes.store, episodes)
        self.report.episodes_added += added
        self.report.episodes_present += len(episodes) - added
        if self.progress:
            self.progress(len(episodes))


class _Writer:
    """Writes batches to Chroma in a thread of its own, so the model encodes the next batch meanwhile."""

    def __init__(self, app: MemoryApp) -> None:
        self.store = app.store
        self.queue: queue.Queue[tuple[MemoryType, list[StoredItem], np.ndarray] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="mcp-memory-import-writer", daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None and exc_info[0] is None:
            raise self.error

    def put(self, memory_type: MemoryType, items: list[StoredItem], vectors: np.ndarray) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((memory_type, items, vectors))

    def _run(self) -> None:
        while (batch := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.store.add_missing(batch[0], batch[1], batch[2])  # type: ignore[arg-type]
                except BaseException as exc:
                    self.error = exc
