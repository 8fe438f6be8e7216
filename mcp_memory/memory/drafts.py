"""Turning tool arguments into memory drafts: what is shown, what is embedded, what defines identity."""

from __future__ import annotations

from typing import Any

from mcp_memory.memory.records import MemoryDraft, normalize_code, normalize_prose
from mcp_memory.memory.validation import normalize_language
from mcp_memory.models import KnowledgeType, MemoryType

KNOWLEDGE_TYPES: dict[KnowledgeType, MemoryType] = {
    "pattern": "pattern",
    "best_practice": "best_practice",
    "error": "error",
    "solution": "solution",
}


def pattern_draft(
    pattern_name: str,
    code: str,
    language: str,
    context: str,
    success_metrics: dict[str, Any],
    tags: list[str],
    agent: str | None = None,
    source: str = "agent",
) -> MemoryDraft:
    language_name = normalize_language(language)
    header = f"{pattern_name} ({language_name})" + (f": {context}" if context.strip() else "")
    return MemoryDraft(
        type="pattern",
        title=pattern_name,
        content=code,
        embed_text=f"{header}\n{' '.join(tags)}\n{code}",
        identity_text=f"{language_name}\n{normalize_code(code)}",
        language=language_name,
        fields={"code": code, "context": context, "success_metrics": success_metrics},
        tags=tags,
        metadata={"success_rate": success_metrics["success_rate"]}
        if _is_number(success_metrics.get("success_rate"))
        else {},
        source=source,
        agent=agent,
        success=_success_from_metrics(success_metrics),
    )


def solution_draft(
    problem: str,
    solution: str,
    language: str | None,
    context: str,
    success_metrics: dict[str, Any],
    agent: str | None = None,
    source: str = "agent",
) -> MemoryDraft:
    language_name = normalize_language(language)
    return MemoryDraft(
        type="solution",
        title=problem,
        content=f"Problem: {problem}\n\nSolution:\n{solution}" + (f"\n\nContext: {context}" if context.strip() else ""),
        embed_text=f"{problem}\n{context}\n{solution}",
        identity_text=f"{normalize_prose(problem)}\n{normalize_code(solution)}",
        language=language_name,
        fields={"problem": problem, "solution": solution, "context": context, "success_metrics": success_metrics},
        source=source,
        agent=agent,
        success=_success_from_metrics(success_metrics),
    )


def error_draft(
    error_message: str,
    context: str,
    resolution: str,
    success: bool,
    language: str | None = None,
    agent: str | None = None,
    source: str = "agent",
) -> MemoryDraft:
    verdict = "Resolution (worked)" if success else "Attempted fix (did NOT work)"
    content = (
        f"Error: {error_message}\n" + (f"Context: {context}\n" if context.strip() else "") + f"{verdict}: {resolution}"
    )
    return MemoryDraft(
        type="error",
        title=error_message.strip().splitlines()[-1][:300] if error_message.strip() else error_message,
        content=content,
        # The error text leads: queries are error messages, and MiniLM reads only the first 256 word pieces.
        embed_text=f"{error_message}\n{context}",
        identity_text=f"{normalize_prose(error_message)}\n{normalize_prose(resolution)}",
        language=normalize_language(language),
        fields={"error_message": error_message, "context": context, "resolution": resolution},
        source=source,
        agent=agent,
        success=success,
    )


def knowledge_draft(
    title: str,
    content: str,
    knowledge_type: KnowledgeType,
    metadata: dict[str, Any],
    source: str = "knowledge",
    fixed_id: str | None = None,
) -> MemoryDraft:
    listed = metadata.get("tags")
    tags: list[Any] = listed if isinstance(listed, list) else []
    fields: dict[str, Any] = {"knowledge_type": knowledge_type}
    if isinstance(metadata.get("error_message"), str):
        fields["error_message"] = metadata["error_message"]
    embed_lead = fields.get("error_message", title)
    return MemoryDraft(
        type=KNOWLEDGE_TYPES[knowledge_type],
        title=title,
        content=content,
        embed_text=f"{embed_lead}\n{title}\n{metadata.get('summary', '')}\n{content}",
        identity_text=f"{normalize_prose(title)}\n{normalize_code(content)}",
        language=normalize_language(metadata.get("language")) if isinstance(metadata.get("language"), str) else None,
        fields=fields,
        tags=[str(t) for t in tags],
        metadata=metadata,
        source=source,
        agent=None,
        success=True if knowledge_type == "error" else None,
        fixed_id=fixed_id,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _success_from_metrics(metrics: dict[str, Any]) -> bool | None:
    """A store with success metrics counts as a success or failure; without them, as neither."""
    if isinstance(metrics.get("success"), bool):
        return metrics["success"]
    rate = metrics.get("success_rate")
    if isinstance(rate, int | float) and not isinstance(rate, bool):
        return float(rate) >= 0.5
    return None
