"""Best-effort parsing of Python that does not compile: keep every complete unit before a break."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

MAX_TRIM_ATTEMPTS = 200
_CONTINUATION = re.compile(r"^([)\]}]|(else|elif|except|finally)\b)")
_TRIPLE_QUOTE = re.compile(r'"""|\'\'\'')
_PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError)


@dataclass
class ParsedBlock:
    """A parsed piece of the source; line numbers are those of the whole source."""

    module: ast.Module
    cut_line: int | None = None


@dataclass
class PythonParse:
    """The blocks that parsed, and what stopped the whole source from parsing (None if nothing)."""

    blocks: list[ParsedBlock] = field(default_factory=list)
    error: str | None = None


def parse_python(code: str) -> PythonParse:
    """Parse whole; failing that, parse top-level blocks one by one, trimming broken ones."""
    try:
        return PythonParse([ParsedBlock(ast.parse(code))])
    except _PARSE_ERRORS as exc:
        error = _describe(exc)
    lines = code.split("\n")
    blocks = [block for start, end in top_level_blocks(lines) if (block := _parse_block(lines, start, end))]
    return PythonParse(blocks, error)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f"line {exc.lineno}: {exc.msg}"
    return str(exc) or type(exc).__name__


def _is_code(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def top_level_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """Line ranges of top-level statements, split where code returns to column 0.

    Decorators stay with what they decorate, else/except/closing brackets stay with their
    statement, comments never split, and nothing splits inside a triple-quoted string.
    """
    blocks: list[tuple[int, int]] = []
    start: int | None = None
    last = 0
    header_only = in_string = False
    for number, line in enumerate(lines, 1):
        if not _is_code(line) and not in_string:
            continue
        stripped = line.strip()
        boundary = not in_string and not line[0].isspace() and not _CONTINUATION.match(stripped)
        if boundary and start is not None and not header_only:
            blocks.append((start, last))
            start = None
        if start is None:
            start, header_only = number, True
        header_only = header_only and stripped.startswith("@")
        if len(_TRIPLE_QUOTE.findall(line)) % 2:
            in_string = not in_string
        last = number
    if start is not None:
        blocks.append((start, last))
    return blocks


def _parse_lines(lines: list[str], start: int, end: int) -> ast.Module:
    """Parse lines start..end keeping their real line numbers."""
    return ast.parse("\n" * (start - 1) + "\n".join(lines[start - 1 : end]))


def _parse_block(lines: list[str], start: int, end: int) -> ParsedBlock | None:
    try:
        return ParsedBlock(_parse_lines(lines, start, end))
    except _PARSE_ERRORS as exc:
        stop = end
        if isinstance(exc, SyntaxError) and exc.lineno:
            stop = max(start, min(end, exc.lineno - 1))
    attempts = 0
    for cut in range(stop, start - 1, -1):
        if not _is_code(lines[cut - 1]):
            continue
        attempts += 1
        if attempts > MAX_TRIM_ATTEMPTS:
            break
        try:
            return ParsedBlock(_parse_lines(lines, start, cut), cut)
        except _PARSE_ERRORS:
            continue
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def is_truncated(node: ast.stmt, lines: list[str], cut_line: int | None) -> bool:
    """True when a def/class in a trimmed block continued past the cut: it is not complete."""
    if cut_line is None:
        return False
    following = next((line for line in lines[cut_line:] if _is_code(line)), None)
    if following is None or _indent(following) <= node.col_offset:
        return False
    end = node.end_lineno or node.lineno
    return all(_indent(line) > node.col_offset for line in lines[end:cut_line] if _is_code(line))
