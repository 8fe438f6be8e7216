"""An in-memory BM25 index over memories' words (``mcp_memory.words``), for recall of stored errors.

A plain inverted index with Okapi BM25 scoring; it supports replacing and removing documents, which a static BM25
library does not, so it can follow every write to the store.
"""

from __future__ import annotations

import heapq
import threading
from collections import Counter
from collections.abc import Container, Iterable, Sequence

from mcp_memory.words import K1, B, idf

# Words in more than this share of the documents (of an index this large) do not, alone, make a document a match.
COMMON_SHARE = 0.1
COMMON_MIN_DOCUMENTS = 500


class BM25Index:
    """Okapi BM25 over token lists, with documents added, replaced and removed at any time (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._postings: dict[str, dict[str, int]] = {}
        self._terms: dict[str, Counter[str]] = {}
        self._lengths: dict[str, int] = {}
        self._total_length = 0

    def __len__(self) -> int:
        return len(self._lengths)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._lengths

    def ids(self) -> set[str]:
        with self._lock:
            return set(self._lengths)

    def add(self, doc_id: str, tokens: Sequence[str]) -> None:
        """Index ``doc_id`` under ``tokens``, replacing what it was indexed under before."""
        counts = Counter(tokens)
        with self._lock:
            self._remove(doc_id)
            self._terms[doc_id] = counts
            self._lengths[doc_id] = len(tokens)
            self._total_length += len(tokens)
            for term, count in counts.items():
                self._postings.setdefault(term, {})[doc_id] = count

    def remove(self, doc_id: str) -> None:
        with self._lock:
            self._remove(doc_id)

    def clear(self) -> None:
        with self._lock:
            self._postings.clear()
            self._terms.clear()
            self._lengths.clear()
            self._total_length = 0

    def _remove(self, doc_id: str) -> None:
        counts = self._terms.pop(doc_id, None)
        if counts is None:
            return
        self._total_length -= self._lengths.pop(doc_id)
        for term in counts:
            posting = self._postings[term]
            del posting[doc_id]
            if not posting:
                del self._postings[term]

    def query_weight(self, query_tokens: Iterable[str]) -> float:
        """What a document holding each of the query's words once, at average length, scores: the sum of their
        idfs (a word no document holds counts as the rarest). BM25 over this is comparable across queries."""
        with self._lock:
            count = len(self._lengths)
            if not count:
                return 0.0
            return sum(idf(count, len(self._postings.get(term, ()))) for term in dict.fromkeys(query_tokens))

    def search(
        self, query_tokens: Iterable[str], limit: int, within: Container[str] | None = None
    ) -> list[tuple[str, float]]:
        """The ``limit`` best documents for the query, best first, with their BM25 scores (only positive ones).

        Exact BM25 for every document it returns. Documents are found through the query's rarer words first: a
        word in more than ``COMMON_SHARE`` of a large index (``error``, ``type``) only adds its score to
        documents the rarer words found, unless those are fewer than ``limit`` — then every posting is read.
        """
        with self._lock:
            count = len(self._lengths)
            if not count:
                return []
            lengths = self._lengths
            average = self._total_length / count or 1.0
            terms = [(term, self._postings[term]) for term in dict.fromkeys(query_tokens) if term in self._postings]
            common_df = max(COMMON_MIN_DOCUMENTS, COMMON_SHARE * count)
            rare = [(term, posting) for term, posting in terms if len(posting) <= common_df]
            found: set[str] = set().union(*(posting.keys() for _, posting in rare)) if rare else set()
            if within is not None:
                found = {doc_id for doc_id in found if doc_id in within}
            scan_all = len(found) < limit
            scores: dict[str, float] = {}
            for _, posting in terms:
                weight = idf(count, len(posting))
                docs = (
                    posting.items()
                    if scan_all or len(posting) <= common_df
                    else ((doc_id, posting[doc_id]) for doc_id in found if doc_id in posting)
                )
                for doc_id, tf in docs:
                    if within is not None and doc_id not in within:
                        continue
                    norm = K1 * (1.0 - B + B * lengths[doc_id] / average)
                    scores[doc_id] = scores.get(doc_id, 0.0) + weight * tf * (K1 + 1.0) / (tf + norm)
        return heapq.nlargest(limit, scores.items(), key=lambda pair: pair[1])
