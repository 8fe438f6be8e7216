"""Time buckets for charts: days, weeks or months, chosen by the span of the data."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from mcp_memory.console.models import Granularity

DAY = 86_400
MAX_DAYS = 62
MAX_WEEKS = 105


def granularity_for(first_day: int, last_day: int) -> Granularity:
    """Days for two months or less, weeks for two years or less, months beyond."""
    span = last_day - first_day
    if span <= MAX_DAYS:
        return "day"
    if span <= MAX_WEEKS * 7:
        return "week"
    return "month"


def bucket_start(day: int, granularity: Granularity) -> date:
    """The first day of the bucket holding ``day`` (days since 1970-01-01, UTC); weeks start on Monday."""
    moment = date(1970, 1, 1) + timedelta(days=day)
    if granularity == "week":
        return moment - timedelta(days=moment.weekday())
    if granularity == "month":
        return moment.replace(day=1)
    return moment


def bucket_labels(first_day: int, last_day: int, granularity: Granularity) -> list[date]:
    """Every bucket from the one holding ``first_day`` to the one holding ``last_day``, oldest first."""
    start, end = bucket_start(first_day, granularity), bucket_start(last_day, granularity)
    labels: list[date] = []
    current = start
    while current <= end:
        labels.append(current)
        if granularity == "day":
            current += timedelta(days=1)
        elif granularity == "week":
            current += timedelta(days=7)
        else:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return labels


class Buckets:
    """Maps days to bucket positions for one chart axis."""

    def __init__(self, days: Iterable[int], today: int | None = None) -> None:
        known = set(days)
        today = today if today is not None else int(datetime.now(UTC).timestamp() // DAY)
        first = min(known, default=today)
        last = max(known | {today})
        self.granularity: Granularity = granularity_for(first, last)
        self.labels = bucket_labels(first, last, self.granularity)
        self._position = {label: i for i, label in enumerate(self.labels)}
        self._cache: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.labels)

    def index(self, day: int) -> int:
        found = self._cache.get(day)
        if found is None:
            found = self._cache[day] = self._position[bucket_start(day, self.granularity)]
        return found

    def iso_labels(self) -> list[str]:
        return [label.isoformat() for label in self.labels]
