"""Recall: candidates from every index a type's policy uses, fused, moved by outcomes, and explained.

The nearest memories by meaning come from ``dense.py``, which keeps language and project filters off Chroma's slow
``where`` filter; the word index and exact signature matches are held to the same language and project scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mcp_memory.memory.catalog import Catalog
from mcp_memory.memory.dense import DenseSearch, LeftOut, Within
from mcp_memory.memory.error_signature import signature_if_named
from mcp_memory.memory.projects import EVERYWHERE, ProjectScope
from mcp_memory.memory.ranking import (
    MAX_OUTCOME_RAISE,
    SIGNATURE_BONUS,
    RankingPolicy,
    blend,
    is_weak,
    outcome_adjustment,
    outcome_why,
    part_why,
    policy_for,
)
from mcp_memory.memory.records import record_fields
from mcp_memory.models import MemoryHit, MemoryType
from mcp_memory.storage.embeddings import Embedder
from mcp_memory.storage.store import MemoryStore, StoredItem
from mcp_memory.words import code_tokens

CANDIDATE_FACTOR = 3
# Rows read first beyond n_results: enough that one read usually settles the top (a read costs as much as ~15 rows;
# at n_results=5 errors settled after 30 rows, the dense types hold 15 candidates).
SHORTLIST_SLACK = 25
MAX_WIDEN = 16  # how much deeper than usual to look when long patterns' parts fill the first look


@dataclass
class _Candidate:
    id: str
    cosine: float
    words: float = 0.0
    word_rank: int | None = None
    same_signature: bool = False
    relevance: float = 0.0
    score: float = 0.0
    item: StoredItem | None = None
    matched_part: int | None = None  # code stored in parts: the part that matched; ``item`` is the whole pattern


@dataclass(frozen=True)
class _Ask:
    """One memory type's part of a recall."""

    memory_type: MemoryType
    policy: RankingPolicy
    query: str
    text: str  # the part of the query the type compares (``RankingPolicy.query_text``)
    embedding: list[float]
    n_results: int
    where: dict[str, Any] | None
    language: str | None
    scope: ProjectScope
    left_out: LeftOut | None  # what the project scope leaves out of this type, as far as the catalog knows


