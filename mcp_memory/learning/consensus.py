"""The arguments of extract_from_consensus, checked field by field into one typed value."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mcp_memory.errors import InvalidInput
from mcp_memory.memory.validation import normalize_language, require_json_object, require_text

WINNER_EXAMPLE = 'e.g. {"code": "def slugify(text): ...", "language": "python", "agent_role": "WORKER_BACKEND"}.'
TASK_EXAMPLE = 'e.g. {"description": "Turn titles into URL slugs", "language": "python"}.'
RESULT_EXAMPLE = 'e.g. {"score": 0.92, "votes": 3, "num_candidates": 5}.'
MAX_ROLE_CHARS = 100
_CANDIDATE_KEYS = ("num_candidates", "candidates", "candidate_count")
Figure = TypeVar("Figure", int, float)


@dataclass(frozen=True)
class ConsensusInput:
    """One winner, its task and how it won.

    ``language`` is kept as given (the parser tells 'tsx' from 'typescript'); ``language_name`` is the
    canonical name that is stored and filtered on.
    """

    code: str
    language: str
    language_name: str
    task: str
    agent_role: str | None
    score: float | None
    votes: int | None
    candidates: int | None
    success: bool
    consensus_id: str | None
    task_context: dict[str, Any]
    consensus_result: dict[str, Any]

    def success_metrics(self) -> dict[str, Any]:
        metrics = {
            "success": self.success,
            "score": self.score,
            "votes": self.votes,
            "candidates": self.candidates,
        }
        return {key: value for key, value in metrics.items() if value is not None}

    def provenance(self, episode_id: str | None) -> dict[str, Any]:
        """Where a learned memory came from: flat values, so they can also be filtered on."""
        values = {
            "task": self.task[:500],
            "consensus_id": self.consensus_id,
            "consensus_score": self.score,
            "consensus_votes": self.votes,
            "consensus_candidates": self.candidates,
            "agent_role": self.agent_role,
            "episode_id": episode_id,
        }
        return {key: value for key, value in values.items() if value is not None}


def read_consensus(winner_candidate: Any, task_context: Any, consensus_result: Any, max_chars: int) -> ConsensusInput:
    """Check the three objects; every problem names the field, e.g. ``winner_candidate.code``."""
    winner = require_json_object("winner_candidate", winner_candidate, max_chars + 10_000)
    task = require_json_object("task_context", task_context, max_chars + 10_000)
    result = require_json_object("consensus_result", {} if consensus_result is None else consensus_result, max_chars)
    if "code" not in winner:
        raise InvalidInput("winner_candidate.code", "is missing.", f"Pass the winning code, {WINNER_EXAMPLE}")
    code = require_text("winner_candidate.code", winner["code"], max_chars)
    if "description" not in task:
        raise InvalidInput("task_context.description", "is missing.", f"Describe the task, {TASK_EXAMPLE}")
    description = require_text("task_context.description", task["description"], max_chars)
    language = _language(winner, task)
    agent_role = _optional_text(winner, "agent_role", "winner_candidate")
    score = _number(winner, "score", "winner_candidate")
    if score is None:
        score = _readable_number(result.get("score"))
    if score is None:
        score = _readable_number(result.get("winner_score"))
    if score is None:
        score = _best(result.get("scores"), _readable_number)
    success = result.get("success", True)
    if not isinstance(success, bool):
        raise InvalidInput("consensus_result.success", f"expected true or false, got {success!r}.", RESULT_EXAMPLE)
    return ConsensusInput(
        code=code,
        language=language,
        language_name=normalize_language(language) or "text",
        task=description,
        agent_role=agent_role,
        score=score,
        votes=_votes(result.get("votes")),
        candidates=_candidates(result),
        success=success,
        consensus_id=_optional_text(result, "consensus_id", "consensus_result"),
        task_context=task,
        consensus_result=result,
    )


def _language(winner: dict[str, Any], task: dict[str, Any]) -> str:
    for owner, values in (("winner_candidate", winner), ("task_context", task)):
        value = values.get("language")
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"{owner}.language", f"expected a language name, got {value!r}.", "e.g. 'python'.")
        try:
            normalize_language(value)
        except InvalidInput as exc:
            raise InvalidInput(f"{owner}.language", exc.problem, exc.fix) from exc
        return value.strip()
    raise InvalidInput(
        "winner_candidate.language",
        "is missing (and task_context.language too).",
        "Set winner_candidate.language or task_context.language, e.g. 'python', 'typescript', 'go'.",
    )


def _optional_text(values: dict[str, Any], key: str, owner: str) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\n" in value or len(value) > MAX_ROLE_CHARS:
        raise InvalidInput(
            f"{owner}.{key}", f"expected one line of at most {MAX_ROLE_CHARS} characters, got {value!r:.60}."
        )
    return value.strip()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(values: dict[str, Any], key: str, owner: str) -> float | None:
    value = values.get(key)
    if value is None:
        return None
    if not _is_number(value):
        raise InvalidInput(f"{owner}.{key}", f"expected a number, got {value!r:.60}.", RESULT_EXAMPLE)
    return float(value)


def _readable_number(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def _vote_count(value: Any) -> int | None:
    """Votes as a count, or as the list of who voted."""
    if isinstance(value, list):
        return len(value)
    number = _readable_number(value)
    return int(number) if number is not None and number >= 0 and number == int(number) else None


def _votes(votes: Any) -> int | None:
    """The winner's votes: a count, the list of its voters, or counts (or voters) per candidate."""
    if isinstance(votes, list) and all(isinstance(voter, str) for voter in votes):
        return len(votes) or None
    return _best(votes, _vote_count)


def _best(value: Any, read: Callable[[Any], Figure | None]) -> Figure | None:
    """The winner's figure from a swarm's own shape: one value, or the largest of a list or mapping per candidate.

    A shape we cannot read is left out, never an error: the whole result is kept as it came.
    """
    values = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else [value]
    found = [figure for figure in map(read, values) if figure is not None]
    return max(found) if found else None


def _candidates(result: dict[str, Any]) -> int | None:
    """How many candidates there were: a count, or the list or mapping of the candidates themselves."""
    for key in _CANDIDATE_KEYS:
        value = result.get(key)
        count = len(value) if isinstance(value, list | dict) else _vote_count(value)
        if count:
            return count
    return None
