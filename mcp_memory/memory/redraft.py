"""The text a stored memory was embedded from, rebuilt from its stored fields the way ``drafts.py`` builds it.

Chroma keeps the vector and the shown content, not the embedding text. An import without vectors must
embed exactly what a store would have embedded, or recall would rank imported memories differently.
"""

from __future__ import annotations

import json
from typing import Any

from mcp_memory.errors import InvalidInput
from mcp_memory.memory.drafts import error_draft, knowledge_draft, pattern_draft, solution_draft
from mcp_memory.storage.store import StoredItem

KNOWLEDGE_SOURCES = frozenset({"seed", "knowledge"})


def embed_text_of(item: StoredItem) -> str:
    """What to embed for ``item``; its content when the stored fields do not say how it was drafted."""
    meta = item.metadata
    try:
        fields = json.loads(meta.get("fields_json") or "{}")
        user_metadata = json.loads(meta.get("metadata_json") or "{}")
    except json.JSONDecodeError:
        return item.document
    if not isinstance(fields, dict) or not isinstance(user_metadata, dict):
        return item.document
    try:
        text = _drafted_text(str(meta.get("type", "")), str(meta.get("source", "")), meta, fields, user_metadata, item)
    except (InvalidInput, KeyError, TypeError, ValueError):
        return item.document
    return text if text is not None else item.document


def _drafted_text(
    memory_type: str,
    source: str,
    meta: dict[str, Any],
    fields: dict[str, Any],
    user_metadata: dict[str, Any],
    item: StoredItem,
) -> str | None:
    title = str(meta.get("title", ""))
    language = str(meta.get("language") or "") or None
    if source in KNOWLEDGE_SOURCES and fields.get("knowledge_type"):
        return knowledge_draft(title, item.document, fields["knowledge_type"], user_metadata, source=source).embed_text
    if memory_type == "pattern" and "code" in fields:
        tags = [t for t in str(meta.get("tags", "")).split("|") if t]
        metrics = fields.get("success_metrics") or {}
        return pattern_draft(title, fields["code"], language or "", fields.get("context", ""), metrics, tags).embed_text
    if memory_type == "solution" and "problem" in fields and "solution" in fields:
        metrics = fields.get("success_metrics") or {}
        return solution_draft(
            fields["problem"], fields["solution"], language, fields.get("context", ""), metrics
        ).embed_text
    if memory_type == "error" and "error_message" in fields:
        resolution = str(fields.get("resolution", ""))
        return error_draft(fields["error_message"], fields.get("context", ""), resolution, True, language).embed_text
    return None
