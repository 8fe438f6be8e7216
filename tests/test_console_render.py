"""The console's building blocks: safe HTML from stored text, time buckets, and when memory trends are scanned."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from mcp_memory.console.models import MemoryTrends
from mcp_memory.console.render import (
    code_excerpt,
    highlight_code,
    mark_terms,
    query_terms,
    render_markdown,
    snippet,
)
from mcp_memory.console.timeline import Buckets, bucket_labels, granularity_for
from mcp_memory.console.trends import QUICK_SCAN_SECONDS, TrendsCache


def test_query_terms_drop_stop_words_and_come_longest_first() -> None:
    assert query_terms("How to retry the HTTP requests in Go") == ["requests", "retry", "http", "go"]


@pytest.mark.parametrize(
    ("html", "terms", "expected"),
    [
        ("retry later", ["retry"], "<mark>retry</mark> later"),
        ('<span class="retry">retry</span>', ["retry"], '<span class="retry"><mark>retry</mark></span>'),
        ("a &amp; b", ["amp"], "a &amp; b"),
        ("Retry RETRY", ["retry"], "<mark>Retry</mark> <mark>RETRY</mark>"),
        ("x &lt;b&gt; y", ["b"], "x &lt;<mark>b</mark>&gt; y"),
    ],
)
def test_marks_go_around_words_in_text_never_inside_tags_or_entities(
    html: str, terms: list[str], expected: str
) -> None:
    assert str(mark_terms(html, terms)) == expected


def test_a_snippet_is_escaped_before_words_are_marked() -> None:
    text = "intro " * 80 + '<script>alert("x")</script> retry with backoff'

    shown = str(snippet(text, ["retry"]))

    assert shown.startswith("…") and "<mark>retry</mark> with backoff" in shown
    assert "<script>" not in shown and "&lt;script&gt;" in shown


def test_code_is_highlighted_as_its_language_and_never_as_markup() -> None:
    block = str(highlight_code('x = "</pre><script>alert(1)</script>"', "python"))

    assert block.startswith('<pre class="code" data-language="python"><code>')
    assert "<script>" not in block and "&lt;/pre&gt;&lt;script&gt;" in block


def test_an_unknown_language_is_shown_as_plain_text() -> None:
    assert "alert" in str(highlight_code("alert(1)", "no-such-language"))


def test_a_code_excerpt_starts_near_the_first_line_with_a_query_word() -> None:
    code = "\n".join(f"line_{i} = {i}" for i in range(40)) + "\ndef retry():\n    pass\n"

    excerpt = str(code_excerpt(code, "python", ["retry"], lines=6))

    assert "line_38" in excerpt and "line_30" not in excerpt
    assert "lines 37–42 of 42" in excerpt  # a full window, ending at the last line


@pytest.mark.parametrize(
    "text",
    ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[click](javascript:alert(1))"],
)
def test_markdown_shows_raw_html_as_text_and_drops_script_links(text: str) -> None:
    html = str(render_markdown(text))

    assert "<script" not in html and "<img" not in html and 'href="javascript:' not in html


def test_markdown_fences_are_syntax_highlighted() -> None:
    html = str(render_markdown("Use it:\n\n```python\nimport asyncio\n```\n"))

    assert '<code class="language-python">' in html and '<span class="kn">import</span>' in html


def test_the_chart_buckets_are_days_weeks_or_months_by_the_span_of_the_data() -> None:
    assert granularity_for(0, 62) == "day"
    assert granularity_for(0, 63) == "week"
    assert granularity_for(0, 800) == "month"
    assert bucket_labels(19_000, 19_001, "day") == [date(2022, 1, 8), date(2022, 1, 9)]
    assert bucket_labels(19_000, 19_020, "week")[0] == date(2022, 1, 3)  # a Monday
    assert bucket_labels(19_000, 19_100, "month")[-1] == date(2022, 4, 1)


def test_bucket_positions_cover_every_day_from_the_first_to_today() -> None:
    buckets = Buckets([19_000, 19_010], today=19_012)

    assert len(buckets) == 13 and buckets.index(19_000) == 0 and buckets.index(19_012) == 12


def _trends(scan_seconds: float) -> MemoryTrends:
    return MemoryTrends(
        total=0,
        by_type={},
        by_language={},
        agents={},
        granularity="day",
        buckets=[],
        added_by_type=[],
        added_by_language=[],
        cumulative=[],
        outcomes_by_type={},
        success_rate_by_type={},
        most_reused_patterns=[],
        most_reused=[],
        computed_at="",
        scan_seconds=scan_seconds,
    )


class FakeStore:
    """A scan that takes the time it says it takes, counted, with a write counter."""

    def __init__(self, size: int, scan_seconds: float) -> None:
        self.size = size
        self.scan_seconds = scan_seconds
        self.version = 0
        self.scans = 0
        self.release = threading.Event()
        self.release.set()

    def scan(self) -> MemoryTrends:
        self.release.wait(10)
        self.scans += 1
        return _trends(self.scan_seconds)

    def cache(self) -> TrendsCache:
        return TrendsCache(self.scan, version=lambda: self.version, size=lambda: self.size)


def test_a_small_store_is_scanned_at_once_and_again_after_every_write() -> None:
    store = FakeStore(size=500, scan_seconds=QUICK_SCAN_SECONDS / 10)
    cache = store.cache()

    assert cache.get() is not None and store.scans == 1
    assert cache.get() is not None and store.scans == 1  # nothing written: the same scan
    store.version += 1
    cache.get()
    assert store.scans == 2


def test_a_big_store_is_scanned_in_the_background_and_pages_never_wait() -> None:
    store = FakeStore(size=100_000, scan_seconds=20.0)
    store.release.clear()
    cache = store.cache()

    assert cache.get() is None  # no scan yet: the page says it is counting
    assert cache.peek() is None
    store.release.set()
    cache._background.join(10)  # type: ignore[union-attr]
    assert cache.peek() is not None and store.scans == 1
    store.version += 1  # a write: too soon after a slow scan to scan again
    assert cache.get() is not None and store.scans == 1
