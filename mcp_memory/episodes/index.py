"""Finding past episodes: a summary vector per ended episode in Chroma, BM25 over its words in the database, fused.

Measured on 80 real agent runs (bench/episode_recall.py, same-code recall, leave-one-out, 48 queries):
the summary vector alone R@5 .77 / MRR .64, BM25 alone .81 / .68, their reciprocal-rank fusion .81 / .72.
Episodes are written record-first: the database row (with digest and words) commits before the vector is
added, and ``indexed_at`` is set only after; an episode whose vector is missing is re-added by
``EpisodeService.finish_pending_blocking`` (upserts by episode id, so repeating it is harmless).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from mcp_memory.episodes.digest import EpisodeDigest, embed_text, query_terms
from mcp_memory.episodes.views import how_it_ended, iso, outcome, shorten, title
from mcp_memory.memory.dense import DenseSearch
from mcp_memory.memory.moments import TimeWindow, age_in_words
from mcp_memory.memory.projects import EVERYWHERE, ProjectScope
from mcp_memory.memory.records import MemoryDraft, content_hash, new_metadata
from mcp_memory.models import SimilarEpisode
from mcp_memory.storage.embeddings import Embedder
from mcp_memory.storage.episode_store import EpisodeRow, EpisodeStore
from mcp_memory.storage.store import MemoryStore, StoredItem

RRF_K = 60
FUSION_DEPTH = 50
COMMON_WORD_SHARE = 0.25  # words in more episodes than this share are not searched
MAX_QUERY_TERMS = 128  # the rarest query words; more added cost without adding recall (measured)
SUCCESS_WIDENING = 3  # success_only: how much wider the unfiltered vector search is
WINDOW_WIDENING = 10  # a since/until window: likewise (Chroma cannot filter on when an episode ended)
ANY_TIME = TimeWindow()
# Word searches of every index share a few threads (created on first use), beside the caller's own.
_WORD_SEARCH = ThreadPoolExecutor(max_workers=4, thread_name_prefix="episode-words")


def digest_of(row: EpisodeRow) -> EpisodeDigest | None:
    return EpisodeDigest.model_validate_json(row.digest_json) if row.digest_json else None


def episode_document(row: EpisodeRow, digest: EpisodeDigest) -> str:
    """The readable text stored with the vector (what search_memory and get_memory show)."""
    lines = [f"Task: {shorten(row.task, 1000)}", f"Outcome: {how_it_ended(row, digest)}"]
    if digest.agent_roles:
        lines.append("Roles: " + ", ".join(digest.agent_roles))
    if digest.files_changed:
        lines.append("Files: " + ", ".join(digest.files_changed[:20]))
    lines += [f"Error: #{e.seq} {e.event_type}: {e.message}" for e in digest.errors[-3:]]
    lines += [f"First: {shorten(e.text, 300)}" for e in digest.first_events[:1]]
    lines += [f"Last: {shorten(e.text, 300)}" for e in digest.last_events[-1:]]
    return "\n".join(lines)


def episode_metadata(row: EpisodeRow, digest: EpisodeDigest) -> dict[str, Any]:
    """Chroma metadata in the common memory layout, plus what episode filters need."""
    draft = MemoryDraft(
        type="episode",
        title=title(row.task),
        content="",
        embed_text="",
        identity_text=f"{row.id}\n{row.ended_at}",
        fields={
            "task": shorten(row.task, 2000),
            "summary": shorten(row.summary, 2000),
            "files_changed": digest.files_changed[:20],
            "errors": [e.message for e in digest.errors[-3:]],
        },
        metadata={
            "episode_id": row.id,
            "success": bool(row.success),
            "status": row.status,
            "agent_roles": "|" + "|".join(digest.agent_roles) + "|",
            "event_count": row.event_count,
            "error_count": digest.error_count,
        },
        source="episode",
        agent=row.started_by,  # the token's agent; ``agent_role`` is the label it gave
        agent_role=row.agent_role,
        success=bool(row.success),
        fixed_id=row.id,
        project=row.project,
    )
    metadata = new_metadata(draft, content_hash("episode", draft.identity_text), now=row.ended_at)
    metadata["created_at"] = row.started_at
    return metadata


@dataclass(frozen=True)
class Rankings:
    cosine: dict[str, float]  # episode id -> cosine similarity, best first
    lexical: list[str]  # episode ids, best BM25 first
    terms: list[str]  # the query words searched, rarest first


class EpisodeIndex:
    """Writes ended episodes to the vector store and ranks them for a new task."""

    def __init__(self, episodes: EpisodeStore, vectors: MemoryStore, embedder: Embedder, dense: DenseSearch) -> None:
        self.episodes = episodes
        self.vectors = vectors
        self.embedder = embedder
        self.dense = dense  # the memories' nearest-vector search: it keeps project scopes off Chroma's filter

    def add(self, rows: Sequence[EpisodeRow]) -> None:
        """Embed and upsert ended episodes (their digests must be saved), then mark them indexed."""
        if not rows:
            return
        digests = [digest_of(row) or EpisodeDigest() for row in rows]
        texts = [embed_text(row.task, row.summary, d) for row, d in zip(rows, digests, strict=True)]
        vectors = self.embedder.encode(texts)
        items = [
            StoredItem(row.id, episode_document(row, d), episode_metadata(row, d))
            for row, d in zip(rows, digests, strict=True)
        ]
        self.vectors.add("episode", items, vectors)
        self.episodes.mark_indexed([row.id for row in rows], time.time())

    def rankings(
        self,
        query: str,
        depth: int,
        success_only: bool,
        scope: ProjectScope = EVERYWHERE,
        window: TimeWindow = ANY_TIME,
    ) -> Rankings:
        """The two candidate lists recall fuses: by meaning (summary vectors) and by words (BM25), in ``scope``
        and, when given, of the episodes that ended in ``window``.

        The word search runs in its own thread while the query is embedded: both wait on C code.
        """
        lexical = _WORD_SEARCH.submit(self._lexical, query, depth, success_only, scope, window)
        embedding = self.embedder.encode([query])[0]
        return Rankings(cosine=self._dense(embedding, depth, success_only, scope, window), **lexical.result())

    def _dense(
        self, embedding: list[float], depth: int, success_only: bool, scope: ProjectScope, window: TimeWindow
    ) -> dict[str, float]:
        left_out = self.dense.left_out("episode", scope)
        if not success_only and window.open:
            return dict(self.dense.nearest("episode", embedding, depth, None, None, left_out))
        # Chroma's metadata filter costs ~30x a query for ids alone (10k episodes); most episodes succeed,
        # so a wider list is filtered here, and Chroma's filter is used only when that finds too few. A time
        # window is held to the episodes' rows (the word search finds the rest of the window's episodes).
        widening = SUCCESS_WIDENING if window.open else WINDOW_WIDENING
        wide = self.dense.nearest("episode", embedding, depth * widening, None, None, left_out)
        kept = self.episodes.kept([i for i, _ in wide], success_only, window.since, window.until)
        found = {i: cosine for i, cosine in wide if i in kept}
        if len(found) < depth and len(wide) == depth * widening and window.open:
            found = dict(self.dense.nearest("episode", embedding, depth, {"success": True}, None, left_out))
        return dict(list(found.items())[:depth])

    def _lexical(
        self, query: str, depth: int, success_only: bool, scope: ProjectScope, window: TimeWindow
    ) -> dict[str, list[str]]:
        terms = query_terms(query)
        frequencies = self.episodes.document_frequencies(terms)
        # Common words weigh little in BM25 but their posting lists grow with the history. Skipping words in
        # over a quarter of the episodes kept fused R@5 on the agent runs (.81) and cut the query ~5x.
        common = max(1, int(self.episodes.count_ended() * COMMON_WORD_SHARE))
        searched = [t for t in terms if 0 < frequencies.get(t, 0) <= common]
        rare = sorted(searched, key=lambda t: frequencies[t])[:MAX_QUERY_TERMS]
        found = self.episodes.search(rare, depth, success_only, scope.projects, window.since, window.until)
        return {"lexical": found, "terms": rare}

    def similar(
        self,
        query: str,
        n_results: int,
        success_only: bool,
        scope: ProjectScope = EVERYWHERE,
        window: TimeWindow = ANY_TIME,
    ) -> list[SimilarEpisode]:
        depth = max(FUSION_DEPTH, 2 * n_results)
        ranked = self.rankings(query, depth, success_only, scope, window)
        fused = reciprocal_rank_fusion([list(ranked.cosine), ranked.lexical])
        rows = self.episodes.rows([episode_id for episode_id, _ in fused])
        results: list[SimilarEpisode] = []
        for episode_id, score in fused:
            row = rows.get(episode_id)
            if row is None or row.status != "ended" or (success_only and not row.success):
                continue  # a vector without its record (another data dir on a shared Chroma server)
            if not scope.admits(row.project) or not window.holds(row.ended_at):
                continue
            why = _why(query, row, ranked, self.episodes)
            results.append(_similar(row, score, ranked.cosine.get(episode_id), why))
            if len(results) == n_results:
                break
        return results


def reciprocal_rank_fusion(rankings: list[list[str]]) -> list[tuple[str, float]]:
    """Fused order with scores scaled to 0..1 (1 = first in every ranking)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (RRF_K + rank)
    best = len(rankings) / (RRF_K + 1)
    return sorted(((item, score / best) for item, score in scores.items()), key=lambda pair: -pair[1])


