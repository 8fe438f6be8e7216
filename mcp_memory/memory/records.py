"""How a memory is laid out in Chroma: identity by content, flat metadata, and the way back to a record."""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mcp_memory.memory.error_signature import error_signature
from mcp_memory.memory.moments import age_in_words
from mcp_memory.models import MemoryRecord, MemoryType, Outcome, StoreResult

if TYPE_CHECKING:  # types only: the module stays importable before the storage layer is
    from mcp_memory.storage.memory_rows import StoredItem

ID_PREFIXES: dict[MemoryType, str] = {
    "pattern": "pat",
    "solution": "sol",
    "error": "err",
    "best_practice": "bp",
    "episode": "ep",
}
# Keys we own in Chroma metadata; user metadata with these names is kept only in metadata_json.
RESERVED_KEYS = frozenset(
    {
        "type",
        "title",
        "language",
        "created_at",
        "updated_at",
        "content_hash",
        "usage_count",
        "success_count",
        "failure_count",
        "agent",
        "source",
        "tags",
        "fields_json",
        "metadata_json",
        "signature",
        "outcome_notes_json",
        "last_failure_note",
        "store_id",
        "agent_role",
        "project",
    }
)
# Where a memory came from, written by the server (from a token, an episode, a consensus): never from a caller's
# metadata, which could otherwise pass for provenance.
PROVENANCE_KEYS = frozenset(
    {
        "agent",
        "agent_role",
        "source",
        "episode_id",
        "consensus_id",
        "consensus_score",
        "consensus_votes",
        "consensus_candidates",
        "consensus_result",
        "solution_id",
        "pattern_ids",
        "part_of",
        "part",
        "parts",
        "store_id",
    }
)
# Keys a caller's metadata may not carry (``language``, ``tags`` and ``project`` are read from it on purpose).
CALLER_RESERVED_KEYS = (RESERVED_KEYS | PROVENANCE_KEYS) - {"language", "tags", "project"}
LOCAL_AGENT = "local"  # who wrote a memory when no token names the caller


def voter_of(agent: str | None, agent_role: str | None) -> str:
    """Whose vote an outcome is: the token's agent; without tokens (everyone is ``local``), the role it names."""
    if agent and agent != LOCAL_AGENT:
        return agent
    return agent_role or LOCAL_AGENT


@dataclass
class MemoryDraft:
    """A memory about to be stored, before it has an id or counters."""

    type: MemoryType
    title: str
    content: str
    embed_text: str
    identity_text: str
    language: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = "agent"
    agent: str | None = None  # the token's agent (or ``local``): provenance no argument can set
    agent_role: str | None = None  # the role the caller says it plays: a label
    success: bool | None = None
    fixed_id: str | None = None
    project: str = ""  # "" is global


