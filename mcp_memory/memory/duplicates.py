"""Near-duplicates: memories of one type that are one memory written twice, and the one each should merge into.

Meaning alone cannot tell: a decorator turning an iterable into ``*args`` and its inverse are 0.99 apart in cosine
(bench/dedup_threshold.py, on the CoSQA functions). So two memories are near-duplicates when

- their stored vectors are at least ``MERGE_THRESHOLDS[type]`` apart in cosine (they say the same), and
- what they tell an agent to do is the same (``content_key``): a pattern's code, or a solution's, has the same
  structure (extraction's structure hash: names, comments, docstrings and layout set aside); an error is the same
  error line, and the resolutions have most of their words in common (``RESOLUTION_OVERLAP``: "pip install fastapi"
  and "pip install fast-api" read alike to the model, and are two fixes), and
- they belong to one project and one language, and not one only worked while the other only failed (a fix and a
  failed attempt at it are two things to know).

The thresholds are the ones at which the dev sets show no false merge and catch most duplicates written again
(bench/dedup_threshold.py, bench/README.md). Neighbours come from the vector index, the nearest few of each memory
asked about. Connected pairs form a group; each member merges into the group's best record (more successes than
failures, then more uses, then the older) only where it is itself close enough to it, so no chain of near
neighbours merges two memories that are not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from mcp_memory.extraction import extract_patterns
from mcp_memory.memory.error_signature import exception_line
from mcp_memory.models import MemoryType
from mcp_memory.storage.archive import Candidate
from mcp_memory.storage.store import MemoryStore
from mcp_memory.words import code_tokens

# The lowest cosine at which two memories of a type are one, given the same content (bench/dedup_threshold.py).
MERGE_THRESHOLDS: dict[str, float] = {"pattern": 0.90, "solution": 0.90, "error": 0.80}
# Errors: the least share of words two resolutions have in common to be one fix (bench/dedup_threshold.py).
RESOLUTION_OVERLAP = 0.5
NEIGHBOURS = 6
BATCH = 256
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Merge:
    duplicate: Candidate
    survivor: Candidate
    similarity: float


def record_order(candidate: Candidate) -> tuple[int, int, float, str]:
    """Better records sort first: more successes than failures, then more uses, then the older one."""
    return (
        -(candidate.success_count - candidate.failure_count),
        -candidate.usage_count,
        candidate.created_at,
        candidate.id,
    )


@lru_cache(maxsize=8192)
def code_structure(code: str, language: str) -> tuple[str, ...]:
    """The structure hashes of the units in ``code``: equal for code that differs only in names, comments,
    docstrings and layout (text no parser reads: equal when equal but for white space)."""
    return tuple(sorted(pattern.structure_hash for pattern in extract_patterns(code, language or "text").patterns))


def fix_overlap(a: str, b: str) -> float:
    """The share of words two fixes have in common (of all the words of both)."""
    words_a, words_b = set(code_tokens(a)), set(code_tokens(b))
    return len(words_a & words_b) / len(words_a | words_b) if words_a | words_b else 1.0


def fields_of(candidate: Candidate) -> dict[str, object]:
    try:
        fields = json.loads(candidate.fields_json)
    except json.JSONDecodeError:
        return {}
    return fields if isinstance(fields, dict) else {}


def content_key(candidate: Candidate) -> tuple[str, ...]:
    """What must be equal for two memories of a type to be one: the code's structure (patterns, solutions), the
    error line (errors; the resolutions are compared by ``same_content``)."""
    fields = fields_of(candidate)
    if candidate.type == "error":
        line = exception_line(str(fields.get("error_message") or candidate.title))
        return (_SPACE.sub(" ", line).strip(),)
    code = str(fields.get("code" if candidate.type == "pattern" else "solution") or "")
    return code_structure(code, candidate.language) if code.strip() else ("", candidate.title)


def same_content(a: Candidate, b: Candidate) -> bool:
    if content_key(a) != content_key(b):
        return False
    if a.type != "error":
        return True
    fix_a, fix_b = (str(fields_of(c).get("resolution") or "") for c in (a, b))
    return fix_overlap(fix_a, fix_b) >= RESOLUTION_OVERLAP


def compatible(a: Candidate, b: Candidate) -> bool:
    """One project and language, the same content, and not one that only worked and one that only failed."""
    if a.project != b.project or a.language != b.language:
        return False
    only_worked = {c.id for c in (a, b) if c.success_count and not c.failure_count}
    only_failed = {c.id for c in (a, b) if c.failure_count and not c.success_count}
    return not (only_worked and only_failed) and same_content(a, b)


Pairs = dict[tuple[str, str], float]


class DuplicateFinder:
    """Finds the merges among memories of one type."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def merges(
        self, memory_type: MemoryType, asked: Iterable[Candidate], between_batches: Callable[[], None]
    ) -> tuple[list[Merge], int]:
        """The merges among ``asked`` and their neighbours, and how many were asked about."""
        known: dict[str, Candidate] = {}
        pairs: Pairs = {}
        batch: list[Candidate] = []
        compared = 0
        for candidate in asked:
            known[candidate.id] = candidate
            batch.append(candidate)
            if len(batch) >= BATCH:
                pairs.update(self._close_pairs(memory_type, batch, known))
                compared += len(batch)
                batch = []
                between_batches()
        if batch:
            pairs.update(self._close_pairs(memory_type, batch, known))
            compared += len(batch)
        return self._groups(memory_type, pairs, known), compared

    def _close_pairs(self, memory_type: MemoryType, batch: list[Candidate], known: dict[str, Candidate]) -> Pairs:
        """Pairs of a batch member and a neighbour at or above the type's threshold that may merge."""
        threshold = MERGE_THRESHOLDS[memory_type]
        vectors = self.store.index.vectors(memory_type, [c.id for c in batch])
        asked = [c for c in batch if c.id in vectors]
        found = self.store.index.nearest_many(memory_type, [vectors[c.id] for c in asked], NEIGHBOURS + 1)
        close = {
            (candidate.id, other): 1.0 - distance
            for candidate, neighbours in zip(asked, found, strict=True)
            for other, distance in neighbours
            if other != candidate.id and 1.0 - distance >= threshold
        }
        missing = [other for _, other in close if other not in known]
        for candidate in self.store.states.candidates(memory_type, ids=missing) if missing else ():
            known[candidate.id] = candidate
        kept: Pairs = {
            (min(a, b), max(a, b)): similarity
            for (a, b), similarity in close.items()
            if b in known and compatible(known[a], known[b])
        }
        return kept

    def _groups(self, memory_type: MemoryType, pairs: Pairs, known: dict[str, Candidate]) -> list[Merge]:
        """Connected pairs as groups; each member close enough to its group's best merges into it."""
        parent: dict[str, str] = {}

        def root(item: str) -> str:
            while parent.setdefault(item, item) != item:
                parent[item] = parent[parent[item]]
                item = parent[item]
            return item

        for a, b in pairs:
            parent[root(a)] = root(b)
        groups: dict[str, list[Candidate]] = {}
        for item in parent:
            groups.setdefault(root(item), []).append(known[item])
        merges: list[Merge] = []
        threshold = MERGE_THRESHOLDS[memory_type]
        for members in groups.values():
            if len(members) < 2:
                continue
            best, *others = sorted(members, key=record_order)
            similarity = self._similarities(memory_type, best.id, [o.id for o in others], pairs)
            merges += [Merge(o, best, similarity[o.id]) for o in others if similarity[o.id] >= threshold]
        return merges

    def _similarities(self, memory_type: MemoryType, best: str, others: list[str], pairs: Pairs) -> dict[str, float]:
        """Cosine of each of ``others`` to ``best``: from the pairs, else from the stored vectors."""
        found = {o: pairs[(min(best, o), max(best, o))] for o in others if (min(best, o), max(best, o)) in pairs}
        rest = [o for o in others if o not in found]
        if rest:
            import numpy as np

            vectors = self.store.index.vectors(memory_type, [best, *rest])
            if best in vectors:
                anchor = np.asarray(vectors[best], dtype=np.float32)
                for other in rest:
                    if other in vectors:
                        found[other] = float(anchor @ np.asarray(vectors[other], dtype=np.float32))
        return {o: found.get(o, -1.0) for o in others}
