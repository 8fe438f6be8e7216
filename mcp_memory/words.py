"""Code-aware words and the BM25 weights over them: the one tokenizer and scoring of every word index.

Error messages, tasks and agent steps are full of identifiers: ``ModuleNotFoundError``, ``json.decoder``,
``max_retries``, ``getUserName``. ``code_tokens`` keeps each identifier whole (so an exact name matches strongly),
adds its snake_case and camelCase parts (so ``user_name`` meets ``getUserName``), keeps dotted names whole as well
as split, and keeps numbers of two digits or more (issue numbers, status codes).

Two indexes use them: memories' in-memory index (``memory/word_index.py``) and the episodes' postings, scored in
SQL (``storage/episode_words.py``). Both score with Okapi BM25, ``idf`` below times ``tf * (K1 + 1) / (tf + K1 *
(1 - B + B * length / average length))``. This module imports nothing of the project, so the storage layer may use it
as well as the services above it.
"""

from __future__ import annotations

import math
import re

# Stored words were made by this version of ``code_tokens``; a store whose episode words were made by another one
# has them made again once (``EpisodeService.ensure_words_blocking``). Raise it whenever the tokens change.
TOKENS_VERSION = "2"

K1 = 1.2
B = 0.75

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|\d+")
_PARTS = re.compile(r"_+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do", "does",
        "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "just", "me",
        "my", "of", "on", "or", "our", "so", "than", "that", "the", "their", "then", "there", "these", "they",
        "this", "to", "too", "us", "was", "we", "were", "what", "when", "where", "which", "while", "who", "why",
        "will", "with", "would", "you", "your",
    }
)  # fmt: skip


def code_tokens(text: str) -> list[str]:
    """Lower-cased words of ``text``: identifiers and dotted names whole, plus their snake/camel/dot parts, and
    numbers; no stopwords, nothing shorter than two characters."""
    found: list[str] = []
    for match in _WORD.finditer(text):
        name = match.group(0)
        pieces = name.split(".")
        words = [name] if len(pieces) > 1 else []
        for piece in pieces:
            parts = [p for p in _PARTS.split(piece) if p]
            words.append(piece)
            if len(parts) > 1:
                words.extend(parts)
        for word in words:
            lowered = word.lower()
            if len(lowered) > 1 and lowered not in _STOPWORDS:
                found.append(lowered)
    return found


def idf(documents: int, holding: int) -> float:
    """BM25's inverse document frequency of a word that ``holding`` of ``documents`` documents contain (Lucene's
    form: always positive, so a word in most documents still counts a little)."""
    return math.log(1.0 + (documents - holding + 0.5) / (holding + 0.5))