def _why(query: str, row: EpisodeRow, ranked: Rankings, episodes: EpisodeStore) -> str:
    reasons: list[str] = []
    if row.id in ranked.cosine:
        rank = list(ranked.cosine).index(row.id) + 1
        reasons.append(f"close in meaning (cosine {ranked.cosine[row.id]:.2f}, #{rank} by meaning)")
    if row.id in ranked.lexical:
        words = episodes.indexed_words(row.id)
        shared = [t for t in ranked.terms if t in words][:6]
        reasons.append(f"shares rare words {', '.join(shared)} (#{ranked.lexical.index(row.id) + 1} by words)")
    digest = digest_of(row)
    files = [f for f in (digest.files_changed if digest else []) if PurePosixPath(f).name in query]
    if files:
        reasons.append("your task names its files " + ", ".join(files[:3]))
    return "; ".join(reasons) or "ranked by fusion"


def _similar(row: EpisodeRow, score: float, similarity: float | None, why: str) -> SimilarEpisode:
    digest = digest_of(row)
    return SimilarEpisode(
        episode_id=row.id,
        task=shorten(row.task, 500),
        outcome=outcome(row),
        how_it_ended=how_it_ended(row, digest),
        why=why,
        score=round(score, 4),
        similarity=None if similarity is None else round(similarity, 4),
        summary=row.summary,
        files_changed=digest.files_changed[:20] if digest else [],
        errors=[e.message for e in digest.errors[-3:]] if digest else [],
        agent_roles=row.roles,
        event_count=row.event_count,
        agent=row.started_by or None,
        started_at=iso(row.started_at),
        ended_at=iso(row.ended_at),
        ended_ago=age_in_words(row.ended_at),
        project=row.project,
    )
