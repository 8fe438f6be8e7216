"""Near-duplicates: memories of one type that are one memory written twice, and the one each should merge into.

Two memories are near-duplicates when their stored vectors are at least ``MERGE_THRESHOLDS[type]`` apart in cosine
(measured by ``bench/dedup_threshold.py`` on the dev sets: no pair of different functions, solutions or error
messages reaches it), they belong to one project and one language, errors have one error signature and resolutions
that say the same (``RESOLUTION_THRESHOLD``: an error's vector is its message and context only), and not one only
worked while the other only failed (a fix and a failed attempt at it are two things to know).

Neighbours come from the vector index, the nearest few of each memory asked about. Connected pairs form a group;
each member merges into the group's best record (more successes than failures, then more uses, then the older)
only where it is itself that close to it, so no chain of near neighbours merges two memories that are not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mcp_memory.models import MemoryType
from mcp_memory.storage.archive import Candidate
from mcp_memory.storage.embeddings import Embedder
from mcp_memory.storage.store import MemoryStore

# The lowest cosine at which two memories of a type are one (bench/dedup_threshold.py, bench/README.md).
MERGE_THRESHOLDS: dict[str, float] = {"pattern": 0.97, "solution": 0.97, "error": 0.97, "best_practice": 0.97}
# Errors: the lowest cosine at which two resolutions say the same (bench/dedup_threshold.py).
RESOLUTION_THRESHOLD = 0.9
NEIGHBOURS = 6
BATCH = 256


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


def compatible(a: Candidate, b: Candidate) -> bool:
    """Same project and language; errors with one signature; not one that only worked and one that only failed."""
    if a.project != b.project or a.language != b.language:
        return False
    if a.type == "error" and (not a.signature or a.signature != b.signature):
        return False
    only_worked = {c.id for c in (a, b) if c.success_count and not c.failure_count}
    only_failed = {c.id for c in (a, b) if c.failure_count and not c.success_count}
    return not (only_worked and only_failed)


def resolution_of(candidate: Candidate) -> str:
    try:
        fields = json.loads(candidate.outcome_fields)
    except json.JSONDecodeError:
        return candidate.title
    return str(fields.get("resolution") or candidate.title) if isinstance(fields, dict) else candidate.title


Pairs = dict[tuple[str, str], float]


class DuplicateFinder:
    """Finds the merges among memories of one type."""

    def __init__(self, store: MemoryStore, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder

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
        return self._same_fix(kept, known) if memory_type == "error" else kept

    def _same_fix(self, pairs: Pairs, known: dict[str, Candidate]) -> Pairs:
        """Error pairs whose resolutions say the same."""
        if not pairs:
            return pairs
        import numpy as np

        ids = sorted({i for pair in pairs for i in pair})
        vectors = dict(zip(ids, self.embedder.encode_batch([resolution_of(known[i]) for i in ids]), strict=True))
        return {
            pair: similarity
            for pair, similarity in pairs.items()
            if float(np.dot(vectors[pair[0]], vectors[pair[1]])) >= RESOLUTION_THRESHOLD
        }

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
