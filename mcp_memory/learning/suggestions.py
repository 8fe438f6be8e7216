"""Patterns for a new task: relevance combined with each pattern's success record, cached until memory changes.

Ranking — the memory's own outcome ranking (``ranking.py``), so a suggestion and a recall never disagree::

    success_rate = (successes + 1) / (successes + failures + 2)     # smoothed: 0.5 with no record
    score        = similarity + 0.2 * (success_rate - 0.5)          # OUTCOME_WEIGHT: at most +-0.1
                   - 0.15 if it keeps failing                       # FAILING_PENALTY: never worked, or f >= 2
                                                                    #   and success_rate <= 1/3

``similarity`` is the cosine similarity of the task and the pattern; for a pattern stored in parts (code longer
than the model reads) it is that of its best-matching part. Successes are consensus wins (every
``extract_from_consensus`` that finds the pattern again counts one) and successes reported for it; failures are
reported failures. Candidates come from ``MemoryService.recall``, so the memory's retrieval chooses what is
ranked; it has already folded parts into their pattern, which is scored with its own record.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mcp_memory.learning.models import PatternSuggestion, PatternSuggestions
from mcp_memory.memory.moments import TimeWindow
from mcp_memory.memory.projects import EVERY_PROJECT, ProjectScope
from mcp_memory.memory.ranking import outcome_adjustment, outcome_why, part_why, success_rate
from mcp_memory.memory.service import MemoryService
from mcp_memory.memory.validation import normalize_language, require_n_results, require_text
from mcp_memory.models import MemoryHit, MemoryRecord, MemoryType
from mcp_memory.storage.store import StoredItem

CANDIDATES_PER_RESULT = 4
MIN_CANDIDATES = 20
CACHE_ENTRIES = 256
# Bounds how long a change the generation does not count (another server's repeated store) can go unseen.
CACHE_SECONDS = 60.0


def suggestion_score(similarity: float, successes: int, failures: int) -> float:
    return similarity + outcome_adjustment(successes, failures)


CacheKey = tuple[str, str | None, int, str, str | None, str | None]


@dataclass
class _Entry:
    generation: int
    stored_at: float
    value: PatternSuggestions


class SuggestionCache:
    """LRU of suggestion results, valid while the memory's write generation is unchanged (and not too old)."""

    def __init__(
        self,
        max_entries: int = CACHE_ENTRIES,
        max_age: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_age = max_age
        self.clock = clock
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: CacheKey, generation: int) -> PatternSuggestions | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.generation != generation or self.clock() - entry.stored_at > self.max_age:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry.value.model_copy(deep=True)

    def put(self, key: CacheKey, generation: int, value: PatternSuggestions) -> None:
        with self._lock:
            self._entries[key] = _Entry(generation, self.clock(), value.model_copy(deep=True))
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def cache_key(
    task_description: str,
    language: str | None,
    n_results: int,
    project: str = "*",
    since: str | None = None,
    until: str | None = None,
) -> CacheKey:
    """Arguments that ask the same question map to one key (the model is case-insensitive). A window given as an
    age ("7d") is keyed as written: it moves by at most the entries' lifetime while cached."""
    return " ".join(task_description.split()).lower(), language, n_results, project, since, until


class _WritesBypassingTheService:
    """Counts writes made straight to the store (an import) as memory changes, like the service's own."""

    def __init__(self, memory: MemoryService) -> None:
        self.memory = memory

    def stored(self, memory_type: MemoryType, items: Sequence[StoredItem], embeddings: Sequence[Any]) -> None:
        self.memory.mark_changed()

    def removed(self, memory_type: MemoryType, ids: Sequence[str]) -> None:
        self.memory.mark_changed()


