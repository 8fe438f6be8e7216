"""Turns what a language walker found into patterns, the same way for every language."""

from __future__ import annotations

from typing import Any

from mcp_memory.extraction.describe import (
    describe_algorithm,
    describe_async,
    describe_class,
    describe_error,
    describe_unit,
)
from mcp_memory.extraction.facts import ClassFacts, FunctionFacts, Span
from mcp_memory.extraction.models import ExtractedPattern
from mcp_memory.extraction.vocabulary import is_async_pattern


def _pattern(lines: list[str], span: Span, **values: Any) -> ExtractedPattern:
    return ExtractedPattern(
        code="\n".join(lines[span.start - 1 : span.end]),
        start_line=span.start,
        end_line=span.end,
        cyclomatic=span.cyclomatic,
        structure_hash=span.structure_hash,
        **values,
    )


def function_patterns(facts: FunctionFacts, lines: list[str]) -> list[ExtractedPattern]:
    """The function itself, then one pattern per error-handling region, then async and algorithm.

    The async and algorithm patterns repeat the function's code: they exist so a search
    restricted to that kind finds it.
    """
    base: dict[str, Any] = {
        "language": facts.language,
        "name": facts.name,
        "qualified_name": facts.qualified_name,
        "is_async": facts.is_async,
    }
    whole = base | {"signature": facts.signature, "decorators": facts.decorators}
    details = {"parameters": facts.params, "returns": facts.returns}
    patterns = [
        _pattern(
            lines,
            facts.span,
            kind=facts.kind,
            docstring=facts.docstring,
            details=details,
            description=describe_unit(facts),
            **whole,
        )
    ]
    for span, found in facts.error_spans:
        values = whole if span.start == facts.span.start else base
        description = describe_error(facts, found)
        patterns.append(_pattern(lines, span, kind="error_handling", details=found, description=description, **values))
    asynchrony, algorithm = facts.features.asynchrony, facts.features.algorithm
    if asynchrony and is_async_pattern(asynchrony):
        description = describe_async(facts, asynchrony)
        patterns.append(_pattern(lines, facts.span, kind="async", details=asynchrony, description=description, **whole))
    if algorithm:
        description = describe_algorithm(facts, algorithm)
        patterns.append(
            _pattern(
                lines,
                facts.span,
                kind="algorithm",
                docstring=facts.docstring,
                details=algorithm,
                description=description,
                **whole,
            )
        )
    return patterns


def class_pattern(facts: ClassFacts, lines: list[str]) -> ExtractedPattern:
    """One pattern for a type declaration; its methods are patterns of their own."""
    details = {
        "flavour": facts.flavour,
        "bases": facts.bases,
        "method_count": len(facts.methods),
        "methods": facts.methods,
        "fields": facts.fields,
    }
    return _pattern(
        lines,
        facts.span,
        kind="class",
        language=facts.language,
        name=facts.name,
        qualified_name=facts.qualified_name,
        signature=facts.signature,
        decorators=facts.decorators,
        docstring=facts.docstring,
        description=describe_class(facts),
        details=details,
    )
