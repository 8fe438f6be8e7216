"""Public data shapes of pattern extraction: what the extractor hands to the rest of the package."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

PatternKind = Literal["function", "method", "class", "error_handling", "async", "algorithm", "snippet"]
Complexity = Literal["low", "medium", "high"]

LOW_MAX = 5
MEDIUM_MAX = 10


def complexity_label(cyclomatic: int) -> Complexity:
    """Bucket a cyclomatic complexity so agents can filter patterns by how hard they are to follow.

    Thresholds: ``low`` up to 5, ``medium`` from 6 to 10, ``high`` above 10
    (the usual McCabe bands: above 10 is the classic "consider splitting this" line).
    """
    if cyclomatic <= LOW_MAX:
        return "low"
    if cyclomatic <= MEDIUM_MAX:
        return "medium"
    return "high"


class ExtractedPattern(BaseModel):
    """One reusable unit found in a piece of code, with enough context to find it again by task."""

    kind: PatternKind
    name: str = Field(description="Bare name, e.g. 'fetch_json'.")
    qualified_name: str = Field(description="Name with its enclosing classes, e.g. 'HttpClient.fetch_json'.")
    language: str
    code: str = Field(description="The exact source lines of the unit, decorators included.")
    start_line: int = Field(ge=1, description="First line, 1-based.")
    end_line: int = Field(ge=1, description="Last line, 1-based and inclusive.")
    signature: str | None = Field(default=None, description="Header as written, whitespace collapsed.")
    decorators: list[str] = Field(default_factory=list)
    is_async: bool = Field(default=False, description="Declared async (async def, async function, async fn).")
    docstring: str | None = None
    cyclomatic: int = Field(ge=1, description="Cyclomatic complexity: decision points + 1.")
    complexity: Complexity = Field(
        default="low", description="Derived from cyclomatic: low <= 5, medium 6-10, high > 10."
    )
    description: str = Field(description="Deterministic phrase of what the unit is and does.")
    structure_hash: str = Field(
        description="sha256 of the normalized structure: stable under renamed locals, comments and layout."
    )
    details: dict[str, Any] = Field(default_factory=dict, description="Kind-specific facts.")

    @model_validator(mode="after")
    def _derive_complexity(self) -> ExtractedPattern:
        """The label always follows the number, so the two can never disagree."""
        self.complexity = complexity_label(self.cyclomatic)
        return self


class ExtractionResult(BaseModel):
    """Everything found in one piece of code; never an error, broken code gives best-effort results."""

    language: str
    parsed: bool = Field(description="False when no parser accepted the code cleanly; patterns are best effort.")
    patterns: list[ExtractedPattern] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