class Recaller:
    """Ranks memories of any type for a query, each type by its policy (``ranking.py``)."""

    def __init__(self, store: MemoryStore, embedder: Embedder, catalog: Catalog) -> None:
        self.store = store
        self.embedder = embedder
        self.catalog = catalog
        self.dense = DenseSearch(store, catalog)

    def recall(
        self,
        query: str,
        memory_types: Sequence[MemoryType],
        n_results: int,
        where: dict[str, Any] | None = None,
        language: str | None = None,
        scope: ProjectScope = EVERYWHERE,
    ) -> list[MemoryHit]:
        """The best ``n_results`` memories of ``memory_types`` in ``scope``; Chroma ``where`` and ``language`` apply."""
        embeddings: dict[str, list[float]] = {}
        ranked: list[tuple[_Candidate, str]] = []
        for memory_type in memory_types:
            policy = policy_for(memory_type)
            text = policy.query_text(query)
            if text not in embeddings:
                embeddings[text] = self.embedder.encode([text])[0]
            left_out = self.dense.left_out(memory_type, scope)
            ask = _Ask(memory_type, policy, query, text, embeddings[text], n_results, where, language, scope, left_out)
            candidates = self._rank(ask)
            ranked += [(candidate, text) for candidate in candidates]
        ranked.sort(key=lambda entry: entry[0].score, reverse=True)
        query_words: dict[str, list[str]] = {}  # each text's words, split once for every hit found by words
        return [_hit(candidate, text, query_words) for candidate, text in ranked[:n_results]]

    # -- one type ------------------------------------------------------------------------------------

    def _rank(self, ask: _Ask) -> list[_Candidate]:
        """The type's best candidates, long patterns' parts folded into their pattern; when folding leaves fewer
        than ``n_results`` and the collection holds more, it looks deeper."""
        widen = 1
        while True:
            candidates, exhausted = self._rank_once(ask, widen)
            folded = self._fold_parts(ask.memory_type, candidates, ask.where)
            if len(folded) >= ask.n_results or len(folded) == len(candidates) or exhausted or widen >= MAX_WIDEN:
                return folded
            widen *= 4

    def _rank_once(self, ask: _Ask, widen: int) -> tuple[list[_Candidate], bool]:
        """Candidates by ids and cosines first; documents and counters are read only for the few that can win.
        Also says whether the nearest-vector search found fewer than it asked for (there is no more to find)."""
        memory_type, policy, query, text = ask.memory_type, ask.policy, ask.query, ask.text
        embedding, n_results, where, language = ask.embedding, ask.n_results, ask.where, ask.language
        shortlist = n_results * CANDIDATE_FACTOR
        depth = max(policy.depth, shortlist) * widen
        nearest = self.dense.nearest(memory_type, embedding, depth, where, language, ask.left_out)
        candidates = {item_id: _Candidate(item_id, cosine) for item_id, cosine in nearest}
        words: list[tuple[str, float]] = []
        full_match = 0.0  # the BM25 of a memory holding every query word: word scores are fractions of it
        if policy.uses_words:
            view = self.catalog.view(memory_type)
            members = self.catalog.language_ids(memory_type, language) if language else None
            allowed = Within(members, ask.left_out) if members is not None or ask.left_out is not None else None
            if policy.lexical_weight and view.words is not None:
                tokens = code_tokens(text)
                words = view.words.search(tokens, max(policy.word_depth, shortlist), within=allowed)
                full_match = view.words.query_weight(tokens)
            signature = signature_if_named(query) if policy.signature_first else None
            same = view.signature_ids(signature) if signature else set()
            if allowed is not None:
                same = {item_id for item_id in same if item_id in allowed}
            if len(same) > depth:  # a very common signature: only the ones the indexes found
                same &= set(candidates) | {item_id for item_id, _ in words}
            missing = [i for i in dict.fromkeys([*(i for i, _ in words), *sorted(same)]) if i not in candidates]
            if missing:
                import numpy as np

                query_vector = np.asarray(embedding, dtype=np.float32)
                for item_id, vector in self.store.vectors(memory_type, missing, where).items():
                    candidates[item_id] = _Candidate(item_id, float(np.dot(query_vector, vector)))
            for rank, (item_id, score) in enumerate(words, 1):
                if item_id in candidates:
                    candidates[item_id].words, candidates[item_id].word_rank = score, rank
            for item_id in same:
                if item_id in candidates:
                    candidates[item_id].same_signature = True
        for candidate in candidates.values():
            candidate.relevance = blend(candidate.cosine, candidate.words, full_match, policy.lexical_weight) + (
                SIGNATURE_BONUS if candidate.same_signature else 0.0
            )
        return self._with_outcomes(memory_type, candidates.values(), n_results, ask.scope), len(nearest) < depth

    def _with_outcomes(
        self, memory_type: MemoryType, candidates: Iterable[_Candidate], n_results: int, scope: ProjectScope
    ) -> list[_Candidate]:
        """Read documents and counters best-relevance first, only until no unread candidate can still make the top.

        An outcome raises a score by at most ``MAX_OUTCOME_RAISE``, so once the n-th best score read so far beats
        the best unread relevance by that much, the rest cannot enter — the result is exact, the reads few.
        """
        ordered = sorted(candidates, key=lambda c: c.relevance, reverse=True)
        ranked: list[_Candidate] = []
        read, batch = 0, n_results + SHORTLIST_SLACK
        while read < len(ordered):
            chunk = ordered[read : read + batch]
            read += len(chunk)
            items = {item.id: item for item in self.store.get(memory_type, [c.id for c in chunk])}
            for candidate in chunk:
                candidate.item = items.get(candidate.id)
                if candidate.item is None:  # deleted in between
                    continue
                if not scope.admits(str(candidate.item.metadata.get("project") or "")):
                    continue  # written by another server since the catalog last followed the database
                candidate.score = candidate.relevance + _outcome_adjustment(candidate.item)
                ranked.append(candidate)
            if read < len(ordered):
                best: dict[str, float] = {}  # per pattern: its parts count once
                for candidate in ranked:
                    key = _part_of(candidate) or candidate.id
                    best[key] = max(best.get(key, candidate.score), candidate.score)
                if len(best) >= n_results:
                    nth = sorted(best.values(), reverse=True)[n_results - 1]
                    if nth >= ordered[read].relevance + MAX_OUTCOME_RAISE:
                        break
            batch *= 2
        return ranked

    def _fold_parts(
        self, memory_type: MemoryType, ranked: list[_Candidate], where: dict[str, Any] | None
    ) -> list[_Candidate]:
        """Code too long for the model is stored as a pattern plus parts (``pattern_drafts.py``); a matching part
        stands for its whole pattern, once, with the part's relevance and the pattern's own outcomes. A part whose
        pattern is gone, or does not match ``where``, is dropped."""
        parents = {parent for c in ranked if (parent := _part_of(c)) is not None}
        if not parents:
            return ranked
        held = {c.id: c.item for c in ranked if c.item is not None}
        missing = [parent for parent in parents if parent not in held]
        if missing:
            held.update((item.id, item) for item in self.store.get(memory_type, missing, where))
        folded: dict[str, _Candidate] = {}
        for candidate in sorted(ranked, key=lambda c: c.relevance, reverse=True):
            parent = _part_of(candidate)
            key = parent or candidate.id
            if key in folded:  # a better-matching part or the pattern itself came first
                continue
            if parent is not None:
                whole = held.get(parent)
                if whole is None:
                    continue
                part = candidate.item.metadata.get("part") if candidate.item is not None else None
                candidate = _Candidate(
                    parent,
                    candidate.cosine,
                    candidate.words,
                    candidate.word_rank,
                    candidate.same_signature,
                    candidate.relevance,
                    item=whole,
                    matched_part=part if isinstance(part, int) else None,
                )
                candidate.score = candidate.relevance + _outcome_adjustment(whole)
            folded[key] = candidate
        return list(folded.values())


