"""Pydantic models that cross the package boundary: what tools return and services exchange."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

MemoryType = Literal["pattern", "solution", "error", "best_practice", "episode"]
MEMORY_TYPES: tuple[MemoryType, ...] = ("pattern", "solution", "error", "best_practice", "episode")
KnowledgeType = Literal["pattern", "best_practice", "error", "solution"]
Outcome = Literal["worked", "failed", "mixed", "unknown"]


class MemoryRecord(BaseModel):
    """One stored memory, as an agent sees it."""

    id: str = Field(description="Stable id; pass it to get_memory or delete_memory.")
    type: MemoryType
    title: str = Field(description="Pattern name, problem, error message or knowledge title.")
    content: str = Field(description="The full text of the memory, ready to use.")
    language: str | None = None
    fields: dict[str, Any] = Field(
        default_factory=dict,
        description="The parts the memory was stored with (e.g. code, context, error_message, resolution).",
    )
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form metadata given when stored.")
    source: str = Field(description="Who put it there: agent, seed, knowledge or consensus.")
    agent: str | None = Field(default=None, description="The agent or role that wrote it, when known.")
    created_at: str
    updated_at: str
    content_hash: str
    usage_count: int = Field(description="How often this memory was stored or confirmed.")
    success_count: int
    failure_count: int
    outcome: Outcome = Field(
        description="worked: only successes recorded; failed: only failures (a failed attempt, not a fix); "
        "mixed: both; unknown: no outcome recorded."
    )


class MemoryHit(MemoryRecord):
    """A recalled memory with its relevance."""

    score: float = Field(description="Relevance, higher is better (cosine similarity adjusted by outcome).")
    similarity: float = Field(description="Raw cosine similarity of the query and the memory.")
    why: str = Field(description="Why it was returned.")


class StoreResult(BaseModel):
    """What a store call did."""

    id: str
    type: MemoryType
    duplicate: bool = Field(description="True when the same content was already stored; its counts were updated.")
    updated: bool = Field(default=False, description="True when an existing record's content was replaced.")
    usage_count: int
    success_count: int
    failure_count: int
    message: str


class RecallResult(BaseModel):
    """Memories recalled for a query, best first."""

    query: str
    results: list[MemoryHit]
    note: str | None = Field(default=None, description="Anything the caller should know about these results.")


class DeleteResult(BaseModel):
    id: str
    type: MemoryType
    deleted: bool
    title: str


class MemoryStats(BaseModel):
    """Counts and facts about the store."""

    total: int
    by_type: dict[str, int]
    by_language: dict[str, int]
    collections: dict[str, int] = Field(description="Records per Chroma collection.")
    data_dir: str | None
    chroma_url: str | None
    size_on_disk_bytes: int | None
    model: str
    model_loaded: bool


class SeedCounts(BaseModel):
    """How many seeded items of each kind are in the store, and what this seeding changed."""

    patterns: int
    best_practices: int
    common_errors: int
    added: int = 0
    updated: int = 0
    unchanged: int = 0
