"""What the console's pages show: pydantic models, the same whether read locally or from the store's owner."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mcp_memory.models import EpisodeInfo, MemoryType, MemoryWithLinks, Outcome

EpisodeFilter = Literal["open", "succeeded", "failed"]
Granularity = Literal["day", "week", "month"]


class OutcomeNote(BaseModel):
    """One reported use of a memory, as report_outcome recorded it."""

    success: bool
    note: str
    agent: str = ""
    at: str = ""


class MemoryLink(BaseModel):
    """A memory named in a list: enough to show it and link to it."""

    id: str
    type: MemoryType
    title: str
    language: str | None = None
    outcome: Outcome = "unknown"
    usage_count: int = 0
    success_count: int = 0
    failure_count: int = 0
    similarity: float | None = None
    agent: str | None = Field(default=None, description="The agent that stored it.")
    created_at: str = Field(default="", description="When it was stored.")


class MemoryDetail(BaseModel):
    """One memory with what the page shows around it."""

    record: MemoryWithLinks = Field(description="The memory, whether recall returns it, and its links both ways.")
    outcome_notes: list[OutcomeNote] = Field(description="Reported uses with a note, oldest first (the last 10).")
    similar: list[MemoryLink] = Field(description="Nearest memories of the same type by stored vector.")


class EpisodeRowView(BaseModel):
    """An episode as the list shows it."""

    info: EpisodeInfo
    duration_seconds: float | None = Field(description="Ended minus started; for an open one, time since start.")


class EpisodePage(BaseModel):
    episodes: list[EpisodeRowView] = Field(description="Newest first.")
    total: int = Field(description="How many episodes match the filters in all.")
    offset: int
    limit: int
    roles: list[str] = Field(description="Every agent role seen in any episode, for the filter.")


class Series(BaseModel):
    """Counts per time bucket for one label (a type, a language, an outcome)."""

    label: str
    values: list[float]


class ReusedMemory(MemoryLink):
    pass


class MemoryTrends(BaseModel):
    """Memories over time and their record, from one scan of every memory's metadata."""

    total: int
    by_type: dict[str, int]
    by_language: dict[str, int] = Field(description="Most frequent first; 'none' for memories without one.")
    agents: dict[str, int] = Field(description="Memories per writing agent, most first.")
    by_project: dict[str, int] = Field(default_factory=dict, description='Memories per project, most first; "" global.')
    granularity: Granularity
    buckets: list[str] = Field(description="Start of each bucket (ISO date), oldest first.")
    added_by_type: list[Series]
    added_by_language: list[Series] = Field(description="The most frequent languages, the rest as 'other'.")
    cumulative: list[int] = Field(description="Memories stored up to the end of each bucket.")
    outcomes_by_type: dict[str, dict[str, int]] = Field(description="type -> outcome -> count.")
    success_rate_by_type: dict[str, float | None] = Field(
        description="All reported successes over successes and failures, per type; None with no record."
    )
    most_reused_patterns: list[ReusedMemory]
    most_reused: list[ReusedMemory] = Field(description="Every type, by usage count.")
    computed_at: str
    scan_seconds: float


class EpisodeTrends(BaseModel):
    total: int
    open: int
    succeeded: int
    failed: int
    granularity: Granularity
    buckets: list[str]
    started_by_outcome: list[Series]
    success_rate: list[float | None] = Field(description="Succeeded over ended, per bucket of start.")
    events: int


class HomePage(BaseModel):
    """What the console's first page shows without a query."""

    memories: MemoryTrends | None = Field(
        description="The last count of the memories (see its computed_at); None while the first count runs."
    )
    recent_episodes: list[EpisodeRowView] = Field(description="Newest first.")


class StoreOverview(BaseModel):
    """Everything the stats page shows."""

    memories: MemoryTrends | None = Field(description="None until the first scan of a big store is done.")
    memory_count: int = Field(description="Memories in the store now (counted without a scan).")
    episodes: EpisodeTrends
    size_on_disk_bytes: int | None
    where: str = Field(description="The data dir or Chroma server.")
    model: str
