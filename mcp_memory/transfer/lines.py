"""The export file format: a header line, then one JSON line per memory and per episode, each checked field by
field. Memory lines keep their metadata verbatim and, with embeddings, their vector (base64 of little-endian
float32, exact to the bit)."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from mcp_memory.memory.projects import MAX_PROJECT_CHARS
from mcp_memory.models import MEMORY_TYPES, MemoryType
from mcp_memory.storage.memory_rows import LEGACY_NOTES_KEY
from mcp_memory.storage.store import StoredItem
from mcp_memory.transfer.episodes import EpisodeLine

FORMAT = "mcp-memory"


FORMAT_VERSION = 1


# Episode vectors are derived from the episode records and rebuilt on import; they are not exported.
EXPORTED_TYPES: tuple[MemoryType, ...] = tuple(t for t in MEMORY_TYPES if t != "episode")


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


def memory_line(memory_type: MemoryType, item: StoredItem, vector: Any) -> dict[str, Any]:
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


def dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def stored_metadata(line: MemoryLine) -> dict[str, Any]:
    metadata: dict[str, Any] = dict(line.metadata)
    metadata.setdefault("type", line.type)
    return metadata


def numbered_lines(path: Path) -> Iterator[tuple[int, bytes | None]]:
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


def parse(line: bytes) -> Header | MemoryLine | EpisodeLine:
    """One line read and checked, but for its vector (``vector_dimension`` decodes and checks that); ValueError says
    what is wrong with it."""
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


_TEXTS = (
    *("type", "title", "language", "agent", "source", "content_hash", "tags", "signature", "last_failure_note"),
    "project",  # at most MAX_PROJECT_CHARS, the column's width
)
_JSON_OBJECTS = ("fields_json", "metadata_json")


def check_memory(line: MemoryLine, max_text_chars: int) -> None:
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
        count = metadata.get(key, 0)
        if not (isinstance(count, int) and not isinstance(count, bool) and count >= 0):
            raise ValueError(f"metadata.{key}: {count!r} is not a whole number of 0 or more")
    for key in _TIMES:
        moment = metadata.get(key, 0)
        if not (isinstance(moment, int | float) and not isinstance(moment, bool) and moment >= 0):
            raise ValueError(f"metadata.{key}: {moment!r} is not a Unix time in seconds")
    for key in _TEXTS:
        if key in metadata and not isinstance(metadata[key], str):
            raise ValueError(f"metadata.{key}: {metadata[key]!r} is not a string")
    project = metadata.get("project")
    if isinstance(project, str) and len(project) > MAX_PROJECT_CHARS:
        raise ValueError(f"metadata.project: longer than {MAX_PROJECT_CHARS} characters")
    for key in _JSON_OBJECTS:
        if key in metadata and not isinstance(_json_or_none(metadata[key]), dict):
            raise ValueError(f'metadata.{key}: is not a JSON object in a string, e.g. "{{}}"')
    if LEGACY_NOTES_KEY in metadata:
        notes = _json_or_none(metadata[LEGACY_NOTES_KEY])
        if not isinstance(notes, list) or not all(isinstance(note, dict) for note in notes):
            raise ValueError(f"metadata.{LEGACY_NOTES_KEY}: is not a JSON list of objects in a string")


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
