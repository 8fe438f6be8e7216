"""Extracted patterns as memory drafts: one record per distinct structure, long code in searchable parts.

Identity is the language and the structure hash, so the same unit with renamed locals, other comments or
another layout is the same memory (and only its counts go up). The embedded text is the description followed
by the code. The model reads a window of word pieces (256 for MiniLM); code longer than that is split on line
boundaries: the first piece is embedded with the description in the pattern itself, every further piece is stored
as a *part* — a pattern record of its own whose ``part_of`` names the whole pattern — so every line of a long unit
can be found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcp_memory.extraction import ExtractedPattern, ExtractionResult, chunk_text
from mcp_memory.learning.consensus import ConsensusInput
from mcp_memory.memory.records import MemoryDraft, content_hash, memory_id

SPECIAL_TOKENS = 2  # [CLS] and [SEP] take two of the window's positions
MIN_CODE_TOKENS = 64
TokenCounter = Callable[[str], int]


@dataclass
class PatternPlan:
    """A pattern about to be stored: the record, its extra parts, and the extracted patterns it stands for."""

    id: str
    main: MemoryDraft
    patterns: list[ExtractedPattern]
    parts: list[MemoryDraft] = field(default_factory=list)

    @property
    def primary(self) -> ExtractedPattern:
        return self.patterns[0]

    @property
    def kinds(self) -> list[str]:
        return list(dict.fromkeys(p.kind for p in self.patterns))


def pattern_identity(language_name: str, structure_hash: str) -> str:
    return f"{language_name}\nstructure {structure_hash}"


def group_by_structure(patterns: list[ExtractedPattern]) -> list[list[ExtractedPattern]]:
    """Patterns with one structure hash together, in order of first appearance.

    A function and its async or algorithm view share their code and hash, so they become one memory.
    """
    groups: dict[str, list[ExtractedPattern]] = {}
    for pattern in patterns:
        groups.setdefault(pattern.structure_hash, []).append(pattern)
    return list(groups.values())


def plan_patterns(
    result: ExtractionResult,
    inputs: ConsensusInput,
    provenance: dict[str, Any],
    agent: str | None,
    count_tokens: TokenCounter,
    window: int,
    project: str = "",
) -> list[PatternPlan]:
    """One plan per distinct structure in ``result``; ``window`` is how many word pieces the model reads. The
    patterns belong to ``project`` ("" is global)."""
    groups = group_by_structure(result.patterns)
    return [_plan(group, inputs, provenance, agent, count_tokens, window, project) for group in groups]


def _title(pattern: ExtractedPattern, language: str, task: str) -> str:
    """'fetch_json', 'fetch_json (error handling)', or for a whole snippet the task it solved."""
    if pattern.kind == "snippet":
        return f"{language} snippet: {task[:80]}"
    if pattern.kind in ("error_handling", "async", "algorithm"):
        return f"{pattern.qualified_name} ({pattern.kind.replace('_', ' ')})"
    return pattern.qualified_name


def _plan(
    group: list[ExtractedPattern],
    inputs: ConsensusInput,
    provenance: dict[str, Any],
    agent: str | None,
    count_tokens: TokenCounter,
    window: int,
    project: str = "",
) -> PatternPlan:
    primary = group[0]
    language = inputs.language_name
    identity = pattern_identity(language, primary.structure_hash)
    pattern_id = memory_id("pattern", content_hash("pattern", identity), project)
    description = "\n".join(dict.fromkeys(p.description for p in group))
    title = _title(primary, language, inputs.task)
    kinds = list(dict.fromkeys(p.kind for p in group))
    header = f"{language} {primary.kind} {title[:120]} (part 99 of 99)"
    room = window - SPECIAL_TOKENS - max(count_tokens(description), count_tokens(header)) - 1
    chunks = chunk_text(primary.code, max(room, MIN_CODE_TOKENS), count_tokens)
    metadata = provenance | {
        "pattern_kind": primary.kind,
        "structure_hash": primary.structure_hash,
        "complexity": primary.complexity,
        "parts": len(chunks),
    }
    main = MemoryDraft(
        type="pattern",
        title=title,
        content=primary.code,
        embed_text=f"{description}\n{chunks[0]}",
        identity_text=identity,
        language=language,
        fields={
            "code": primary.code,
            "context": inputs.task,
            "description": description,
            "kind": primary.kind,
            "kinds": kinds,
            "qualified_name": primary.qualified_name,
            "signature": primary.signature,
            "complexity": primary.complexity,
            "cyclomatic": primary.cyclomatic,
            "lines": [primary.start_line, primary.end_line],
            "details": {p.kind: p.details for p in group},
            "also_named": sorted({p.qualified_name for p in group} - {primary.qualified_name}),
            "success_metrics": inputs.success_metrics(),
            "parts": len(chunks),
        },
        tags=["consensus", *kinds, primary.complexity],
        metadata=metadata,
        source="consensus",
        agent=agent,
        success=inputs.success,
        project=project,
    )
    plan = PatternPlan(pattern_id, main, group)
    total = len(chunks)
    for number, chunk in enumerate(chunks[1:], start=2):
        where = f"part {number} of {total}"
        plan.parts.append(
            MemoryDraft(
                type="pattern",
                title=f"{title} ({where})",
                content=chunk,
                embed_text=f"{language} {primary.kind} {title[:120]} ({where})\n{chunk}",
                identity_text=f"{identity}\n{where}",
                language=language,
                fields={
                    "code": chunk,
                    "kind": primary.kind,
                    "part_of": pattern_id,
                    "part": number,
                    "parts": total,
                },
                tags=["consensus", "part"],
                metadata=provenance | {"pattern_kind": primary.kind, "part_of": pattern_id, "part": number},
                source="consensus",
                agent=agent,
                project=project,
            )
        )
    return plan
