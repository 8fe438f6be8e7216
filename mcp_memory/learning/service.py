"""Learning from consensus: the winner of a vote becomes a solution and a set of reusable code patterns.

Only new knowledge is stored. A pattern already known — the same normalized structure in the same language,
whatever its variable names, comments or layout — is counted again (usage and success go up) instead of
being stored twice. Suggestions for a new task are in ``suggestions``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp_memory.config import Settings
from mcp_memory.errors import Conflict, NotFound, Unavailable
from mcp_memory.extraction import ExtractionResult, extract_patterns
from mcp_memory.learning.consensus import ConsensusInput, read_consensus
from mcp_memory.learning.model_window import ModelWindow
from mcp_memory.learning.models import ConsensusLearned, LearnedPattern
from mcp_memory.learning.pattern_drafts import PatternPlan, plan_patterns
from mcp_memory.learning.suggestions import PatternSuggester
from mcp_memory.memory.drafts import solution_draft
from mcp_memory.memory.projects import require_project
from mcp_memory.memory.records import LOCAL_AGENT, content_hash, memory_id
from mcp_memory.memory.service import MemoryService
from mcp_memory.memory.validation import require_text
from mcp_memory.models import StoreResult

if TYPE_CHECKING:
    from mcp_memory.episodes.service import EpisodeService

logger = logging.getLogger(__name__)

MAX_LANGUAGE_CHARS = 40
MAX_EPISODE_ID_CHARS = 200
CONSENSUS_EVENT = "consensus"


@dataclass
class _Stored:
    solution: StoreResult
    plans: list[PatternPlan]
    results: list[StoreResult]
    extraction: ExtractionResult


class PatternLearning:
    """Extract patterns, learn them from consensus winners, and suggest them for new tasks."""

    def __init__(self, settings: Settings, memory: MemoryService, episodes: EpisodeService | None = None) -> None:
        self.settings = settings
        self.memory = memory
        self.episodes = episodes
        self.suggester = PatternSuggester(memory)
        self.suggest = self.suggester.suggest  # suggestions are the suggester's, arguments and all
        self.window = ModelWindow(settings.model_path)

    async def extract(self, code: str, language: str) -> ExtractionResult:
        """What would be learned from ``code``; nothing is stored."""
        require_text("code", code, self.settings.max_text_chars)
        require_text("language", language, MAX_LANGUAGE_CHARS)
        return await self.memory.run(extract_patterns, code, language)

    async def learn_from_consensus(
        self,
        winner_candidate: dict[str, Any],
        task_context: dict[str, Any],
        consensus_result: dict[str, Any] | None = None,
        episode_id: str | None = None,
        agent: str | None = None,
        project: str = "",
    ) -> ConsensusLearned:
        """Store the winner as a solution and its patterns as code patterns, counting the known ones again.

        ``agent`` is who is calling (the token's agent) and is recorded as the writer; the winner's ``agent_role``
        is who the swarm says wrote the code, kept as a label (an argument can never set the writer).
        With an ``episode_id`` the episode gets a ``consensus`` event, when that episode exists and is open.
        What is learned belongs to ``project`` ("" is global).
        """
        inputs = read_consensus(winner_candidate, task_context, consensus_result, self.settings.max_text_chars)
        if episode_id is not None:
            episode_id = require_text("episode_id", episode_id, MAX_EPISODE_ID_CHARS).strip()
        author = agent or LOCAL_AGENT
        project = require_project(project, allow_every=False) or ""
        stored = await self.memory.run(self._store_blocking, inputs, episode_id, author, project)
        learned = _learned(stored, inputs)
        if episode_id is not None:
            ids = [learned.solution_id, *(p.id for p in (*learned.new_patterns, *learned.reinforced_patterns))]
            linked = await self.memory.run(self.memory.links.learned_in, ids, episode_id, author)
            learned = learned.model_copy(update={"episode_linked": bool(linked)})
            learned = await self._record_event(learned, inputs, episode_id, inputs.agent_role)
        return learned

    def _store_blocking(
        self, inputs: ConsensusInput, episode_id: str | None, author: str | None, project: str = ""
    ) -> _Stored:
        extraction = extract_patterns(inputs.code, inputs.language)
        provenance = inputs.provenance(episode_id)
        solution = solution_draft(
            inputs.task,
            inputs.code,
            inputs.language_name,
            _consensus_line(inputs),
            inputs.success_metrics(),
            agent=author,
            source="consensus",
        )
        solution.project = project
        solution_id = memory_id("solution", content_hash("solution", solution.identity_text), project)
        plans = plan_patterns(
            extraction,
            inputs,
            provenance | {"solution_id": solution_id},
            author,
            self.window.count,
            self.window.size,
            project,
        )
        solution.metadata = provenance | {
            "pattern_ids": [plan.id for plan in plans],
            "consensus_result": inputs.consensus_result,  # as the swarm sent it, keys we do not read included
        }
        for draft in (solution, *(plan.main for plan in plans), *(part for plan in plans for part in plan.parts)):
            draft.agent_role = inputs.agent_role
        results = self.memory.remember_many_blocking([solution, *(plan.main for plan in plans)])
        # Parts follow the text stored first: a known pattern keeps the parts it has.
        parts = [
            part for plan, result in zip(plans, results[1:], strict=True) if not result.duplicate for part in plan.parts
        ]
        if parts:
            self.memory.remember_many_blocking(parts)
        return _Stored(results[0], plans, results[1:], extraction)

    async def _record_event(
        self, learned: ConsensusLearned, inputs: ConsensusInput, episode_id: str, author: str | None
    ) -> ConsensusLearned:
        if self.episodes is None:
            return learned.model_copy(update={"notes": [*learned.notes, "episodes are not available here"]})
        data = {
            "task": inputs.task[:500],
            "solution_id": learned.solution_id,
            "new_patterns": [p.id for p in learned.new_patterns],
            "reinforced_patterns": [p.id for p in learned.reinforced_patterns],
            **{key: value for key, value in inputs.success_metrics().items() if key != "success"},
        }
        try:
            event = await self.episodes.record(episode_id, CONSENSUS_EVENT, author or "CONSENSUS_JUDGE", data)
        except (NotFound, Conflict, Unavailable) as exc:  # what was learned stays learned
            note = f"no consensus event recorded in episode '{episode_id}': {exc}"
            return learned.model_copy(update={"notes": [*learned.notes, note]})
        return learned.model_copy(update={"episode_event_seq": event.seq})


def _consensus_line(inputs: ConsensusInput) -> str:
    facts = []
    if inputs.score is not None:
        facts.append(f"score {inputs.score:g}")
    if inputs.votes is not None:
        facts.append(f"{inputs.votes} votes")
    if inputs.candidates is not None:
        facts.append(f"{inputs.candidates} candidates")
    won = "Won consensus" if inputs.success else "Consensus winner that did not succeed"
    return won + (f" ({', '.join(facts)})" if facts else "") + "."


def _learned(stored: _Stored, inputs: ConsensusInput) -> ConsensusLearned:
    new: list[LearnedPattern] = []
    reinforced: list[LearnedPattern] = []
    for plan, result in zip(stored.plans, stored.results, strict=True):
        learned = LearnedPattern(
            id=result.id,
            name=plan.main.title,
            kind=plan.primary.kind,
            kinds=plan.kinds,
            language=inputs.language_name,
            complexity=plan.primary.complexity,
            usage_count=result.usage_count,
            success_count=result.success_count,
            chunks=1 + len(plan.parts),
        )
        (reinforced if result.duplicate else new).append(learned)
    solution = "already stored" if stored.solution.duplicate else "stored"
    message = (
        f"Learned {len(new)} new pattern(s), reinforced {len(reinforced)} known one(s); the solution is {solution}."
    )
    return ConsensusLearned(
        solution_id=stored.solution.id,
        solution_duplicate=stored.solution.duplicate,
        new_patterns=new,
        reinforced_patterns=reinforced,
        parsed=stored.extraction.parsed,
        notes=list(stored.extraction.notes),
        message=message,
    )
