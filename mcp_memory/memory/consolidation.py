"""Consolidation: near-duplicates merged into the one with the best record, dead weight archived.

**Merges.** Near-duplicates (``duplicates.py``: one type, project and language, cosine at or above the type's
threshold measured on the dev sets, and the same content: code of one structure, or one error line with the same
fix) merge into the one with the better record: its counters go up by the other's, and the other stays readable,
out of recall, with a ``merged_into`` link that keeps what was added (``restore_memory`` undoes the merge). Its
outcome log and votes stay on it.

Only memories new or changed since the last run are compared (a run remembers how far the change feed was), so a
daily run costs what a day added; the first run, and a run for one ``--project``, compare everything.

**Archives.** A memory that only ever failed (``MIN_FAILURES`` failures, no success), or that nobody stored again,
reported on or recalled within ``archive_after`` seconds, leaves recall, readable and listed by ``list_archived``,
back with ``restore_memory``. Seeds and team knowledge are never merged or archived; nor are episodes.

A run holds the database lease ``consolidation``: servers sharing a database consolidate one at a time. Running it
twice changes nothing the second time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from mcp_memory.memory.duplicates import DuplicateFinder, Merge
from mcp_memory.memory.validation import require_text
from mcp_memory.models import MemoryType
from mcp_memory.storage.archive import Candidate
from mcp_memory.storage.leases import Leases

if TYPE_CHECKING:
    from mcp_memory.memory.service import MemoryService

logger = logging.getLogger(__name__)

# Best practices are written by people (seeds, add_custom_knowledge): never consolidated.
MERGE_TYPES: tuple[MemoryType, ...] = ("pattern", "solution", "error")
MIN_FAILURES = 3
APPLY_BATCH = 500  # merges or archives per transaction and per vector delete
AGENT = "consolidation"  # who the merged_into links are recorded by
LEASE = "consolidation"
LEASE_SECONDS = 600.0
CHECKED_FACT = "consolidation.checked_through"
LAST_RUN_FACT = "consolidation.last_run_at"


class MergeAction(BaseModel):
    id: str = Field(description="The near-duplicate: out of recall, its counts added to `into`.")
    into: str
    type: MemoryType
    project: str
    title: str
    similarity: float
    why: str


class ArchiveAction(BaseModel):
    id: str
    type: MemoryType
    project: str
    title: str
    why: str


class ConsolidationReport(BaseModel):
    dry_run: bool
    project: str | None = Field(description="The project consolidated; None: every project.")
    compared: int = Field(description="Memories whose nearest neighbours were compared.")
    merged: list[MergeAction]
    archived: list[ArchiveAction]
    skipped: str | None = Field(default=None, description="Why nothing was done (another server is at it).")
    seconds: float
    finished_at: str


class Stopped(Exception):
    """The process is stopping: a run ends between two steps (what was applied stays applied)."""


@dataclass(frozen=True)
class _Steps:
    """What happens between two steps of a run: stop if asked; a real run renews its lease."""

    renew: Callable[[], object] | None
    stop: threading.Event | None

    def between(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise Stopped
        if self.renew is not None:
            self.renew()


def _count(number: int, word: str) -> str:
    return f"{number} {word}" + ("" if number == 1 else "s")


class Consolidator:
    """Plans and applies consolidation over one memory service."""

    def __init__(self, memory: MemoryService, archive_after: float) -> None:
        self.memory = memory
        self.store = memory.store
        self.archive_after = archive_after
        self.leases = Leases(memory.store.db)
        self.duplicates = DuplicateFinder(memory.store)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._running = threading.Lock()  # one real run at a time in this process (the lease: across processes)

    async def run(self, dry_run: bool = False, project: str | None = None) -> ConsolidationReport:
        return await self.memory.run(self.run_blocking, dry_run, project)

    def run_blocking(
        self, dry_run: bool = False, project: str | None = None, stop: threading.Event | None = None
    ) -> ConsolidationReport:
        """One consolidation (a ``dry_run`` only says what it would do, and runs beside a real one); a set
        ``stop`` ends it between two steps (``Stopped``)."""
        started = time.monotonic()
        if project is not None:
            project = require_text("project", project, 200, allow_empty=True).strip()
        self.store.open()
        if dry_run:
            return self._run(_Steps(None, stop), project, started)
        if not self._running.acquire(blocking=False):
            return self._report(False, project, 0, [], [], started, "a consolidation is running in this server")
        try:
            if not self.leases.acquire(LEASE, self.holder, LEASE_SECONDS):
                return self._report(False, project, 0, [], [], started, "another server is consolidating this memory")
            try:
                return self._run(
                    _Steps(lambda: self.leases.acquire(LEASE, self.holder, LEASE_SECONDS), stop), project, started
                )
            finally:
                self.leases.release(LEASE, self.holder)
        finally:
            self._running.release()

    def _run(self, steps: _Steps, project: str | None, started: float) -> ConsolidationReport:
        dry_run = steps.renew is None
        self.memory.usage.flush()
        through = self.store.feed.last_change()
        checked = None if project is not None else self.store.facts.fact(CHECKED_FACT)
        merges, compared = self._plan_merges(project, int(checked) if checked else None, steps)
        archives = self._plan_archives(project, merges)
        if not dry_run:
            merges, archives = self._apply(merges, archives, steps)
            if project is None:
                self.store.facts.set_fact(CHECKED_FACT, str(through))
            self.store.facts.set_fact(LAST_RUN_FACT, str(time.time()))
        merged = [self._merge_action(m) for m in merges]
        return self._report(dry_run, project, compared, merged, archives, started)

    def last_run_at(self) -> float | None:
        value = self.store.facts.fact(LAST_RUN_FACT)
        return float(value) if value else None

    # -- merges ------------------------------------------------------------------------------------

    def _plan_merges(self, project: str | None, checked_through: int | None, steps: _Steps) -> tuple[list[Merge], int]:
        merges: list[Merge] = []
        compared = 0
        changes = self._changed_ids(checked_through) if checked_through is not None else None
        for memory_type in MERGE_TYPES:
            changed = changes.get(memory_type, []) if changes is not None else None
            if changed is not None and not changed:
                continue
            asked = self.store.states.candidates(memory_type, project, changed)
            found, count = self.duplicates.merges(memory_type, asked, steps.between)
            merges += found
            compared += count
        return merges, compared

    def _changed_ids(self, after: int) -> dict[str, list[str]]:
        """Ids per type written since change ``after`` (new stores, new content, memories back in recall)."""
        ids: dict[str, dict[str, None]] = {}
        while changes := self.store.feed.changes_after(after):
            for change in changes:
                if change.op == "put":
                    ids.setdefault(change.type, {})[change.memory_id] = None
            after = changes[-1].seq
        return {memory_type: list(found) for memory_type, found in ids.items()}

    # -- archives ----------------------------------------------------------------------------------

    def _plan_archives(self, project: str | None, merges: list[Merge]) -> list[ArchiveAction]:
        """What only ever failed or went unused, judged after the planned merges (a survivor with the records of
        the memories merged into it)."""
        now = time.time()
        merged = {m.duplicate.id for m in merges}
        combined = _combined(merges)
        actions: list[ArchiveAction] = []
        for memory_type in MERGE_TYPES:
            found = {
                c.id: c
                for c in self.store.states.candidates(
                    memory_type, project, stale_before=now - self.archive_after, min_failures=MIN_FAILURES
                )
            }
            found.update({i: c for i, c in combined.items() if c.type == memory_type})
            for candidate in sorted(found.values(), key=lambda c: c.id):
                candidate = combined.get(candidate.id, candidate)
                why = self._archive_reason(candidate, now)
                if candidate.id not in merged and why:
                    actions.append(
                        ArchiveAction(
                            id=candidate.id,
                            type=memory_type,
                            project=candidate.project,
                            title=candidate.title,
                            why=why,
                        )
                    )
        return actions

    def _archive_reason(self, candidate: Candidate, now: float) -> str | None:
        if candidate.failure_count >= MIN_FAILURES and candidate.success_count == 0:
            return f"failed {_count(candidate.failure_count, 'time')} and never worked"
        if candidate.last_active < now - self.archive_after:
            since = datetime.fromtimestamp(candidate.last_active, tz=UTC).date().isoformat()
            days = self.archive_after / 86_400
            return f"not stored again, reported on or recalled since {since} (over {days:g} days)"
        return None

    # -- applying ----------------------------------------------------------------------------------

    def _apply(
        self, merges: list[Merge], archives: list[ArchiveAction], steps: _Steps
    ) -> tuple[list[Merge], list[ArchiveAction]]:
        """Merge, then archive, a batch per transaction (and per vector delete); what no longer applies when its
        turn comes (changed meanwhile) is left out."""
        done: list[Merge] = []
        archived: list[ArchiveAction] = []
        try:
            for start in range(0, len(merges), APPLY_BATCH):
                batch = {m.duplicate.id: m for m in merges[start : start + APPLY_BATCH]}
                notes = [(m.duplicate.id, m.survivor.id, f"cosine {m.similarity:.3f}") for m in batch.values()]
                merged = self.store.links.merge(notes, AGENT)
                self.store.leave_recall([row for _, moved in merged for row in moved])
                done += [batch[duplicate] for duplicate, _ in merged]
                steps.between()
            for start in range(0, len(archives), APPLY_BATCH):
                actions = archives[start : start + APPLY_BATCH]
                moved = self.store.states.archive([(a.id, a.why) for a in actions])
                self.store.leave_recall([row for rows in moved.values() for row in rows])
                archived += [a for a in actions if a.id in moved]
                steps.between()
        finally:
            if done or archived:  # caches of derived results (suggestions) see what was applied, even if stopped
                self.memory.mark_changed()
        return done, archived

    # -- the report --------------------------------------------------------------------------------

    @staticmethod
    def _merge_action(merge: Merge) -> MergeAction:
        duplicate, survivor = merge.duplicate, merge.survivor
        same = "the same error line and fix" if duplicate.type == "error" else "code of the same structure"
        why = (
            f"near-duplicate (cosine {merge.similarity:.3f}, {same}); the other has the better record "
            f"({survivor.success_count} worked, {survivor.failure_count} failed, used {survivor.usage_count}× against "
            f"{duplicate.success_count}, {duplicate.failure_count}, {duplicate.usage_count}×)"
        )
        return MergeAction(
            id=duplicate.id,
            into=survivor.id,
            type=duplicate.type,  # type: ignore[arg-type]
            project=duplicate.project,
            title=duplicate.title,
            similarity=round(merge.similarity, 4),
            why=why,
        )

    @staticmethod
    def _report(
        dry_run: bool,
        project: str | None,
        compared: int,
        merged: list[MergeAction],
        archived: list[ArchiveAction],
        started: float,
        skipped: str | None = None,
    ) -> ConsolidationReport:
        return ConsolidationReport(
            dry_run=dry_run,
            project=project,
            compared=compared,
            merged=merged,
            archived=archived,
            skipped=skipped,
            seconds=round(time.monotonic() - started, 3),
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )


def _combined(merges: Iterable[Merge]) -> dict[str, Candidate]:
    """Each survivor with the counters and latest activity of everything merged into it."""
    survivors: dict[str, Candidate] = {}
    for merge in merges:
        current = survivors.get(merge.survivor.id, merge.survivor)
        other = merge.duplicate
        survivors[current.id] = replace(
            current,
            usage_count=current.usage_count + other.usage_count,
            success_count=current.success_count + other.success_count,
            failure_count=current.failure_count + other.failure_count,
            last_active=max(current.last_active, other.last_active),
        )
    return survivors
