"""Python units (functions, methods, classes) and the behaviour patterns found inside them."""

from __future__ import annotations

import ast

from mcp_memory.extraction.assemble import class_pattern, function_patterns
from mcp_memory.extraction.facts import ClassFacts, FunctionFacts, Span, UnitFeatures
from mcp_memory.extraction.models import ExtractedPattern
from mcp_memory.extraction.py_features import (
    algorithm_details,
    async_details,
    decorator_retry_details,
    error_blocks,
)
from mcp_memory.extraction.py_metrics import bound_names, cyclomatic, structure_hash
from mcp_memory.extraction.py_recover import is_truncated, parse_python
from mcp_memory.extraction.py_source import docstring_of, header, node_span, parameter_names
from mcp_memory.extraction.vocabulary import is_async_pattern, merge_details

LANGUAGE = "python"
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_CONTAINERS = (ast.If, ast.Try, ast.TryStar, ast.With)


def extract_python(code: str) -> tuple[list[ExtractedPattern], str | None]:
    """Patterns of every complete unit, and the parse error that made the result best effort."""
    parse = parse_python(code)
    lines = code.split("\n")
    out: list[ExtractedPattern] = []
    for block in parse.blocks:
        _walk(block.module.body, [], False, lines, block.cut_line, out)
    return out, parse.error


def _walk(
    statements: list[ast.stmt],
    prefix: list[str],
    in_class: bool,
    lines: list[str],
    cut_line: int | None,
    out: list[ExtractedPattern],
) -> None:
    """Module and class bodies, and the if/try/with blocks that define things conditionally.

    Nested functions are part of the function that holds them, not units of their own.
    """
    for stmt in statements:
        complete = not is_truncated(stmt, lines, cut_line)
        if isinstance(stmt, _FUNCS) and complete:
            out.extend(function_patterns(_function_facts(stmt, prefix, in_class, lines), lines))
        elif isinstance(stmt, ast.ClassDef):
            if complete:
                out.append(class_pattern(_class_facts(stmt, prefix, lines), lines))
            _walk(stmt.body, [*prefix, stmt.name], True, lines, cut_line, out)
        elif isinstance(stmt, _CONTAINERS):
            handlers = [h.body for h in getattr(stmt, "handlers", [])]
            for part in (stmt.body, getattr(stmt, "orelse", []), getattr(stmt, "finalbody", []), *handlers):
                _walk(part, prefix, in_class, lines, cut_line, out)


def _function_facts(
    func: ast.FunctionDef | ast.AsyncFunctionDef, prefix: list[str], in_class: bool, lines: list[str]
) -> FunctionFacts:
    start, end = node_span(func)
    bound = bound_names(func)
    span = Span(start, end, cyclomatic(func), structure_hash(func, bound, own_name=func.name))
    error_spans = [
        (
            Span(
                block.region.lineno,
                block.region.end_lineno or block.region.lineno,
                cyclomatic(block.region),
                structure_hash(block.region, bound, own_name=func.name),
            ),
            block.details,
        )
        for block in error_blocks(func, lines)
    ]
    retried = None if error_spans else decorator_retry_details(func)
    if retried:
        error_spans = [(span, retried)]
    is_async = isinstance(func, ast.AsyncFunctionDef)
    asynchrony = async_details(func)
    algorithm = None if is_async or is_async_pattern(asynchrony) else algorithm_details(func)
    return FunctionFacts(
        language=LANGUAGE,
        kind="method" if in_class else "function",
        name=func.name,
        qualified_name=".".join([*prefix, func.name]),
        span=span,
        signature=header(func, lines),
        decorators=[ast.unparse(d) for d in func.decorator_list],
        docstring=docstring_of(func),
        is_async=is_async,
        params=parameter_names(func.args),
        returns=ast.unparse(func.returns) if func.returns else None,
        features=UnitFeatures(merge_details([d for _, d in error_spans]), asynchrony, algorithm),
        error_spans=error_spans,
    )


def _class_facts(node: ast.ClassDef, prefix: list[str], lines: list[str]) -> ClassFacts:
    start, end = node_span(node)
    return ClassFacts(
        language=LANGUAGE,
        name=node.name,
        qualified_name=".".join([*prefix, node.name]),
        span=Span(start, end, cyclomatic(node), structure_hash(node, set(), own_name=node.name)),
        signature=header(node, lines),
        decorators=[ast.unparse(d) for d in node.decorator_list],
        docstring=docstring_of(node),
        bases=[ast.unparse(b) for b in node.bases] + [ast.unparse(k) for k in node.keywords],
        methods=[s.name for s in node.body if isinstance(s, _FUNCS)],
        fields=_class_fields(node),
    )


def _class_fields(node: ast.ClassDef) -> list[str]:
    """Class-level attributes (annotated or assigned), dunders left out."""
    names: list[str] = []
    for stmt in node.body:
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, ast.AnnAssign):
            targets = [stmt.target]
        else:
            continue
        names.extend(t.id for t in targets if isinstance(t, ast.Name) and not t.id.startswith("__"))
    return names
