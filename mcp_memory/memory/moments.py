"""Moments in time as people and agents write them: ISO dates and times, or ages ("90m", "36h", "7d", "2w"); and
ages in words ("3 days ago")."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from mcp_memory.errors import InvalidInput

AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])(?:\s+ago)?$", re.IGNORECASE)
AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MOMENT_EXAMPLE = 'Use an age such as "90m", "36h", "7d" or "2w", or an ISO date or time such as "2026-03-01".'


def parse_moment(text: str, field: str, *, end_of_day: bool = False, now: float | None = None) -> float:
    """A time given as an age ("90m", "36h", "7d", "2w": that long before now) or an ISO date/time, as Unix seconds.

    A time without a zone is UTC. A date alone is the start of that day (UTC), or with ``end_of_day`` its end, so
    that an ``until`` date includes the day it names.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(field, "must not be empty.", MOMENT_EXAMPLE)
    text = text.strip()
    age = AGE.match(text)
    if age:
        return (time.time() if now is None else now) - float(age.group(1)) * AGE_UNITS[age.group(2).lower()]
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return (start + timedelta(days=1)).timestamp() - 1e-6 if end_of_day else start.timestamp()
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise InvalidInput(field, f"'{text[:60]}' is neither an ISO date/time nor an age.", MOMENT_EXAMPLE) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True)
class TimeWindow:
    """When a memory was stored: ``since`` and ``until`` in Unix seconds, each None when open."""

    since: float | None = None
    until: float | None = None

    @classmethod
    def of(cls, since: str | None, until: str | None, now: float | None = None) -> TimeWindow:
        """The window of a tool's ``since`` and ``until`` arguments; an empty window is a mistake, named."""
        start = parse_moment(since, "since", now=now) if since is not None else None
        end = parse_moment(until, "until", end_of_day=True, now=now) if until is not None else None
        if start is not None and end is not None and start > end:
            raise InvalidInput(
                "since",
                f"'{since}' is after until '{until}': nothing can be stored in between.",
                'since is the older bound, e.g. {"since": "14d", "until": "7d"} for the week before last.',
            )
        return cls(start, end)

    @property
    def open(self) -> bool:
        return self.since is None and self.until is None

    def where(self) -> dict[str, object] | None:
        """The window as a metadata filter on ``created_at``."""
        bounds: list[dict[str, object]] = []
        if self.since is not None:
            bounds.append({"created_at": {"$gte": self.since}})
        if self.until is not None:
            bounds.append({"created_at": {"$lte": self.until}})
        if not bounds:
            return None
        return bounds[0] if len(bounds) == 1 else {"$and": bounds}

    def holds(self, moment: float | None) -> bool:
        if moment is None:
            return self.open
        return (self.since is None or moment >= self.since) and (self.until is None or moment <= self.until)


def age_in_words(moment: float | None, now: float | None = None) -> str:
    """How long ago ``moment`` was: "just now", "5 minutes ago", "1 hour ago", "3 days ago", "2 years ago"."""
    if moment is None or moment <= 0:
        return "never"
    seconds = (time.time() if now is None else now) - moment
    if seconds < 60:
        return "just now" if seconds > -60 else "in the future"
    _, size, unit = next(step for step in AGE_STEPS if seconds < step[0])
    return _ago(int(seconds // size), unit)


# (below this many seconds, count in units of this many seconds, unit name)
AGE_STEPS: tuple[tuple[float, float, str], ...] = (
    (3600, 60, "minute"),
    (86_400, 3600, "hour"),
    (14 * 86_400, 86_400, "day"),
    (60 * 86_400, 7 * 86_400, "week"),
    (730 * 86_400, 30 * 86_400, "month"),
    (float("inf"), 365 * 86_400, "year"),
)


def _ago(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'} ago"
