"""The word index of ended episodes: postings (episode, field, term, count) and BM25 over them, in plain SQL.

Why not a full-text extension: SQLite's FTS5 has no PostgreSQL counterpart with the same ranking, and one set of
queries must serve both. The scoring is the BM25 of memories' word index (``mcp_memory.words``: its ``K1``, ``B``
and ``idf``), with both fields weighted 1, a term's count summed over the fields and the episode's length = both
fields' words; the database sums the scores of the query's terms, so only the best ids leave it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Float, case, cast, delete, func, insert, select, update

from mcp_memory.storage.schema import episode_words, episodes
from mcp_memory.words import K1, B, idf

TASK, EVENTS = 0, 1
MAX_TERM_CHARS = 200  # the column's width; a longer "word" (a hash, a blob) is not worth a posting


def write(conn: Any, episode_n: int, task_tokens: str, event_tokens: str) -> None:
    """Replace one episode's postings and word counts (tokens space-separated, as ``token_text`` makes them)."""
    conn.execute(delete(episode_words).where(episode_words.c.episode_n == episode_n))
    rows: list[dict[str, Any]] = []
    lengths: list[int] = []
    for field, text in ((TASK, task_tokens), (EVENTS, event_tokens)):
        words = text.split()
        lengths.append(len(words))
        counts = Counter(w for w in words if len(w) <= MAX_TERM_CHARS)
        rows += [{"episode_n": episode_n, "field": field, "term": t, "tf": n} for t, n in counts.items()]
    if rows:
        conn.execute(insert(episode_words), rows)
    conn.execute(
        update(episodes).where(episodes.c.n == episode_n).values(task_words=lengths[0], event_words=lengths[1])
    )


def document_frequencies(conn: Any, terms: Sequence[str]) -> dict[str, int]:
    """In how many indexed episodes each term occurs (terms in none are left out)."""
    terms = [t for t in terms if len(t) <= MAX_TERM_CHARS]
    if not terms:
        return {}
    found = conn.execute(
        select(episode_words.c.term, func.count(func.distinct(episode_words.c.episode_n)))
        .where(episode_words.c.term.in_(terms))
        .group_by(episode_words.c.term)
    )
    return {term: int(count) for term, count in found}


def search(
    conn: Any,
    terms: Sequence[str],
    limit: int,
    success_only: bool,
    projects: Collection[str] | None = None,
    ended_since: float | None = None,
    ended_until: float | None = None,
) -> list[str]:
    """Episode ids ranked by BM25 over task and event words (any term may match), of ``projects`` and ended within
    the bounds when given."""
    terms = [t for t in terms if len(t) <= MAX_TERM_CHARS]
    if not terms:
        return []
    length = episodes.c.task_words + episodes.c.event_words
    indexed, average = conn.execute(
        select(func.count(), func.avg(cast(length, Float))).where(episodes.c.task_words.is_not(None))
    ).one()
    if not indexed:
        return []
    frequencies = document_frequencies(conn, terms)
    weights = {t: idf(indexed, n) for t, n in frequencies.items()}
    if not weights:
        return []
    per_term = (
        select(episode_words.c.episode_n, episode_words.c.term, cast(func.sum(episode_words.c.tf), Float).label("tf"))
        .where(episode_words.c.term.in_(list(weights)))
        .group_by(episode_words.c.episode_n, episode_words.c.term)
        .subquery()
    )
    norm = K1 * (1 - B + B * cast(length, Float) / max(float(average or 0.0), 1.0))
    score = func.sum(
        case(weights, value=per_term.c.term, else_=0.0) * per_term.c.tf * (K1 + 1) / (per_term.c.tf + norm)
    )
    query = (
        select(episodes.c.id)
        .join(per_term, per_term.c.episode_n == episodes.c.n)
        .group_by(episodes.c.n, episodes.c.id)
        .order_by(score.desc(), episodes.c.n)
        .limit(limit)
    )
    query = ended_within(query, success_only, ended_since, ended_until)
    if projects is not None:
        query = query.where(episodes.c.project.in_(sorted(projects)))
    return [row[0] for row in conn.execute(query)]


def ended_within(query: Any, success_only: bool, ended_since: float | None, ended_until: float | None) -> Any:
    """``query`` on the episodes table held to successes (when ``success_only``) that ended within the bounds."""
    if success_only:
        query = query.where(episodes.c.success.is_(True))
    if ended_since is not None:
        query = query.where(episodes.c.ended_at >= ended_since)
    if ended_until is not None:
        query = query.where(episodes.c.ended_at <= ended_until)
    return query


def words_of(conn: Any, episode_id: str) -> set[str]:
    """The words the index holds for one episode."""
    found = conn.execute(
        select(episode_words.c.term)
        .join(episodes, episodes.c.n == episode_words.c.episode_n)
        .where(episodes.c.id == episode_id)
    )
    return {row[0] for row in found}
