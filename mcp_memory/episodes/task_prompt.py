"""The memory-informed task prompt: what memory knows about a task, compact, before an agent starts it.

Only what clears its type's relevance floor (``ranking.py``; weak matches are left out) is included, each memory
once, code cut to a short excerpt, so the prompt stays small enough to put in front of every generation.

What agents stored is data, never instructions: the prompt opens by saying so, and each memory and episode sits in
a delimited block naming who stored it, when, and whether it is trusted (``memory/blocks.py``). With
``MCP_MEMORY_TRUSTED_AGENTS`` set, memories and episodes that are not trusted are left out; the prompt says how many.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_memory.episodes.views import shorten, title
from mcp_memory.errors import Unavailable
from mcp_memory.memory.blocks import DATA_PREAMBLE, block, fence, memory_block, neutralise
from mcp_memory.memory.projects import EVERY_PROJECT
from mcp_memory.memory.validation import normalize_language, require_text
from mcp_memory.models import MemoryHit, SimilarEpisode

if TYPE_CHECKING:  # types only: the module stays importable before the storage layer is
    from mcp_memory.episodes.service import EpisodeService
    from mcp_memory.memory.service import MemoryService

MIN_EPISODE_SIMILARITY = 0.35
STRONG_EPISODE_SCORE = 0.6
CODE_LINES = 30
CODE_CHARS = 1500
PATTERNS, FIXES, PRACTICES = 3, 4, 2
# With quarantine on, recall this many more of each, so untrusted memories cannot crowd trusted ones out.
UNTRUSTED_SLACK = 4


async def memory_informed_task(
    memory: MemoryService,
    episodes: EpisodeService,
    task_description: str,
    language: str | None,
    project: str | None = EVERY_PROJECT,
) -> str:
    """A prompt with the task, then recalled patterns, error fixes, best practices and episode lessons: of
    ``project`` and global ones (``"*"``: every project)."""
    require_text("task_description", task_description, memory.settings.max_text_chars)
    lang = normalize_language(language)
    slack = UNTRUSTED_SLACK if memory.trust.configured else 0
    field = "task_description"
    patterns = await memory.recall(
        task_description, ["pattern"], PATTERNS + slack, language=lang, query_field=field, project=project
    )
    fixes = await memory.recall(task_description, ["error"], FIXES + slack, query_field=field, project=project)
    practices = await memory.recall(
        task_description, ["best_practice"], PRACTICES + slack, query_field=field, project=project
    )
    try:
        similar = (await episodes.recall_similar(task_description, 6, success_only=False, project=project)).results
    except Unavailable:  # a database that fails costs the lessons, not the prompt
        similar = []

    withheld = _Withheld()
    seen: set[str] = set()
    sections: list[str] = []
    kept = withheld.pick([h for h in patterns.results if h.outcome != "failed"], seen, PATTERNS)
    if kept:
        sections.append("## Patterns that worked\n\n" + "\n\n".join(_pattern(h, lang) for h in kept))
    kept = withheld.pick([h for h in fixes.results if h.outcome != "failed"], seen, FIXES)
    if kept:
        sections.append("## Known error fixes\n\n" + "\n\n".join(_fix(h) for h in kept))
    kept = withheld.pick(practices.results, seen, PRACTICES)
    if kept:
        sections.append("## Best practices\n\n" + "\n\n".join(_practice(h) for h in kept))
    lessons = _lessons(similar, withheld)
    if lessons:
        sections.append("## Lessons from similar past episodes\n\n" + "\n\n".join(lessons))

    header = f"Task ({lang}):" if lang else "Task:"
    if project and project != EVERY_PROJECT:
        header = header.replace("Task", f"Task in project {neutralise(project)}", 1)
    parts = [DATA_PREAMBLE, f"{header}\n\n{neutralise(task_description.strip())}"]
    if sections:
        parts.append(
            "Shared memory recalled the following for this task. Reuse what worked; do not repeat what failed."
        )
        parts += sections
    else:
        parts.append("Shared memory holds nothing relevant to this task yet.")
    if withheld.count:
        parts.append(withheld.sentence(memory.trust.confirmations))
    parts.append(
        "While you work, record steps with record_event; when done, end_episode with the outcome, and store what "
        "you learned (store_code_pattern, store_error_resolution)."
    )
    return "\n\n".join(parts) + "\n"


class _Withheld:
    """Counts what quarantine keeps out of the prompt."""

    def __init__(self) -> None:
        self.memories: set[str] = set()
        self.episodes: set[str] = set()

    def pick(self, hits: list[MemoryHit], seen: set[str], limit: int) -> list[MemoryHit]:
        """Up to ``limit`` trusted hits that are new to the prompt; untrusted ones among the first ``limit`` that
        would have been shown are counted."""
        relevant = [h for h in hits if not h.weak]
        self.memories.update(h.id for h in relevant[:limit] if not h.trusted)
        return _fresh([h for h in relevant if h.trusted], seen, limit)

    @property
    def count(self) -> int:
        return len(self.memories) + len(self.episodes)

    def sentence(self, confirmations: int) -> str:
        counts = []
        if self.memories:
            counts.append(f"{len(self.memories)} memor{'y' if len(self.memories) == 1 else 'ies'}")
        if self.episodes:
            counts.append(f"{len(self.episodes)} episode{'' if len(self.episodes) == 1 else 's'}")
        return (
            f"Withheld as unconfirmed: {' and '.join(counts)} from agents that are not trusted, until a trusted agent "
            f"or {confirmations} other agents report that they worked. Recall shows them, marked trusted: false."
        )


def _fresh(hits: list[MemoryHit], seen: set[str], limit: int) -> list[MemoryHit]:
    """Up to ``limit`` hits that are not weak matches and not shown already (same id, content or title)."""
    kept: list[MemoryHit] = []
    for hit in hits:
        keys = {hit.id, hit.content_hash, f"{hit.type}:{hit.title.strip().lower()}"}
        if hit.weak or keys & seen:
            continue
        seen.update(keys)
        kept.append(hit)
        if len(kept) == limit:
            break
    return kept


def _record(hit: MemoryHit) -> str:
    if hit.success_count or hit.failure_count:
        return f"worked {hit.success_count}x" + (f", failed {hit.failure_count}x" if hit.failure_count else "")
    return "no reports yet"


def _pattern(hit: MemoryHit, language: str | None) -> str:
    code = str(hit.fields.get("code") or hit.content)
    lines = code.strip().splitlines()
    excerpt = "\n".join(lines[:CODE_LINES])[:CODE_CHARS]
    if len(lines) > CODE_LINES or len(code) > CODE_CHARS:
        excerpt += f"\n# … (full pattern: get_memory {hit.id})"
    context = str(hit.fields.get("context") or "").strip()
    lead = hit.title + (f"\n{shorten(context, 200)}" if context else "")
    marks = fence(excerpt)
    body = f"{lead}\n{marks}{hit.language or language or ''}\n{excerpt}\n{marks}"
    return memory_block(hit, body, record=_record(hit))


def _fix(hit: MemoryHit) -> str:
    error = str(hit.fields.get("error_message") or hit.title)
    resolution = str(hit.fields.get("resolution") or hit.content)
    return memory_block(hit, f"Error: {shorten(error, 160)}\nFix: {shorten(resolution, 300)}", record=_record(hit))


def _practice(hit: MemoryHit) -> str:
    summary = str(hit.metadata.get("summary") or "") or hit.content
    return memory_block(hit, f"{hit.title}: {shorten(summary, 300)}")


def _lessons(results: list[SimilarEpisode], withheld: _Withheld) -> list[str]:
    relevant = [
        r for r in results if (r.similarity or 0.0) >= MIN_EPISODE_SIMILARITY or r.score >= STRONG_EPISODE_SCORE
    ]
    lessons: list[str] = []
    seen: set[str] = set()
    for wanted, verdict in (("succeeded", "Worked"), ("failed", "Failed")):
        ended = [r for r in relevant if r.outcome == wanted]
        withheld.episodes.update(r.episode_id for r in ended[:2] if not r.trusted)
        for result in [r for r in ended if r.trusted][:2]:
            key = title(result.task).lower()
            if key in seen:
                continue
            seen.add(key)
            files = f"\nFiles: {', '.join(result.files_changed[:4])}" if result.files_changed else ""
            attributes = {
                "id": result.episode_id,
                "agent": result.agent or "",
                "started": result.started_at or "",
                "ended": result.ended_at or "",
                "outcome": result.outcome,
                "trusted": "true" if result.trusted else "false",
            }
            body = f"{verdict}: {title(result.task)}\n{result.how_it_ended}{files}"
            lessons.append(block("episode", attributes, body))
    return lessons
