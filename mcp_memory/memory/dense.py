"""The nearest memories by meaning, within a language and a project scope, without Chroma's slow filter where it can.

Chroma's ``where`` filter cost 120–580 ms at 100,000 vectors on this (busy) machine and grows with the collection;
an unfiltered query ~6 ms. So a filtered recall asks Chroma with no filter:

- a language of at most ``MAX_SCANNED_VECTORS`` memories, or one too rare to over-fetch: exact cosine over all of
  that language's vectors, held in memory by the catalog (loaded on first use, kept current on every write; 512 MB
  for all of them, past which the paths below). Exact by construction, where Chroma's nearest-vector search (HNSW)
  is approximate, and about as fast: a large language is scored from one-byte codes first (``vector_cache``); at
  1,000,000 memories a recall within 120,000 vectors took 0.93× an unfiltered one, 60,000 0.78×, where Chroma's
  filter took ~0.5 s;
- a larger language, or a project scope alone, when what it may return holds at least ``OVERFETCH_MIN_SHARE`` of
  the collection: over-fetch ids and distances only (``depth / share × 2``, at least ``MIN_OVERFETCH``, at most
  ``MAX_OVERFETCH``) and keep the ids it may return — the catalog tells (a language's ids, read once; every
  memory's project) and follows every write; if too few survive, ``where``. As exact as HNSW searching that wide:
  99–99.5% of top 5s on real vectors (``storage/vectors.py`` builds the graph and sets the search width for it);
- a project scope that leaves nothing out — every memory is global or in the caller's project, as in every store
  written before projects — filters nothing at all: the catalog counts each project's memories, so that is known
  in constant time. Otherwise what it leaves out is known by id, and over-fetching drops it.

``bench/filter_speed.py`` measures the language paths against unfiltered queries (speed and exactness) up to 1,000,000.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp_memory.memory.catalog import Catalog
from mcp_memory.memory.projects import ProjectScope
from mcp_memory.memory.validation import and_filters
from mcp_memory.models import MemoryType
from mcp_memory.storage.store import MemoryStore

OVERFETCH_MIN_SHARE = 0.10
MAX_SCANNED_VECTORS = 150_000
OVERFETCH_SLACK = 2.0
MAX_OVERFETCH = 1000
# Enough of a large language among the neighbours (Chroma's graph search looks at max(SEARCH_WIDTH, n_results)
# candidates, storage/vectors.py): at 80,000 real vectors, the top 5 of a language of 25-50% is then exact for
# 99-99.5% of queries.
MIN_OVERFETCH = 200


@dataclass(frozen=True)
class LeftOut:
    """What a project scope leaves out of one memory type: the other projects, how many memories they hold, and
    each project memory's project by id (the catalog's, kept current)."""

    projects: frozenset[str]
    count: int
    project_of: Mapping[str, str]

    def admits(self, item_id: str) -> bool:
        return self.project_of.get(item_id, "") not in self.projects

    def where(self) -> dict[str, Any]:
        """The same as a Chroma filter: a vector without a ``project`` key (global) is never in the list."""
        return {"project": {"$nin": sorted(self.projects)}}


@dataclass(frozen=True)
class Within:
    """The memories a recall may return: of a language (its ids) and not left out by the project scope."""

    language: frozenset[str] | None
    left_out: LeftOut | None

    def __contains__(self, item_id: object) -> bool:
        if self.language is not None and item_id not in self.language:
            return False
        return self.left_out is None or self.left_out.admits(str(item_id))


class DenseSearch:
    """Ids and cosines of the nearest memories, honouring ``where``, a language and a project scope."""

    def __init__(self, store: MemoryStore, catalog: Catalog) -> None:
        self.store = store
        self.catalog = catalog

    def left_out(self, memory_type: MemoryType, scope: ProjectScope) -> LeftOut | None:
        """What ``scope`` leaves out of the type; None when it leaves out nothing (then nothing is filtered)."""
        if scope.everywhere:
            return None
        counts, project_of = self.catalog.projects(memory_type)
        others = scope.leaves_out(counts)
        if not others:
            return None
        return LeftOut(others, sum(counts[p] for p in others), project_of)

    def nearest(
        self,
        memory_type: MemoryType,
        embedding: list[float],
        depth: int,
        where: dict[str, Any] | None,
        language: str | None,
        left_out: LeftOut | None,
    ) -> list[tuple[str, float]]:
        """Ids and cosines of the nearest memories, best first, honouring every filter."""
        if not where and (language or left_out is not None):
            found = self._without_where(memory_type, embedding, depth, language, left_out)
            if found is not None:
                return found
        chroma_filter = and_filters(
            where, {"language": language} if language else None, left_out.where() if left_out else None
        )
        return [
            (item_id, 1.0 - distance)
            for item_id, distance in self.store.nearest(memory_type, embedding, depth, chroma_filter)
        ]

    def _without_where(
        self,
        memory_type: MemoryType,
        embedding: list[float],
        depth: int,
        language: str | None,
        left_out: LeftOut | None,
    ) -> list[tuple[str, float]] | None:
        """The nearest memories of the language and scope without Chroma's filter; None to use the filter after all."""
        members = self.catalog.language_ids(memory_type, language) if language else None
        within = Within(members, left_out)
        size = self.catalog.size(memory_type)  # counted less often than the members
        total = max(size, len(members) if members is not None else 0)
        if members is not None and not members:
            return []
        exact = members is None or left_out is None  # with both filters, how many pass is only estimated
        count = len(members) if members is not None else total
        if left_out is not None:
            count = max(0, count - (left_out.count if members is None else round(left_out.count * count / total)))
        share = count / max(total, 1)
        if members is not None and (len(members) <= MAX_SCANNED_VECTORS or share < OVERFETCH_MIN_SHARE):
            admits = left_out.admits if left_out is not None else None
            found = self.catalog.nearest_in_language(memory_type, language or "", embedding, depth, admits)
            if found is not None:
                return found
        if share >= OVERFETCH_MIN_SHARE:
            wanted = math.ceil(depth * total / max(count, 1) * OVERFETCH_SLACK)
            fetch = min(total, MAX_OVERFETCH, max(MIN_OVERFETCH, wanted))
            kept = [
                (item_id, 1.0 - distance)
                for item_id, distance in self.store.nearest(memory_type, embedding, fetch)
                if item_id in within
            ][:depth]
            if len(kept) < depth and fetch < total and (len(kept) < count or not exact):
                return None
            return kept
        return None  # a small share of the collection, not scanned: Chroma's filter finds it
