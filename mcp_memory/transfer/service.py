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

import base64
import json
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TextIO

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from mcp_memory.app import MemoryApp
from mcp_memory.errors import Conflict, InvalidInput, Unavailable
from mcp_memory.memory.projects import MAX_PROJECT_CHARS
from mcp_memory.memory.redraft import embed_text_of
from mcp_memory.models import MEMORY_TYPES, MemoryType
from mcp_memory.storage.memory_rows import LEGACY_NOTES_KEY
from mcp_memory.storage.store import StoredItem
from mcp_memory.transfer.episodes import EpisodeLine, episode_lines, insert_episodes

FORMAT = "mcp-memory"
FORMAT_VERSION = 1
# Episode vectors are derived from the episode records and rebuilt on import; they are not exported.
EXPORTED_TYPES: tuple[MemoryType, ...] = tuple(t for t in MEMORY_TYPES if t != "episode")
READ_BATCH = 1000
WRITE_BATCH = 1000
EPISODE_BATCH = 200
MAX_REPORTED_BAD_LINES = 1000
# A line is read into memory whole, and parsing takes several times its size: longer ones are bad lines, skipped
# without being read in. Generous, because an episode line carries all of its events.
MAX_LINE_BYTES = 32 * 2**20
# A stored text joins at most three text arguments (a solution's problem, solution and context) and their labels.
CONTENT_PARTS = 3
CONTENT_LABEL_CHARS = 100

Progress = Callable[[int], None]


