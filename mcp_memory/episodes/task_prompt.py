"""The memory-informed task prompt: what memory knows about a task, compact, before an agent starts it.

Only what clears its type's relevance floor (``ranking.py``; weak matches are left out) is included, each memory
once, code cut to a short excerpt, so the prompt stays small enough to put in front of every generation.
"""

from __future__ import annotations

from mcp_memory.episodes.service import EpisodeService
from mcp_memory.episodes.views import shorten, title
from mcp_memory.errors import Unavailable
from mcp_memory.memory.projects import EVERY_PROJECT
from mcp_memory.memory.service import MemoryService
from mcp_memory.memory.validation import normalize_language, require_text
from mcp_memory.models import MemoryHit, SimilarEpisode

MIN_EPISODE_SIMILARITY = 0.35
STRONG_EPISODE_SCORE = 0.6
CODE_LINES = 30
CODE_CHARS = 1500


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
    field = "task_description"
    patterns = await memory.recall(task_description, ["pattern"], 3, language=lang, query_field=field, project=project)
    fixes = await memory.recall(task_description, ["error"], 4, query_field=field, project=project)
    practices = await memory.recall(task_description, ["best_practice"], 2, query_field=field, project=project)
    try:
        similar = (await episodes.recall_similar(task_description, 6, success_only=False, project=project)).results
    except Unavailable:  # a database that fails costs the lessons, not the prompt
        similar = []

    seen: set[str] = set()
    sections: list[str] = []
    kept = _fresh([h for h in patterns.results if h.outcome != "failed"], seen)
    if kept:
        sections.append("## Patterns that worked\n\n" + "\n\n".join(_pattern(h, lang) for h in kept))
    kept = _fresh([h for h in fixes.results if h.outcome != "failed"], seen)
    if kept:
        sections.append("## Known error fixes\n\n" + "\n".join(_fix(h) for h in kept))
    kept = _fresh(practices.results, seen)
    if kept:
        sections.append("## Best practices\n\n" + "\n".join(_practice(h) for h in kept))
    lessons = _lessons(similar)
    if lessons:
        sections.append("## Lessons from similar past episodes\n\n" + "\n".join(lessons))

    header = f"Task ({lang}):" if lang else "Task:"
    if project and project != EVERY_PROJECT:
        header = header.replace("Task", f"Task in project {project}", 1)
    parts = [f"{header}\n\n{task_description.strip()}"]
    if sections:
        parts.append(
            "Shared memory recalled the following for this task. Reuse what worked; do not repeat what failed."
        )
        parts += sections
    else:
        parts.append("Shared memory holds nothing relevant to this task yet.")
    parts.append(
        "While you work, record steps with record_event; when done, end_episode with the outcome, and store what "
        "you learned (store_code_pattern, store_error_resolution)."
    )
    return "\n\n".join(parts) + "\n"


def _fresh(hits: list[MemoryHit], seen: set[str]) -> list[MemoryHit]:
    """Hits that are not weak matches and not shown already (same id, same content or same title)."""
    kept: list[MemoryHit] = []
    for hit in hits:
        keys = {hit.id, hit.content_hash, f"{hit.type}:{hit.title.strip().lower()}"}
        if hit.weak or keys & seen:
            continue
        seen.update(keys)
        kept.append(hit)
    return kept


def _record(hit: MemoryHit) -> str:
    if hit.success_count or hit.failure_count:
        return f"worked {hit.success_count}x" + (f", failed {hit.failure_count}x" if hit.failure_count else "")
    return hit.source


def _pattern(hit: MemoryHit, language: str | None) -> str:
    code = str(hit.fields.get("code") or hit.content)
    lines = code.strip().splitlines()
    excerpt = "\n".join(lines[:CODE_LINES])[:CODE_CHARS]
    if len(lines) > CODE_LINES or len(code) > CODE_CHARS:
        excerpt += f"\n# … (full pattern: get_memory {hit.id})"
    context = str(hit.fields.get("context") or "").strip()
    lead = f"### {hit.title} ({_record(hit)})" + (f"\n{shorten(context, 200)}" if context else "")
    return f"{lead}\n```{hit.language or language or ''}\n{excerpt}\n```"


def _fix(hit: MemoryHit) -> str:
    error = str(hit.fields.get("error_message") or hit.title)
    resolution = str(hit.fields.get("resolution") or hit.content)
    return f"- `{shorten(error, 160)}` → {shorten(resolution, 300)} ({_record(hit)})"


def _practice(hit: MemoryHit) -> str:
    summary = str(hit.metadata.get("summary") or "") or hit.content
    return f"- **{hit.title}**: {shorten(summary, 300)}"


def _lessons(results: list[SimilarEpisode]) -> list[str]:
    relevant = [
        r for r in results if (r.similarity or 0.0) >= MIN_EPISODE_SIMILARITY or r.score >= STRONG_EPISODE_SCORE
    ]
    lines: list[str] = []
    seen: set[str] = set()
    for wanted, verdict in (("succeeded", "Worked"), ("failed", "Failed")):
        for result in [r for r in relevant if r.outcome == wanted][:2]:
            key = title(result.task).lower()
            if key in seen:
                continue
            seen.add(key)
            files = f" Files: {', '.join(result.files_changed[:4])}." if result.files_changed else ""
            lines.append(f"- {verdict}: {title(result.task)} — {result.how_it_ended}{files} ({result.episode_id})")
    return lines
