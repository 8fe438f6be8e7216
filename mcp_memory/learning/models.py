"""What learning from consensus and pattern suggestions hand back to their callers."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LearnedPattern(BaseModel):
    """A code pattern taken from a winning candidate: newly stored or reinforced."""

    id: str = Field(description="Memory id; pass it to get_memory.")
    name: str = Field(description="Qualified name of the unit, e.g. 'HttpClient.fetch_json'.")
    kind: str = Field(description="function, method, class, error_handling, async, algorithm or snippet.")
    kinds: list[str] = Field(description="Every kind this code was extracted as (a function may also be async).")
    language: str
    complexity: str = Field(description="low (cyclomatic <= 5), medium (6-10) or high (> 10).")
    usage_count: int = Field(description="How often consensus produced this pattern, this time included.")
    success_count: int
    chunks: int = Field(
        description="Vectors that make its code searchable: 1, or more when the code is longer than the model reads."
    )


class ConsensusLearned(BaseModel):
    """What one consensus winner taught the memory."""

    solution_id: str = Field(description="The winner stored as a solution to the task.")
    solution_duplicate: bool = Field(description="True when this exact winner was already stored for this task.")
    new_patterns: list[LearnedPattern] = Field(description="Patterns not known before, now stored.")
    reinforced_patterns: list[LearnedPattern] = Field(
        description="Patterns already known (same normalized structure): their usage and success counts went up."
    )
    parsed: bool = Field(description="False when the code did not parse cleanly; patterns are then best effort.")
    notes: list[str] = Field(default_factory=list)
    episode_event_seq: int | None = Field(
        default=None, description="Sequence number of the 'consensus' event recorded in the episode, if any."
    )
    episode_linked: bool = Field(
        default=False, description="True when the solution and patterns are linked (learned_from) to the episode."
    )
    message: str


class PatternSuggestion(BaseModel):
    """A stored pattern suggested for a task, with why."""

    id: str
    name: str
    kind: str = Field(description="The extracted kind, or 'pattern' for patterns stored by hand or seeded.")
    language: str | None
    description: str
    code: str = Field(description="The full code of the pattern.")
    score: float = Field(
        description="similarity + 0.2 x (success_rate - 0.5), minus 0.15 if it keeps failing; higher is better."
    )
    similarity: float = Field(description="Cosine similarity of the task and the pattern (its best-matching part).")
    success_rate: float = Field(description="Smoothed success rate (successes + 1) / (successes + failures + 2).")
    usage_count: int
    success_count: int
    failure_count: int
    source: str
    agent: str | None = Field(default=None, description="The agent that stored it (its token); never set by arguments.")
    created_at: str = Field(default="", description="When it was first stored.")
    trusted: bool = Field(
        default=True, description="False when its author is not a trusted agent and it is not confirmed yet."
    )
    matched_part: int | None = Field(
        default=None,
        description="When a later part of a long pattern matched best: that part's number (2, 3, ...).",
    )
    why: str
    project: str = Field(default="", description='The project it belongs to ("" is global).')
    created_ago: str = Field(default="", description='When it was first stored, in words ("3 days ago").')


class PatternSuggestions(BaseModel):
    task_description: str
    project: str = Field(default="*", description='The project searched, with global patterns ("*": every project).')
    results: list[PatternSuggestion] = Field(description="Best first.")
    cached: bool = Field(description="True when served from the cache (memory has not changed since).")
    note: str | None = None
