"""Turning stored text into safe HTML: syntax-highlighted code, markdown, snippets with the query's words marked.

Everything stored is untrusted: it is escaped (by Pygments, by markdown-it with raw HTML off, or by
``markupsafe.escape``) before any markup of ours is added, and marks are only ever inserted between tags.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from markupsafe import Markup, escape

SNIPPET_CHARS = 320
EXCERPT_LINES = 12
MAX_TERMS = 12
_WORD = re.compile(r"[\w][\w.\-]*[\w]|\w", re.UNICODE)
_TAG_OR_ENTITY = re.compile(r"(<[^>]*>|&#?\w+;)")
_STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "does",
        "for",
        "from",
        "how",
        "in",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "with",
        "without",
    }
)


def query_terms(query: str) -> list[str]:
    """The words of a query worth marking: lower-cased, no stop words, longest first."""
    words = [w.lower() for w in _WORD.findall(query)]
    kept = [w for w in dict.fromkeys(words) if w not in _STOP_WORDS and (len(w) > 1 or w.isdigit())]
    return sorted(kept[:MAX_TERMS], key=len, reverse=True)


def _term_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    return re.compile("|".join(re.escape(str(escape(t))) for t in terms), re.IGNORECASE)


def mark_terms(html: str, terms: Sequence[str]) -> Markup:
    """``html`` with every occurrence of ``terms`` in its text (never inside a tag or entity) in ``<mark>``."""
    pattern = _term_pattern(terms)
    if pattern is None:
        return Markup(html)
    parts = _TAG_OR_ENTITY.split(html)
    for i in range(0, len(parts), 2):  # even positions are text between tags and entities
        parts[i] = pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", parts[i])
    return Markup("".join(parts))


_MARKDOWN_NOISE = (
    (re.compile(r"^\s*```.*$", re.MULTILINE), ""),
    (re.compile(r"^\s*#{1,6}\s+", re.MULTILINE), ""),
    (re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"(\*\*|__|`)"), ""),
)


def plain_text(markdown: str) -> str:
    """Markdown read as plain words, for snippets: no fences, heading marks, emphasis or link targets."""
    for pattern, replacement in _MARKDOWN_NOISE:
        markdown = pattern.sub(replacement, markdown)
    return markdown


def snippet(text: str, terms: Sequence[str], chars: int = SNIPPET_CHARS) -> Markup:
    """A window of ``text`` around the first query word found, escaped, with the words marked."""
    flat = " ".join(text.split())
    lowered = flat.lower()
    hits = [at for term in terms if (at := lowered.find(term)) >= 0]
    start = max(0, min(hits) - chars // 4) if hits else 0
    if start:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    window = flat[start : start + chars]
    prefix = "…" if start else ""
    suffix = "…" if start + chars < len(flat) else ""
    if not window:
        return Markup("")
    return Markup(prefix) + mark_terms(str(escape(window)), terms) + Markup(suffix)


@lru_cache(maxsize=64)
def _lexer(language: str | None) -> Any:
    from pygments.lexers import TextLexer, get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(language or "text", stripnl=False, ensurenl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=False)


def _spans(code: str, language: str | None) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter

    return highlight(code, _lexer(language), HtmlFormatter(nowrap=True))


def highlight_code(code: str, language: str | None, terms: Sequence[str] = ()) -> Markup:
    """A ``<pre>`` block of syntax-highlighted code (query words marked when given)."""
    inner = mark_terms(_spans(code, language), terms) if terms else Markup(_spans(code, language))
    lang = escape(language or "text")
    return Markup(f'<pre class="code" data-language="{lang}"><code>{inner}</code></pre>')


def code_excerpt(code: str, language: str | None, terms: Sequence[str], lines: int = EXCERPT_LINES) -> Markup:
    """At most ``lines`` lines of code, starting a little above the first line holding a query word."""
    all_lines = code.splitlines()
    first = next((i for i, line in enumerate(all_lines) if any(t in line.lower() for t in terms)), 0)
    start = max(0, min(first - 2, len(all_lines) - lines))
    excerpt = "\n".join(all_lines[start : start + lines])
    block = highlight_code(excerpt, language, terms)
    if len(all_lines) <= lines:
        return block
    end = min(len(all_lines), start + lines)
    return block + Markup(f'<p class="excerpt-note">lines {start + 1}–{end} of {len(all_lines)}</p>')


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    # Raw HTML off: tags in stored text are shown as text. Links keep markdown-it's check (no javascript:).
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.options["highlight"] = lambda code, lang, _attrs: _spans(code, lang or None)
    return md.enable("table")


def render_markdown(text: str) -> Markup:
    return Markup(_markdown().render(text))


def highlight_json(value: Any) -> Markup:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return highlight_code(text, "json")


def looks_like_code(text: str) -> bool:
    """Several lines with indentation, braces or statements: show it as code rather than prose."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    signals = sum(
        1 for line in lines if line.startswith(("    ", "\t")) or line.rstrip().endswith(("{", "}", ";", ":", ")"))
    )
    return signals * 3 >= len(lines)


# -- Jinja filters ---------------------------------------------------------------------------------


def ago(iso: str | None, now: datetime | None = None, seconds_precise: bool = False) -> str:
    """'3 min ago', '2 h ago', '5 d ago', or the date for anything older than a month; under a minute 'just now',
    or '12 s ago' when ``seconds_precise`` (for figures that lag behind writes)."""
    if not iso:
        return "—"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    now = now or datetime.now(UTC)
    seconds = (now - moment).total_seconds()
    if seconds < 0:
        return moment.strftime("%Y-%m-%d %H:%M")
    if seconds < 60:
        return f"{int(seconds)} s ago" if seconds_precise else "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86_400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 30 * 86_400:
        return f"{int(seconds // 86_400)} d ago"
    return moment.strftime("%Y-%m-%d")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} d {hours % 24} h"


def clock(iso: str | None) -> str:
    """The time of day of an ISO timestamp, to the millisecond when it has them."""
    if not iso or "T" not in iso:
        return iso or ""
    return iso.split("T", 1)[1].split("+", 1)[0]


def number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def human_bytes(size: int | None) -> str:
    """A size as people read it: 512 B, 3.4 MB; ``-`` when unknown."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