def _hit(candidate: _Candidate, text: str, query_words: dict[str, list[str]]) -> MemoryHit:
    assert candidate.item is not None
    record = record_fields(candidate.item)  # validated once, as the hit
    success_count, failure_count = record["success_count"], record["failure_count"]
    reasons = [f"semantic similarity {candidate.cosine:.2f}"]
    if candidate.matched_part is not None:
        reasons[0] += part_why(candidate.matched_part, record["fields"].get("parts"))
    if candidate.same_signature:
        signature = candidate.item.metadata.get("signature") or ""
        reasons.append(f"same error signature '{signature}'" if signature else "same error signature")
    if candidate.word_rank is not None:
        words = query_words.get(text)
        if words is None:
            words = query_words[text] = list(dict.fromkeys(code_tokens(text)))
        shared = _shared_words(words, str(record["fields"].get("error_message") or record["title"]))
        reasons.append(
            f"shares words {', '.join(shared)} (#{candidate.word_rank} by words)"
            if shared
            else f"#{candidate.word_rank} by words"
        )
    failure_note = _last_failure_note(candidate.item.metadata) if failure_count else None
    outcome = outcome_why(success_count, failure_count, bool(failure_note))
    if outcome:
        reasons.append(outcome)
    weak = is_weak(record["type"], candidate.relevance)
    if weak:
        reasons.insert(0, "WEAK MATCH: below this type's relevance floor, probably not about the query")
    return MemoryHit(
        **record,
        score=round(candidate.score, 4),
        similarity=round(candidate.cosine, 4),
        why="; ".join(reasons),
        weak=weak,
        matched_part=candidate.matched_part,
        last_failure_note=failure_note,
    )


def _outcome_adjustment(item: StoredItem) -> float:
    """What a stored memory's outcome counters add to its relevance (``ranking.outcome_adjustment``)."""
    meta = item.metadata
    return outcome_adjustment(int(meta.get("success_count", 0)), int(meta.get("failure_count", 0)))


def _part_of(candidate: _Candidate) -> str | None:
    parent = candidate.item.metadata.get("part_of") if candidate.item is not None else None
    return parent if isinstance(parent, str) and parent else None


def _shared_words(query_words: list[str], stored: str, limit: int = 5) -> list[str]:
    stored_words = set(code_tokens(stored))
    return [word for word in query_words if word in stored_words][:limit]


def _last_failure_note(metadata: dict[str, Any]) -> str | None:
    note = metadata.get("last_failure_note")
    return str(note) if note else None
