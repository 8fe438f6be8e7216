"""What a language walker hands over about a unit, before it becomes patterns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcp_memory.extraction.models import PatternKind


@dataclass
class Span:
    """A stretch of source backing a pattern, with its metrics."""

    start: int
    end: int
    cyclomatic: int
    structure_hash: str


@dataclass
class UnitFeatures:
    """Behaviours found inside one function-like unit; None means the behaviour is absent."""

    errors: dict[str, Any] | None = None
    asynchrony: dict[str, Any] | None = None
    algorithm: dict[str, Any] | None = None


@dataclass
class FunctionFacts:
    """Everything known about one function or method."""

    language: str
    kind: PatternKind
    name: str
    qualified_name: str
    span: Span
    signature: str | None
    decorators: list[str]
    docstring: str | None
    is_async: bool
    params: list[str]
    returns: str | None
    features: UnitFeatures
    error_spans: list[tuple[Span, dict[str, Any]]] = field(default_factory=list)


@dataclass
class ClassFacts:
    """Everything known about one class, struct, interface, trait, enum or impl block."""

    language: str
    name: str
    qualified_name: str
    span: Span
    signature: str | None
    decorators: list[str]
    docstring: str | None
    flavour: str = "class"
    bases: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
