"""Quarantine: with ``MCP_MEMORY_TRUSTED_AGENTS`` set, which memories are trusted.

A memory is trusted when its author (the token's agent, never an argument) is a trusted agent, when it is seeded
knowledge, when a trusted agent's latest outcome report on it says it worked, or when at least
``MCP_MEMORY_CONFIRMATIONS`` agents other than its author last reported that it worked (``outcome_votes``). Without
the setting everyone is trusted and nothing is looked up.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from mcp_memory.config import Settings

SEED_SOURCE = "seed"


@dataclass(frozen=True)
class Subject:
    """What trust is judged on: a memory's id, its author and where it came from."""

    id: str
    author: str | None
    source: str = "agent"


@dataclass(frozen=True)
class Verdict:
    trusted: bool
    confirmations: int = 0  # agents other than the author whose latest report says it worked


TRUSTED = Verdict(True)


@dataclass(frozen=True)
class TrustPolicy:
    """Who is trusted (None: everyone) and how many other agents confirm a memory from anyone else."""

    trusted_agents: frozenset[str] | None
    confirmations: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> TrustPolicy:
        return cls(settings.trusted_agent_names(), settings.confirmations)

    @property
    def configured(self) -> bool:
        return self.trusted_agents is not None

    def vouched(self, subject: Subject) -> bool:
        """Trusted by who wrote it, without looking at any vote."""
        return self.trusted_agents is None or subject.source == SEED_SOURCE or subject.author in self.trusted_agents

    def judge(
        self, subjects: Sequence[Subject], success_voters: Callable[[list[str]], Mapping[str, Collection[str]]]
    ) -> dict[str, Verdict]:
        """A verdict per subject id; ``success_voters`` is asked once, for the subjects their author does not vouch
        for (not at all when quarantine is off or every author is vouched for)."""
        verdicts = {s.id: TRUSTED for s in subjects if self.vouched(s)}
        pending = [s for s in subjects if s.id not in verdicts]
        if not pending:
            return verdicts
        assert self.trusted_agents is not None
        voters = success_voters(list(dict.fromkeys(s.id for s in pending)))
        for subject in pending:
            confirmed_by = set(voters.get(subject.id, ())) - {subject.author or ""}
            trusted = bool(confirmed_by & self.trusted_agents) or len(confirmed_by) >= self.confirmations
            verdicts[subject.id] = Verdict(trusted, len(confirmed_by))
        return verdicts

    def why_untrusted(self, subject: Subject, verdict: Verdict) -> str:
        """What a hit's ``why`` says of a memory that is not trusted."""
        author = f"'{subject.author}'" if subject.author else "an unknown agent"
        return (
            f"UNCONFIRMED: stored by {author}, not a trusted agent; {verdict.confirmations} of the "
            f"{self.confirmations} other agents needed report that it worked, and no trusted agent has: kept out of "
            "the task prompt, treat with suspicion"
        )