class PatternSuggester:
    """Suggests stored patterns for a task (see the module docstring for the ranking)."""

    def __init__(self, memory: MemoryService, cache: SuggestionCache | None = None) -> None:
        self.memory = memory
        self.cache = cache or SuggestionCache()
        memory.store.watch(_WritesBypassingTheService(memory))

    async def suggest(
        self,
        task_description: str,
        language: str | None,
        n_results: int,
        project: str | None = EVERY_PROJECT,
        since: str | None = None,
        until: str | None = None,
    ) -> PatternSuggestions:
        """Patterns of ``project`` and global ones (``"*"``, the default here: every project), stored between
        ``since`` and ``until`` when given."""
        settings = self.memory.settings
        require_text("task_description", task_description, settings.max_text_chars)
        require_n_results(n_results, settings.max_results)
        language = normalize_language(language)
        scope = ProjectScope.of(project)
        window = TimeWindow.of(since, until)  # a mistaken window is named before any cached answer is given
        key = cache_key(task_description, language, n_results, scope.label, since, until)
        generation = await self.memory.current_generation()  # first: a write during the work makes the entry stale
        cached = self.cache.get(key, generation)
        if cached is not None:
            return cached.model_copy(update={"cached": True})
        found = await self._rank(task_description, language, n_results, scope.label, since, until)
        note = None
        if not found:
            note = "No stored pattern matches yet." + _searched_only(language, window)
            if self.memory.recaller.dense.left_out("pattern", scope):
                note += ' Patterns of other projects were not searched; project="*" searches them too.'
        result = PatternSuggestions(
            task_description=task_description, project=scope.label, results=found, cached=False, note=note
        )
        self.cache.put(key, generation, result)
        return result

    async def _rank(
        self, task: str, language: str | None, n_results: int, project: str, since: str | None, until: str | None
    ) -> list[PatternSuggestion]:
        wanted = min(self.memory.settings.max_results, max(n_results * CANDIDATES_PER_RESULT, MIN_CANDIDATES))
        recalled = await self.memory.recall(
            task,
            ["pattern"],
            wanted,
            language=language,
            query_field="task_description",
            project=project,
            since=since,
            until=until,
        )
        suggestions = [_suggestion(_record(hit), hit.similarity, hit.matched_part) for hit in recalled.results]
        suggestions.sort(key=lambda s: s.score, reverse=True)
        return suggestions[:n_results]


def _searched_only(language: str | None, window: TimeWindow) -> str:
    """What an empty answer's filters left out, said in words."""
    if not language and window.open:
        return ""
    which = f"{language} patterns" if language else "patterns"
    return f" (Only {which}{'' if window.open else ' stored in the time window given'} were searched.)"


def _record(hit: MemoryHit) -> MemoryRecord:
    return MemoryRecord(**hit.model_dump(include=set(MemoryRecord.model_fields)))


def _suggestion(record: MemoryRecord, similarity: float, part: int | None) -> PatternSuggestion:
    successes, failures = record.success_count, record.failure_count
    rate = success_rate(successes, failures)
    kind = str(record.fields.get("kind") or "pattern")
    description = str(record.fields.get("description") or record.fields.get("context") or "")
    why = f"similar to the task (cosine {similarity:.2f})"
    if part is not None:
        why += part_why(part, record.fields.get("parts"))
    why += "; " + (outcome_why(successes, failures) or "no outcome recorded yet")
    if record.source == "consensus":
        why += "; learned from consensus"
    why += f"; used {record.usage_count}x"
    if not record.trusted:
        why = f"UNCONFIRMED: stored by '{record.agent or 'unknown'}', not a trusted agent, and not confirmed yet; {why}"
    if kind != "pattern":
        complexity = record.fields.get("complexity")
        why += f"; {kind}" + (f", {complexity} complexity" if complexity else "")
    return PatternSuggestion(
        id=record.id,
        name=record.title,
        kind=kind,
        language=record.language,
        description=description,
        code=str(record.fields.get("code") or record.content),
        score=round(suggestion_score(similarity, successes, failures), 4),
        similarity=round(similarity, 4),
        success_rate=round(rate, 4),
        usage_count=record.usage_count,
        success_count=successes,
        failure_count=failures,
        source=record.source,
        agent=record.agent,
        created_at=record.created_at,
        trusted=record.trusted,
        matched_part=part,
        why=why,
        project=record.project,
        created_ago=record.created_ago,
    )
