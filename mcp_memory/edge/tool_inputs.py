"""The structured arguments of the tools: objects whose keys we know, each optional, any other key kept.

Their schemas list the known keys and leave ``additionalProperties`` unset, so frameworks that demand strict
schemas (every object closed) accept them; the server still keeps any other key a caller sends. Only what must
stay free-form is a plain object: custom ``metadata``, ``where`` filters, an episode's ``context`` and event
``data``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, WithJsonSchema


def _known_keys_schema(schema: dict[str, Any]) -> None:
    schema.pop("additionalProperties", None)  # extra keys are kept, but not advertised: the schema stays strict


class KnownKeys(BaseModel):
    """An object with optional known keys; unknown keys are kept as sent."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_known_keys_schema)

    def as_dict(self) -> dict[str, Any]:
        """What the caller sent, unset and null keys left out."""
        return self.model_dump(exclude_none=True)


def _figure(description: str, *schemas: dict[str, Any]) -> Any:
    """Any value, advertised as one of ``schemas``: a swarm's own shapes are read where possible, never refused."""
    return Annotated[Any, WithJsonSchema({"anyOf": [*schemas, {"type": "null"}], "description": description})]


class SuccessMetrics(KnownKeys):
    """How well a stored pattern or solution worked."""

    success_rate: float | None = Field(default=None, description="Share of uses that worked, 0 to 1.")
    tests_passed: int | None = Field(default=None, description="Tests that passed with it.")
    tests_failed: int | None = Field(default=None, description="Tests that failed with it.")
    score: float | None = Field(default=None, description="A quality score, e.g. a judge's 0.92.")
    duration_s: float | None = Field(default=None, description="How long the work took, in seconds.")


class EpisodeMetrics(KnownKeys):
    """Figures of an ended episode."""

    tests_passed: int | None = Field(default=None, description="Tests that passed at the end.")
    tests_failed: int | None = Field(default=None, description="Tests that failed at the end.")
    duration_s: float | None = Field(default=None, description="How long the task took, in seconds.")
    files_changed: int | None = Field(default=None, description="How many files the task changed.")
    tokens: int | None = Field(default=None, description="Model tokens the task used.")


class WinnerCandidate(KnownKeys):
    """The winning candidate of a consensus vote."""

    code: str = Field(description="The winning code.")
    language: str | None = Field(default=None, description="e.g. 'python'; may come from task_context instead.")
    agent_role: str | None = Field(default=None, description="Who wrote it, e.g. 'WORKER_BACKEND'.")
    score: float | None = Field(default=None, description="Its score in the vote, e.g. 0.92.")


class TaskContext(KnownKeys):
    """The task the candidates competed on."""

    description: str = Field(description="The task, as it was given.")
    language: str | None = Field(default=None, description="e.g. 'python'.")


class ConsensusResult(KnownKeys):
    """How the winner won, in the swarm's own shape: figures that cannot be read are left out."""

    score: _figure("The winner's score.", {"type": "number"}) = None  # type: ignore[valid-type]
    scores: _figure(  # type: ignore[valid-type]
        "Every candidate's score; the highest is the winner's.", {"type": "array", "items": {"type": "number"}}
    ) = None
    votes: _figure(  # type: ignore[valid-type]
        "Votes for the winner, or votes per candidate (a list, or an object by candidate); the most is the winner's.",
        {"type": "integer"},
        {"type": "array", "items": {"type": "integer"}},
    ) = None
    num_candidates: _figure("How many candidates competed.", {"type": "integer"}) = None  # type: ignore[valid-type]
    consensus_id: str | None = Field(default=None, description="The vote's own id.")
    success: StrictBool | None = Field(default=None, description="Did the winner work? Default true.")


# Defaults of the optional object arguments (never changed: a call gets its own validated copy).
NO_SUCCESS_METRICS = SuccessMetrics()
NO_EPISODE_METRICS = EpisodeMetrics()
NO_CONSENSUS_RESULT = ConsensusResult()


# The project and time arguments that reads and stores share.
ProjectSearched = Annotated[
    str | None,
    Field(
        description="Which project to search, always with the global memories (seeds, shared knowledge). Leave it "
        "out to search your own project: the server finds it from your workspace (the client's MCP roots: the git "
        'origin repository name or folder name) or from its MCP_MEMORY_PROJECT. "*" searches every project; "" '
        'only global memories; a name such as "acme-api" searches that project.',
        examples=["*", "acme-api"],
    ),
]
ProjectStored = Annotated[
    str | None,
    Field(
        description="The project it belongs to. Leave it out to store it in your own project (found from your "
        "workspace's MCP roots, or the server's MCP_MEMORY_PROJECT). \"\" stores it as global, seen from every "
        "project: only for what holds everywhere.",
        examples=["acme-api"],
    ),
]
Since = Annotated[
    str | None,
    Field(
        description='Only memories first stored at or after this: an age ("90m", "36h", "7d", "2w") or an ISO date '
        'or time ("2026-03-01", "2026-03-01T14:00:00Z"; UTC unless it says otherwise).',
        examples=["7d", "2026-03-01"],
    ),
]
Until = Annotated[
    str | None,
    Field(
        description='Only memories first stored at or before this: an age ("30d" = older than 30 days) or an ISO '
        "date or time; a date alone includes that whole day.",
        examples=["30d", "2026-03-31"],
    ),
]
EndedSince = Annotated[
    str | None,
    Field(
        description='Only episodes that ended at or after this: an age ("90m", "36h", "7d", "2w") or an ISO date '
        'or time ("2026-03-01"; UTC unless it says otherwise).',
        examples=["7d", "2026-03-01"],
    ),
]
EndedUntil = Annotated[
    str | None,
    Field(
        description='Only episodes that ended at or before this: an age ("30d" = longer than 30 days ago) or an ISO '
        "date or time; a date alone includes that whole day.",
        examples=["30d", "2026-03-31"],
    ),
]
