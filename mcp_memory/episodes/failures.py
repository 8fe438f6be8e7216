"""Failure analysis: failed episodes grouped by how they broke, each group with what to do about it.

A cluster is keyed by the error signature of the event where the episode broke (its last error), so
the same cause groups together whatever module, path or line it named. Failures that recorded no error
are grouped by their last step (event type and agent role) instead.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import anyio

from mcp_memory.episodes.digest import iter_briefs
from mcp_memory.episodes.index import digest_of
from mcp_memory.episodes.service import EpisodeService
from mcp_memory.episodes.views import shorten, title
from mcp_memory.errors import InvalidInput
from mcp_memory.memory.error_signature import error_signature
from mcp_memory.memory.projects import EVERY_PROJECT, ProjectScope
from mcp_memory.memory.service import MemoryService
from mcp_memory.models import FailureAnalysis, FailureCluster, KnownFix, MemoryHit
from mcp_memory.storage.episode_store import EpisodeRow

FAILURE_WINDOW = 1000  # the most recent failed episodes analyzed
MIN_FIX_SIMILARITY = 0.5
MAX_FIXES = 2
_QUOTED = re.compile(r"'([^'\n]{1,60})'|\"([^\"\n]{1,60})\"")


@dataclass
class _Group:
    signature: str
    has_error: bool
    rows: list[EpisodeRow] = field(default_factory=list)
    examples: Counter[str] = field(default_factory=Counter)
    event_types: Counter[str] = field(default_factory=Counter)
    roles: Counter[str] = field(default_factory=Counter)
    preceded_by: Counter[str] = field(default_factory=Counter)
    preceding_events: list[str] = field(default_factory=list)


class FailureAnalyst:
    """Clusters recent failed episodes and matches each cluster with stored error resolutions."""

    def __init__(self, episodes: EpisodeService, memory: MemoryService) -> None:
        self.episodes = episodes
        self.memory = memory

    async def analyze(self, limit: int, project: str | None = EVERY_PROJECT) -> FailureAnalysis:
        """The failed episodes of ``project`` and global ones (``"*"``, the default here: every project), grouped;
        known fixes come from the same projects."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise InvalidInput("limit", f"must be between 1 and 100 clusters, got {limit!r}.")
        scope = ProjectScope.of(project)
        await self.episodes.ensure_indexed()
        rows = await self.episodes.recent_failures(FAILURE_WINDOW, scope)
        groups = await anyio.to_thread.run_sync(_group, rows)  # parses up to 1,000 digests: off the event loop
        clusters = [await self._cluster(group, scope) for group in groups[:limit]]
        note = None
        if not rows:
            note = "No failed episodes yet: failures appear here once end_episode is called with success=false."
            if scope.projects is not None:
                searched = f"project '{scope.label}' and global" if scope.label else "global"
                note += f' Only {searched} episodes were searched; project="*" searches every project.'
        elif len(groups) > limit:
            note = f"{len(groups) - limit} smaller cluster(s) left out; raise limit to see them."
        return FailureAnalysis(failed_episodes=len(rows), clusters=clusters, note=note)

    async def _cluster(self, group: _Group, scope: ProjectScope) -> FailureCluster:
        fixes = await self._known_fixes(group, scope) if group.has_error else []
        return FailureCluster(
            signature=group.signature,
            count=len(group.rows),
            episode_ids=[row.id for row in group.rows[:10]],
            examples=[message for message, _ in group.examples.most_common(3)],
            failing_event_types=dict(group.event_types.most_common()),
            agent_roles=dict(group.roles.most_common()),
            preceded_by=dict(group.preceded_by.most_common(5)),
            preceding_events=group.preceding_events,
            tasks=list(dict.fromkeys(title(row.task) for row in group.rows))[:3],
            known_fixes=fixes,
            advice=_advice(group, fixes),
        )

    async def _known_fixes(self, group: _Group, scope: ProjectScope) -> list[KnownFix]:
        """Stored resolutions whose error is this one: same signature first, then close in meaning."""
        query = group.examples.most_common(1)[0][0]
        recalled = await self.memory.recall(
            query, ["error"], MAX_FIXES * 3, query_field="error_message", project=scope.label
        )
        fixes = [_fix(hit, group.signature) for hit in recalled.results]
        fixes = [f for f in fixes if f.same_signature or f.similarity >= MIN_FIX_SIMILARITY]
        fixes.sort(key=lambda f: (f.same_signature, f.outcome != "failed", f.similarity), reverse=True)
        return fixes[:MAX_FIXES]


