"""Consolidation: near-duplicates merged into the one with the best record, dead weight archived.

**Merges.** Two memories of one type and one project whose stored vectors are at least ``MERGE_THRESHOLDS[type]``
apart in cosine (measured by ``bench/dedup_threshold.py`` on the dev sets: no pair of different functions,
solutions or error messages reaches it), in the same language, errors with the same error signature, and not one
that only worked beside one that only failed, are one memory written twice. The one with the better record (more
successes than failures, then more uses, then the older) keeps recall; the other's counters are added to it and it
stays readable, out of recall, with a ``merged_into`` link that keeps what was added (``restore_memory`` undoes
the merge). Its outcome log and votes stay on it. Neighbours come from the vector index (the nearest few of each
memory); a group merges into its best member only where each member is itself that close to it, so no chain of
near neighbours merges two memories that are not.

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
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from mcp_memory.memory.validation import require_text
from mcp_memory.models import MemoryType
from mcp_memory.storage.archive import Candidate
from mcp_memory.storage.leases import Leases

if TYPE_CHECKING:
    from mcp_memory.memory.service import MemoryService

logger = logging.getLogger(__name__)

# The lowest cosine at which two memories of a type are one (bench/dedup_threshold.py, bench/README.md).
MERGE_THRESHOLDS: dict[str, float] = {"pattern": 0.97, "solution": 0.97, "error": 0.97, "best_practice": 0.97}
MERGE_TYPES: tuple[MemoryType, ...] = ("pattern", "solution", "error", "best_practice")
NEIGHBOURS = 6
BATCH = 256
MIN_FAILURES = 3
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
class _Merge:
    duplicate: Candidate
    survivor: Candidate
    similarity: float


def _record(candidate: Candidate) -> tuple[int, int, float, str]:
    """Better records sort first: more successes than failures, then more uses, then the older one."""
    return (
        -(candidate.success_count - candidate.failure_count),
        -candidate.usage_count,
        candidate.created_at,
        candidate.id,
    )


def _compatible(a: Candidate, b: Candidate) -> bool:
    """Same project and language; errors with one signature; never a memory that only worked with one that only
    failed (a fix and a failed attempt at it are two things to know)."""
    if a.project != b.project or a.language != b.language:
        return False
    if a.type == "error" and (not a.signature or a.signature != b.signature):
        return False
    only_worked = {c.id for c in (a, b) if c.success_count and not c.failure_count}
    only_failed = {c.id for c in (a, b) if c.failure_count and not c.success_count}
    return not (only_worked and only_failed)


def _count(number: int, word: str) -> str:
    return f"{number} {word}" + ("" if number == 1 else "s")


class Consolidator:
    """Plans and applies consolidation over one memory service."""

    def __init__(self, memory: MemoryService, archive_after: float) -> None:
        self.memory = memory
        self.store = memory.store
        self.archive_after = archive_after
        self.leases = Leases(memory.store.db)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop: threading.Event | None = None

    async def run(self, dry_run: bool = False, project: str | None = None) -> ConsolidationReport:
        return await self.memory.run(self.run_blocking, dry_run, project)

    def run_blocking(
        self, dry_run: bool = False, project: str | None = None, stop: threading.Event | None = None
    ) -> ConsolidationReport:
        """One consolidation (a ``dry_run`` only says what it would do); a set ``stop`` ends it between two steps
        (``Stopped``)."""
        started = time.monotonic()
        self._stop = stop
        if project is not None:
            project = require_text("project", project, 200, allow_empty=True).strip()
        self.store.open()
        if not dry_run and not self.leases.acquire(LEASE, self.holder, LEASE_SECONDS):
            return self._report(dry_run, project, 0, [], [], started, "another server is consolidating this memory")
        try:
            self.memory.usage.flush()
            through = self.store.rows.last_change()
            checked = None if project is not None else self.store.rows.fact(CHECKED_FACT)
            merges, compared = self._plan_merges(project, int(checked) if checked else None)
            archives = self._plan_archives(project, merges)
            if not dry_run:
                merges, archives = self._apply(merges, archives)
                if project is None:
                    self.store.rows.set_fact(CHECKED_FACT, str(through))
                self.store.rows.set_fact(LAST_RUN_FACT, str(time.time()))
        finally:
            if not dry_run:
                self.leases.release(LEASE, self.holder)
        merged = [self._merge_action(m) for m in merges]
        return self._report(dry_run, project, compared, merged, archives, started)

    def last_run_at(self) -> float | None:
        value = self.store.rows.fact(LAST_RUN_FACT)
        return float(value) if value else None

    # -- merges ------------------------------------------------------------------------------------

    def _plan_merges(self, project: str | None, checked_through: int | None) -> tuple[list[_Merge], int]:
        merges: list[_Merge] = []
        compared = 0
        for memory_type in MERGE_TYPES:
            changed = self._changed_ids(memory_type, checked_through) if checked_through is not None else None
            if changed is not None and not changed:
                continue
            known: dict[str, Candidate] = {}
            pairs: dict[tuple[str, str], float] = {}
            batch: list[Candidate] = []
            for candidate in self.store.states.candidates(memory_type, project, changed):
                known[candidate.id] = candidate
                batch.append(candidate)
                if len(batch) >= BATCH:
                    pairs.update(self._close_pairs(memory_type, batch, known))
                    compared += len(batch)
                    batch = []
                    self._renew()
            if batch:
                pairs.update(self._close_pairs(memory_type, batch, known))
                compared += len(batch)
            merges += self._groups(memory_type, pairs, known)
        return merges, compared

    def _changed_ids(self, memory_type: str, after: int) -> list[str]:
        """Ids of a type written since change ``after`` (new stores, new content, memories back in recall)."""
        ids: dict[str, None] = {}
        while True:
            changes = self.store.rows.changes_after(after)
            for change in changes:
                if change.type == memory_type and change.op == "put":
                    ids[change.memory_id] = None
            if not changes:
                return list(ids)
            after = changes[-1].seq

    def _close_pairs(
        self, memory_type: MemoryType, batch: list[Candidate], known: dict[str, Candidate]
    ) -> dict[tuple[str, str], float]:
        """Pairs of a batch member and a neighbour at or above the type's threshold that may merge."""
        threshold = MERGE_THRESHOLDS[memory_type]
        vectors = self.store.index.vectors(memory_type, [c.id for c in batch])
        asked = [c for c in batch if c.id in vectors]
        found = self.store.index.nearest_many(memory_type, [vectors[c.id] for c in asked], NEIGHBOURS + 1)
        close = {
            (candidate.id, other): 1.0 - distance
            for candidate, neighbours in zip(asked, found, strict=True)
            for other, distance in neighbours
            if other != candidate.id and 1.0 - distance >= threshold
        }
        missing = [other for _, other in close if other not in known]
        for candidate in self.store.states.candidates(memory_type, ids=missing) if missing else ():
            known[candidate.id] = candidate
        return {
            tuple(sorted(pair)): similarity  # type: ignore[misc]
            for pair, similarity in close.items()
            if pair[1] in known and _compatible(known[pair[0]], known[pair[1]])
        }

    def _groups(
        self, memory_type: MemoryType, pairs: dict[tuple[str, str], float], known: dict[str, Candidate]
    ) -> list[_Merge]:
        """Connected pairs as groups; each member close enough to its group's best merges into it."""
        parent: dict[str, str] = {}

        def root(item: str) -> str:
            while parent.setdefault(item, item) != item:
                parent[item] = parent[parent[item]]
                item = parent[item]
            return item

        for a, b in pairs:
            parent[root(a)] = root(b)
        groups: dict[str, list[Candidate]] = {}
        for item in parent:
            groups.setdefault(root(item), []).append(known[item])
        merges: list[_Merge] = []
        for members in groups.values():
            if len(members) < 2:
                continue
            best, *others = sorted(members, key=_record)
            similarity = self._similarities(memory_type, best.id, [o.id for o in others], pairs)
            threshold = MERGE_THRESHOLDS[memory_type]
            merges += [
                _Merge(other, best, similarity[other.id]) for other in others if similarity[other.id] >= threshold
            ]
        return merges

    def _similarities(
        self, memory_type: MemoryType, best: str, others: list[str], pairs: dict[tuple[str, str], float]
    ) -> dict[str, float]:
        """Cosine of each of ``others`` to ``best`` (from the pairs, else from the stored vectors)."""
        found = {o: pairs[tuple(sorted((best, o)))] for o in others if tuple(sorted((best, o))) in pairs}  # type: ignore[index]
        rest = [o for o in others if o not in found]
        if rest:
            import numpy as np

            vectors = self.store.index.vectors(memory_type, [best, *rest])
            if best in vectors:
                anchor = np.asarray(vectors[best], dtype=np.float32)
                for other in rest:
                    found[other] = float(anchor @ np.asarray(vectors[other])) if other in vectors else -1.0
        return {o: found.get(o, -1.0) for o in others}

    # -- archives ----------------------------------------------------------------------------------

    def _plan_archives(self, project: str | None, merges: list[_Merge]) -> list[ArchiveAction]:
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

    def _apply(self, merges: list[_Merge], archives: list[ArchiveAction]) -> tuple[list[_Merge], list[ArchiveAction]]:
        """Merge, then archive; what no longer applies when its turn comes (changed meanwhile) is left out."""
        done: list[_Merge] = []
        for merge in merges:
            note = f"cosine {merge.similarity:.3f}"
            moved = self.store.links.merge(merge.duplicate.id, merge.survivor.id, note, AGENT)
            if moved is not None:
                self.store.leave_recall(moved)
                done.append(merge)
            self._renew()
        archived: list[ArchiveAction] = []
        for action in archives:
            moved = self.store.states.archive(action.id, action.why)
            if moved:
                self.store.leave_recall(moved)
                archived.append(action)
        if done or archived:
            self.memory.mark_changed()
        return done, archived

    def _renew(self) -> None:
        """Between two steps: stop if asked, else keep the lease."""
        if self._stop is not None and self._stop.is_set():
            raise Stopped
        self.leases.acquire(LEASE, self.holder, LEASE_SECONDS)

    # -- the report --------------------------------------------------------------------------------

    @staticmethod
    def _merge_action(merge: _Merge) -> MergeAction:
        duplicate, survivor = merge.duplicate, merge.survivor
        why = f"near-duplicate of {survivor.id} (cosine {merge.similarity:.3f}"
        why += ", same error signature)" if duplicate.type == "error" else ")"
        why += (
            f"; that one has the better record ({survivor.success_count} worked, {survivor.failure_count} failed, "
            f"used {survivor.usage_count}× against {duplicate.success_count}, {duplicate.failure_count}, "
            f"{duplicate.usage_count}×)"
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


def _combined(merges: Iterable[_Merge]) -> dict[str, Candidate]:
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