def normalize_code(code: str) -> str:
    """Same code with other line endings, indentation or trailing spaces normalizes the same."""
    lines = [line.rstrip() for line in code.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return textwrap.dedent("\n".join(lines)).strip("\n")


def normalize_prose(text: str) -> str:
    """Prose compared modulo white space."""
    return re.sub(r"\s+", " ", text).strip()


def content_hash(memory_type: MemoryType, identity_text: str) -> str:
    return hashlib.sha256(f"{memory_type}\x00{identity_text}".encode()).hexdigest()


def memory_id(memory_type: MemoryType, digest: str, project: str = "") -> str:
    """The id of content with this digest: global memories keep the id they always had; in a project, the same
    content is another memory, with another id."""
    if project:
        digest = hashlib.sha256(f"{digest}\x00project\x00{project}".encode()).hexdigest()
    return f"{ID_PREFIXES[memory_type]}_{digest[:24]}"


def draft_id(draft: MemoryDraft, digest: str) -> str:
    """The id a draft is stored under: its fixed id, or the one its content and project give it."""
    return draft.fixed_id or memory_id(draft.type, digest, draft.project)


def type_for_id(memory_id_: str) -> MemoryType | None:
    """The memory type an id belongs to, from its prefix (None when the id has no known prefix)."""
    prefix = memory_id_.split("_", 1)[0]
    for memory_type, known in ID_PREFIXES.items():
        if prefix == known:
            return memory_type
    if memory_id_.startswith("seed_"):
        kind = memory_id_.split("_")[1] if memory_id_.count("_") >= 2 else ""
        seeded: dict[str, MemoryType] = {"pattern": "pattern", "bestpractice": "best_practice", "error": "error"}
        return seeded.get(kind)
    return None


def new_metadata(draft: MemoryDraft, digest: str, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    metadata: dict[str, Any] = {
        key: value
        for key, value in draft.metadata.items()
        if key not in RESERVED_KEYS and isinstance(value, str | int | float | bool)
    }
    metadata.update(
        {
            "type": draft.type,
            "title": draft.title[:500],
            "language": draft.language or "",
            "created_at": now,
            "updated_at": now,
            "content_hash": digest,
            "usage_count": 1,
            "success_count": 1 if draft.success is True else 0,
            "failure_count": 1 if draft.success is False else 0,
            "agent": draft.agent or "",
            "agent_role": draft.agent_role or "",
            "source": draft.source,
            "tags": "|" + "|".join(draft.tags) + "|" if draft.tags else "",
            "fields_json": json.dumps(draft.fields, ensure_ascii=False),
            "metadata_json": json.dumps(draft.metadata, ensure_ascii=False, default=str),
        }
    )
    if draft.project:  # global memories carry no project key, as they did before projects
        metadata["project"] = draft.project
    if draft.type == "error":  # exact-signature matches rank first (see ranking.py)
        metadata["signature"] = error_signature(str(draft.fields.get("error_message") or draft.title))
    return metadata


def outcome_of(success_count: int, failure_count: int) -> Outcome:
    if success_count and failure_count:
        return "mixed"
    if success_count:
        return "worked"
    if failure_count:
        return "failed"
    return "unknown"


def iso_time(timestamp: Any) -> str:
    return datetime.fromtimestamp(float(timestamp or 0), tz=UTC).isoformat(timespec="seconds")


def to_record(item: StoredItem, now: float | None = None) -> MemoryRecord:
    return MemoryRecord(**record_fields(item, now))


def record_fields(item: StoredItem, now: float | None = None) -> dict[str, Any]:
    """A ``MemoryRecord``'s fields of a stored item, for a record or a subclass (a hit) to validate once."""
    meta = item.metadata
    now = time.time() if now is None else now
    success_count = int(meta.get("success_count", 0))
    failure_count = int(meta.get("failure_count", 0))
    tags = [t for t in str(meta.get("tags", "")).split("|") if t]
    return dict(
        id=item.id,
        type=meta.get("type", "pattern"),
        title=str(meta.get("title", "")),
        content=item.document,
        language=meta.get("language") or None,
        fields=json.loads(meta.get("fields_json") or "{}"),
        tags=tags,
        metadata=json.loads(meta.get("metadata_json") or "{}"),
        source=str(meta.get("source", "agent")),
        agent=meta.get("agent") or None,
        agent_role=meta.get("agent_role") or None,
        project=str(meta.get("project") or ""),
        created_at=iso_time(meta.get("created_at")),
        created_ago=age_in_words(_seconds(meta.get("created_at")), now),
        updated_at=iso_time(meta.get("updated_at")),
        updated_ago=age_in_words(_seconds(meta.get("updated_at")), now),
        content_hash=str(meta.get("content_hash", "")),
        usage_count=int(meta.get("usage_count", 0)),
        success_count=success_count,
        failure_count=failure_count,
        outcome=outcome_of(success_count, failure_count),
    )


def _seconds(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def store_result(
    item_id: str,
    memory_type: MemoryType,
    metadata: dict[str, Any],
    *,
    duplicate: bool,
    updated: bool = False,
    revived: bool = False,
    merged: bool = False,
) -> StoreResult:
    """What a store call answers: the id, whether it was known already, and the counters as they now are."""
    if merged:
        message = f"Already known: merged into {item_id}, which counted this use."
    elif revived:
        message = "Already known and archived: counted this use and brought it back into recall."
    elif duplicate:
        message = "Already known: counted this use instead of storing a second copy."
    elif updated:
        message = "Replaced the stored content with the new version."
    else:
        message = "Stored."
    return StoreResult(
        id=item_id,
        type=memory_type,
        duplicate=duplicate,
        updated=updated,
        usage_count=int(metadata["usage_count"]),
        success_count=int(metadata["success_count"]),
        failure_count=int(metadata["failure_count"]),
        message=message,
    )