def _group(rows: list[EpisodeRow]) -> list[_Group]:
    """Failed episodes (newest first) grouped by where and how they broke; largest groups first."""
    groups: dict[str, _Group] = {}
    for row in rows:
        digest = digest_of(row)
        failure = digest.failure if digest else None
        if failure is None:
            key, has_error = "no events recorded", False
        elif failure.message:
            key, has_error = error_signature(failure.message), True
        else:
            key, has_error = (
                f"ended after '{failure.event_type}' by {failure.agent_role}, no error recorded",
                False,
            )
        group = groups.setdefault(key, _Group(key, has_error))
        group.rows.append(row)
        if failure is None or digest is None:
            continue
        if failure.message:
            group.examples[failure.message] += 1
        group.event_types[failure.event_type] += 1
        group.roles[failure.agent_role] += 1
        if digest.before_failure:
            group.preceded_by[digest.before_failure[-1].event_type] += 1
        if not group.preceding_events:  # rows are newest first: the latest episode's story
            group.preceding_events = iter_briefs([*digest.before_failure, failure])
    return sorted(groups.values(), key=lambda g: len(g.rows), reverse=True)


def _fix(hit: MemoryHit, signature: str) -> KnownFix:
    error = str(hit.fields.get("error_message") or hit.title)
    resolution = str(hit.fields.get("resolution") or hit.content)
    return KnownFix(
        memory_id=hit.id,
        error_message=shorten(error, 300),
        resolution=shorten(resolution, 600),
        outcome=hit.outcome,
        similarity=hit.similarity,
        same_signature=error_signature(error) == signature,
        agent=hit.agent,
        created_at=hit.created_at,
        trusted=hit.trusted,
    )


def _advice(group: _Group, fixes: list[KnownFix]) -> str:
    """One or two sentences an agent can act on."""
    count = len(group.rows)
    episodes = f"{count} failed episode" + ("" if count == 1 else "s")
    step = _top(group.event_types)
    roles = ", ".join(f"{role} ×{n}" for role, n in group.roles.most_common(3))
    before = _top(group.preceded_by)
    if not group.has_error:
        return (
            f"{episodes} {group.signature}. Record the error text in record_event data (key 'error') when a step "
            "fails, so the cause can be diagnosed and matched to a fix."
        )
    varying = _varying_names(group)
    sentence = f"{episodes} broke with '{group.signature}'"
    if varying:
        sentence += f" (e.g. {', '.join(varying)})"
    if step:
        sentence += f" at '{step}'" + (f" by {roles}" if roles else "")
    if before:
        sentence += f", usually right after '{before}'"
    sentence += "."
    # A fix's text is another agent's words: it stays in known_fixes, named here by its id, never spliced in.
    working = [f for f in fixes if f.outcome != "failed" and f.trusted]
    unconfirmed = [f for f in fixes if f.outcome != "failed" and not f.trusted]
    if working:
        best = working[0]
        sentence += (
            f" Known fix ({best.outcome}): {best.memory_id}, stored by '{best.agent or 'unknown'}' (its resolution "
            f"is in known_fixes) — weigh it before '{step or 'that step'}'."
        )
    elif unconfirmed:
        sentence += (
            f" The only stored fix, {unconfirmed[0].memory_id}, is unconfirmed: stored by "
            f"'{unconfirmed[0].agent or 'unknown'}', an agent that is not trusted. Check it before using it."
        )
    elif fixes:
        sentence += f" A stored attempt did NOT work ({fixes[0].memory_id}, in known_fixes); try something else."
    else:
        sentence += " No stored fix matches: once solved, call store_error_resolution so the next agent can apply it."
    return sentence


def _varying_names(group: _Group) -> list[str]:
    """The concrete names the signature's placeholders stood for, e.g. the missing modules."""
    names: dict[str, None] = {}
    for message in group.examples:
        for match in _QUOTED.finditer(message):
            names.setdefault(repr(match.group(1) or match.group(2)))
    return list(names)[:4]


def _top(counter: Counter[str]) -> str | None:
    return counter.most_common(1)[0][0] if counter else None
