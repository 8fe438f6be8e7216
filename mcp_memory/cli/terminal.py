"""Output for people at a terminal: aligned tables, a progress bar with rate and ETA, human numbers."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Sequence
from typing import TextIO


def human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def one_line(text: str) -> str:
    return " ".join(text.split())


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], width: int | None = None, align_right: Sequence[str] = ()
) -> str:
    """Rows as aligned columns; the widest column is cut (with …) so a line fits in ``width``."""
    cells = [[one_line(str(c)) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    limit = width or shutil.get_terminal_size((120, 24)).columns
    while sum(widths) + 2 * (len(widths) - 1) > limit and max(widths) > 12:
        widest = widths.index(max(widths))
        widths[widest] -= 1

    def fit(text: str, i: int) -> str:
        text = text if len(text) <= widths[i] else text[: widths[i] - 1] + "…"
        return text.rjust(widths[i]) if headers[i] in align_right else text.ljust(widths[i])

    lines = ["  ".join(fit(h, i) for i, h in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(fit(c, i) for i, c in enumerate(row)).rstrip() for row in cells]
    return "\n".join(lines)


class Progress:
    """A one-line progress bar on a terminal (stderr); silent when the stream is not a terminal."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.done = 0
        self._start = time.monotonic()
        self._last_draw = 0.0

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and (now - self._last_draw >= 0.1 or self.done >= self.total):
            self._last_draw = now
            self.stream.write("\r" + self.line(now) + "\x1b[K")
            self.stream.flush()

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self._start, 1e-9)
        rate = self.done / elapsed
        fraction = min(1.0, self.done / self.total) if self.total else 1.0
        bar = "#" * int(fraction * 24)
        eta = human_duration((self.total - self.done) / rate) if rate > 0 and self.done < self.total else "0s"
        return f"{self.label} [{bar:<24}] {self.done:,}/{self.total:,} {fraction:4.0%}  {rate:,.0f}/s  ETA {eta}"

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + self.line() + "\x1b[K\n")
            self.stream.flush()
