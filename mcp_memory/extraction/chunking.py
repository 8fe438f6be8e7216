"""Line-based chunking so long code or prose fits an embedding model's input window."""

from __future__ import annotations

import re
from collections.abc import Callable

from mcp_memory.errors import InvalidInput

_PIECE = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]")
_WORD = re.compile(r"\S+\s*|\s+")


def estimate_tokens(text: str) -> int:
    """Rough word-piece count: each word, number or symbol, plus one piece per 5 more letters.

    It over-counts a little on purpose, so chunks sized with it still fit a real tokenizer.
    """
    return sum(1 + (len(piece) - 1) // 5 for piece in _PIECE.findall(text))


def chunk_text(
    text: str,
    max_tokens: int = 256,
    count_tokens: Callable[[str], int] | None = None,
    overlap_lines: int = 2,
) -> list[str]:
    """Split text on line boundaries into chunks of at most ``max_tokens`` tokens.

    Consecutive chunks share up to ``overlap_lines`` lines so a unit cut at a boundary is still
    found whole in one of them. A text that fits is returned as one chunk; no text is ever dropped
    (a single line too long to fit is split between words, or between characters as a last resort).
    """
    if max_tokens < 1:
        raise InvalidInput("max_tokens", f"must be at least 1, got {max_tokens}.")
    if not text:
        return []
    count = count_tokens or estimate_tokens
    if count(text) <= max_tokens:
        return [text]
    pieces: list[str] = []
    for line in text.splitlines(keepends=True):
        pieces.extend([line] if count(line) <= max_tokens else _split_long_line(line, max_tokens, count))
    chunks: list[str] = []
    current: list[str] = []
    for piece in pieces:
        if current and count("".join([*current, piece])) > max_tokens:
            chunks.append("".join(current))
            overlap = current[-overlap_lines:] if overlap_lines > 0 else []
            while overlap and count("".join([*overlap, piece])) > max_tokens:
                overlap = overlap[1:]
            current = [*overlap, piece]
        else:
            current.append(piece)
    if current:
        chunks.append("".join(current))
    return chunks


def _split_long_line(line: str, max_tokens: int, count: Callable[[str], int]) -> list[str]:
    """Cut one over-long line between words; a word that alone is too long is cut between characters."""
    parts: list[str] = []
    current = ""
    for word in _WORD.findall(line):
        if count(current + word) <= max_tokens:
            current += word
            continue
        if current:
            parts.append(current)
            current = ""
        if count(word) <= max_tokens:
            current = word
        else:
            parts.extend(_split_characters(word, max_tokens, count))
    if current:
        parts.append(current)
    return parts


def _split_characters(word: str, max_tokens: int, count: Callable[[str], int]) -> list[str]:
    """Longest prefixes that fit, found by bisection; at least one character each so it always ends."""
    parts: list[str] = []
    rest = word
    while rest:
        low, high = 1, len(rest)
        while low < high:
            middle = (low + high + 1) // 2
            if count(rest[:middle]) <= max_tokens:
                low = middle
            else:
                high = middle - 1
        parts.append(rest[:low])
        rest = rest[low:]
    return parts
