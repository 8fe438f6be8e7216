"""An in-memory BM25 index over memories' words (``mcp_memory.words``), for recall of stored errors.

A plain inverted index with Okapi BM25 scoring; it supports replacing and removing documents, which a static BM25
library does not, so it can follow every write to the store. Postings are numpy arrays scored a word at a time:
at 100,000 error messages a query's common words reach tens of thousands of documents, which a loop in Python
walked for ~100 ms and numpy scores in a few.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Container, Iterable, Sequence

import numpy as np

from mcp_memory.words import K1, B, idf

# Words in more than this share of the documents (of an index this large) do not, alone, make a document a match.
COMMON_SHARE = 0.1
COMMON_MIN_DOCUMENTS = 500
_FIRST_CAPACITY = 4


class _Posting:
    """One word's documents: their slots and term counts in growing arrays; a removed document's count becomes 0
    (its entry is dead) until the arrays are compacted."""

    __slots__ = ("counts", "live", "position", "size", "slots")

    def __init__(self) -> None:
        self.slots = np.empty(_FIRST_CAPACITY, dtype=np.int64)
        self.counts = np.empty(_FIRST_CAPACITY, dtype=np.float64)
        self.size = 0
        self.live = 0
        self.position: dict[str, int] = {}

    def append(self, doc_id: str, slot: int, count: int) -> None:
        if self.size == len(self.slots):
            self.slots = np.concatenate([self.slots, np.empty(self.size, dtype=np.int64)])
            self.counts = np.concatenate([self.counts, np.empty(self.size, dtype=np.float64)])
        self.slots[self.size] = slot
        self.counts[self.size] = count
        self.position[doc_id] = self.size
        self.size += 1
        self.live += 1

    def drop(self, doc_id: str) -> None:
        self.counts[self.position.pop(doc_id)] = 0.0
        self.live -= 1
        if self.size > 32 and self.live * 2 < self.size:
            self._compact()

    def _compact(self) -> None:
        kept = np.flatnonzero(self.counts[: self.size] > 0)
        renumbered = np.full(self.size, -1, dtype=np.int64)
        renumbered[kept] = np.arange(len(kept))
        self.slots = self.slots[kept].copy()
        self.counts = self.counts[kept].copy()
        self.size = len(kept)
        self.position = {doc_id: int(renumbered[index]) for doc_id, index in self.position.items()}

    def entries(self) -> tuple[np.ndarray, np.ndarray]:
        """The slots and counts of the live documents, in the order they were added."""
        counts = self.counts[: self.size]
        held = counts > 0
        return self.slots[: self.size][held], counts[held]


class BM25Index:
    """Okapi BM25 over token lists, with documents added, replaced and removed at any time (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._empty()

    def _empty(self) -> None:
        self._postings: dict[str, _Posting] = {}
        self._terms: dict[str, Counter[str]] = {}
        self._slot_of: dict[str, int] = {}
        self._doc_at: list[str | None] = []
        self._free: list[int] = []
        self._lengths = np.zeros(0, dtype=np.float64)
        self._total_length = 0

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._slot_of

    def ids(self) -> set[str]:
        with self._lock:
            return set(self._slot_of)

    def add(self, doc_id: str, tokens: Sequence[str]) -> None:
        """Index ``doc_id`` under ``tokens``, replacing what it was indexed under before."""
        counts = Counter(tokens)
        with self._lock:
            self._remove(doc_id)
            slot = self._take_slot(doc_id)
            self._terms[doc_id] = counts
            self._lengths[slot] = len(tokens)
            self._total_length += len(tokens)
            for term, count in counts.items():
                posting = self._postings.get(term)
                if posting is None:
                    posting = self._postings[term] = _Posting()
                posting.append(doc_id, slot, count)

    def remove(self, doc_id: str) -> None:
        with self._lock:
            self._remove(doc_id)

    def clear(self) -> None:
        with self._lock:
            self._empty()

    def _take_slot(self, doc_id: str) -> int:
        if self._free:
            slot = self._free.pop()
            self._doc_at[slot] = doc_id
        else:
            slot = len(self._doc_at)
            self._doc_at.append(doc_id)
            if slot >= len(self._lengths):
                grown = np.zeros(max(64, 2 * len(self._lengths)), dtype=np.float64)
                grown[: len(self._lengths)] = self._lengths
                self._lengths = grown
        self._slot_of[doc_id] = slot
        return slot

    def _remove(self, doc_id: str) -> None:
        counts = self._terms.pop(doc_id, None)
        if counts is None:
            return
        slot = self._slot_of.pop(doc_id)
        self._total_length -= int(self._lengths[slot])
        self._lengths[slot] = 0.0
        self._doc_at[slot] = None
        self._free.append(slot)
        for term in counts:
            posting = self._postings[term]
            posting.drop(doc_id)
            if not posting.live:
                del self._postings[term]

    def query_weight(self, query_tokens: Iterable[str]) -> float:
        """What a document holding each of the query's words once, at average length, scores: the sum of their
        idfs (a word no document holds counts as the rarest). BM25 over this is comparable across queries."""
        with self._lock:
            count = len(self._slot_of)
            if not count:
                return 0.0
            postings = self._postings
            return sum(
                idf(count, postings[term].live if term in postings else 0) for term in dict.fromkeys(query_tokens)
            )

    def search(
        self, query_tokens: Iterable[str], limit: int, within: Container[str] | None = None
    ) -> list[tuple[str, float]]:
        """The ``limit`` best documents for the query, best first, with their BM25 scores (ties: the document
        indexed first first).

        Exact BM25 for every document it returns. Documents are found through the query's rarer words first: a
        word in more than ``COMMON_SHARE`` of a large index (``error``, ``type``) only adds its score to
        documents the rarer words found, unless those are fewer than ``limit`` — then every posting is read.
        """
        with self._lock:
            count = len(self._slot_of)
            if not count or limit <= 0:
                return []
            average = self._total_length / count or 1.0
            postings = [self._postings[term] for term in dict.fromkeys(query_tokens) if term in self._postings]
            if not postings:
                return []
            terms = [(posting, *posting.entries()) for posting in postings]
            common_df = max(COMMON_MIN_DOCUMENTS, COMMON_SHARE * count)
            found = np.zeros(len(self._lengths), dtype=bool)
            for posting, slots, _ in terms:
                if posting.live <= common_df:
                    found[slots] = True
            scan_all = self._fewer_than(np.flatnonzero(found), limit, within)
            scores = np.zeros(len(self._lengths), dtype=np.float64)
            scored = np.zeros(len(self._lengths), dtype=bool)
            for posting, slots, tfs in terms:
                if not scan_all and posting.live > common_df:
                    keep = found[slots]
                    slots, tfs = slots[keep], tfs[keep]
                weight = idf(count, posting.live)
                norm = K1 * (1.0 - B + B * self._lengths[slots] / average)
                scores[slots] += weight * tfs * (K1 + 1.0) / (tfs + norm)
                scored[slots] = True
            return self._best(np.flatnonzero(scored), scores, limit, within)

    def _fewer_than(self, slots: np.ndarray, limit: int, within: Container[str] | None) -> bool:
        """Whether fewer than ``limit`` of these documents are ``within``."""
        if within is None:
            return len(slots) < limit
        held = 0
        for slot in slots.tolist():
            if self._doc_at[slot] in within:
                held += 1
                if held >= limit:
                    return False
        return True

    def _best(
        self, slots: np.ndarray, scores: np.ndarray, limit: int, within: Container[str] | None
    ) -> list[tuple[str, float]]:
        """The best ``limit`` of ``slots`` that are ``within``: score first, then slot. Sorts only the top few
        unless ``within`` turns most of them down."""
        looked = min(len(slots), limit if within is None else 4 * limit)
        while True:
            if looked < len(slots):
                threshold = np.partition(scores[slots], len(slots) - looked)[len(slots) - looked]
                top = slots[scores[slots] >= threshold]  # every tie of the last place, so ties keep slot order
            else:
                top = slots
            ordered = top[np.lexsort((top, -scores[top]))]
            best: list[tuple[str, float]] = []
            for slot, score in zip(ordered.tolist(), scores[ordered].tolist(), strict=True):
                doc_id = self._doc_at[slot]
                if doc_id is not None and (within is None or doc_id in within):
                    best.append((doc_id, score))
                    if len(best) == limit:
                        return best
            if looked >= len(slots):
                return best
            looked = min(len(slots), looked * 8)