class Header(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["header"]
    format: Literal["mcp-memory"]
    version: int = Field(ge=1, le=FORMAT_VERSION)
    model: str = Field(description="The embedding model of the store that wrote the file.")
    dimension: int | None = Field(default=None, ge=1, description="Length of the vectors, when the file has them.")


class MemoryLine(BaseModel):
    """One memory as exported: id, type, shown content, Chroma metadata, and optionally its vector."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["memory"]
    id: str = Field(min_length=1, max_length=200)
    type: MemoryType
    content: str
    metadata: dict[str, StrictStr | StrictBool | StrictInt | StrictFloat]
    embedding: str | list[float] | None = None

    def vector(self) -> np.ndarray | None:
        """The vector as float32, checked for shape and finite values (its length is checked per file)."""
        if self.embedding is None:
            return None
        if isinstance(self.embedding, str):
            raw = base64.b64decode(self.embedding, validate=True)
            if not raw or len(raw) % 4:
                raise ValueError(f"embedding is {len(raw)} bytes, not a whole number of float32 values")
            vector = np.frombuffer(raw, dtype="<f4")
        else:
            vector = np.asarray(self.embedding, dtype=np.float32)
            if vector.ndim != 1 or not vector.size:
                raise ValueError("embedding is not a flat, non-empty list of numbers")
        if not np.all(np.isfinite(vector)):
            raise ValueError("embedding holds NaN or infinite values")
        return vector


Line = Annotated[Header | MemoryLine | EpisodeLine, Field(discriminator="kind")]
LINE = TypeAdapter(Line)


class BadLine(BaseModel):
    line: int
    error: str


class ExportReport(BaseModel):
    memories: dict[str, int]
    episodes: int
    with_embeddings: bool
    seconds: float


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


# -- export ---------------------------------------------------------------------------------------


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
    yield _dumps({"kind": END_KIND, "lines": written}) + "\n"


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
    yield "header", _dumps(header)
    store = app.store
    store.open()
    for memory_type in EXPORTED_TYPES:
        ids = sorted(store.ids(memory_type) if project is None else store.find_ids(memory_type, {"project": project}))
        for start in range(0, len(ids), READ_BATCH):
            chunk = ids[start : start + READ_BATCH]
            by_id = {item.id: (item, vector) for item, vector in store.exported(memory_type, chunk, with_embeddings)}
            for item_id in chunk:
                if item_id in by_id:  # deleted since the id snapshot: gone, not an error
                    item, vector = by_id[item_id]
                    yield memory_type, _dumps(_memory_line(memory_type, item, vector))
            if progress:
                progress(len(chunk))
    for episode in episode_lines(app.episodes.store, project):
        yield "episode", _dumps(episode)
        if progress:
            progress(1)


def _memory_line(memory_type: MemoryType, item: StoredItem, vector: Any) -> dict[str, Any]:
    # Chroma hands metadata back in no fixed key order; sorted keys make equal stores export equal bytes.
    metadata = dict(sorted(item.metadata.items()))
    line: dict[str, Any] = {
        "kind": "memory",
        "id": item.id,
        "type": memory_type,
        "content": item.document,
        "metadata": metadata,
    }
    if vector is not None:
        line["embedding"] = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return line


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _episode_count(app: MemoryApp) -> int:
    return app.episodes.store.count()


# -- import ---------------------------------------------------------------------------------------


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
    for number, line in _numbered_lines(path):
        try:
            if line is None:
                raise ValueError(f"the line is longer than {MAX_LINE_BYTES // 2**20} MiB; it was not read")
            parsed = _parse(line)
            if isinstance(parsed, MemoryLine):
                _check_memory(parsed, max_text_chars)
            dimension = _dimension(parsed, header)
        except ValueError as exc:
            yield number, exc, None
            continue
        if isinstance(parsed, Header):
            header = parsed
        yield number, parsed, dimension


def _dimension(parsed: Header | MemoryLine | EpisodeLine, header: Header | None) -> int | None:
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
            items = [StoredItem(line.id, line.content, _metadata(line)) for line in new]
            vectors = [line.vector() for line in new]
            missing = [i for i, v in enumerate(vectors) if v is None]
            if missing:
                texts = [embed_text_of(items[i]) for i in missing]
                encoded = self.app.embedder.encode_batch(texts)
                for i, vector in zip(missing, encoded, strict=True):
                    vectors[i] = vector
                self.report.embedded += len(set(texts))
            self.writer.put(memory_type, items, np.vstack(vectors))
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


def _metadata(line: MemoryLine) -> dict[str, Any]:
    metadata: dict[str, Any] = dict(line.metadata)
    metadata.setdefault("type", line.type)
    return metadata


def _numbered_lines(path: Path) -> Iterator[tuple[int, bytes | None]]:
    """Non-blank lines with their numbers, as bytes (a line that is not UTF-8 is one bad line, not a bad file);
    None for a line longer than ``MAX_LINE_BYTES``, which is skipped a megabyte at a time."""
    with path.open("rb") as handle:
        number = 0
        while line := handle.readline(MAX_LINE_BYTES + 1):
            number += 1
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                while (rest := handle.readline(2**20)) and not rest.endswith(b"\n"):
                    pass
                yield number, None
            elif line.strip():
                yield number, line


def _parse(line: bytes) -> Header | MemoryLine | EpisodeLine:
    """One line read and checked, but for its vector (``_dimension`` decodes and checks that); ValueError says what
    is wrong with it."""
    try:
        parsed = LINE.validate_json(line)
    except PydanticValidationError as exc:
        raise ValueError(_first_problem(exc)) from None
    if isinstance(parsed, MemoryLine) and parsed.metadata.get("type", parsed.type) != parsed.type:
        raise ValueError(f"metadata type {parsed.metadata['type']!r} differs from type {parsed.type!r}")
    return parsed


# Metadata the services read back with a fixed type; anything else of a memory's metadata is kept as it is.
_COUNTERS = ("usage_count", "success_count", "failure_count")
_TIMES = ("created_at", "updated_at")
_TEXTS = ("type", "title", "language", "agent", "source", "content_hash", "tags", "signature", "last_failure_note")
_TEXTS += ("project",)  # at most MAX_PROJECT_CHARS, the column's width
_JSON_OBJECTS = ("fields_json", "metadata_json")


def _check_memory(line: MemoryLine, max_text_chars: int) -> None:
    """What a store through the tools could have written: text no longer than theirs, and metadata of the types
    every reader expects (a counter that is not a number would break each search that reads it)."""
    longest = CONTENT_PARTS * max_text_chars + CONTENT_LABEL_CHARS
    if len(line.content) > longest:
        raise ValueError(
            f"content: {len(line.content):,} characters; stores take at most {longest:,} "
            "(MCP_MEMORY_MAX_TEXT_CHARS per text argument)"
        )
    metadata = line.metadata
    for key, value in metadata.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"metadata.{key}: {value} is not a finite number")
    for key in _COUNTERS:
        if key in metadata and not (_is_int(metadata[key]) and metadata[key] >= 0):
            raise ValueError(f"metadata.{key}: {metadata[key]!r} is not a whole number of 0 or more")
    for key in _TIMES:
        if key in metadata and not (_is_number(metadata[key]) and metadata[key] >= 0):
            raise ValueError(f"metadata.{key}: {metadata[key]!r} is not a Unix time in seconds")
    for key in _TEXTS:
        if key in metadata and not isinstance(metadata[key], str):
            raise ValueError(f"metadata.{key}: {metadata[key]!r} is not a string")
    if len(metadata.get("project") or "") > MAX_PROJECT_CHARS:
        raise ValueError(f"metadata.project: longer than {MAX_PROJECT_CHARS} characters")
    for key in _JSON_OBJECTS:
        if key in metadata and not isinstance(_json_or_none(metadata[key]), dict):
            raise ValueError(f'metadata.{key}: is not a JSON object in a string, e.g. "{{}}"')
    if LEGACY_NOTES_KEY in metadata:
        notes = _json_or_none(metadata[LEGACY_NOTES_KEY])
        if not isinstance(notes, list) or not all(isinstance(note, dict) for note in notes):
            raise ValueError(f"metadata.{LEGACY_NOTES_KEY}: is not a JSON list of objects in a string")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, float)


def _json_or_none(value: Any) -> Any:
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _first_problem(exc: PydanticValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    text = f"{where}: {first['msg']}" if where else first["msg"]
    return text + (f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else "")
