"""Patterns for the tree-sitter languages (JavaScript, TypeScript, Go, Rust, Java)."""

from __future__ import annotations

from tree_sitter import Node

from mcp_memory.extraction.assemble import class_pattern, function_patterns
from mcp_memory.extraction.facts import ClassFacts, FunctionFacts, Span, UnitFeatures
from mcp_memory.extraction.models import ExtractedPattern
from mcp_memory.extraction.ts_features import algorithm_details, async_details, cyclomatic, error_blocks
from mcp_memory.extraction.ts_fingerprint import bound_names, structure_hash
from mcp_memory.extraction.ts_grammars import parse_best
from mcp_memory.extraction.ts_nodes import (
    clean_comments,
    first_line,
    last_line,
    preceding_comments,
    text,
    walk,
)
from mcp_memory.extraction.ts_specs import SPECS, TsSpec
from mcp_memory.extraction.ts_units import TsUnit, find_units
from mcp_memory.extraction.vocabulary import is_async_pattern, merge_details, one_line

_DECORATIONS = frozenset({"decorator", "attribute_item", "annotation", "marker_annotation"})
_TYPE_BODIES = frozenset({"field_declaration_list", "{"})


def extract_tree_sitter(code: str, language: str, tsx: bool = False) -> tuple[list[ExtractedPattern], str | None]:
    """Patterns of every unit that parsed cleanly, and where parsing first went wrong (None if nowhere)."""
    root = parse_best(code, language, tsx).root_node
    error = first_error(root) if root.has_error else None
    lines = code.split("\n")
    spec = SPECS[language]
    patterns: list[ExtractedPattern] = []
    for unit in find_units(root, language):
        if not unit.node.has_error:
            patterns.extend(_unit_patterns(unit, lines, language, spec))
    return patterns, error


def first_error(root: Node) -> str:
    """'line 3: unexpected ...' or 'line 3: missing ...' for the first broken spot."""
    for node in walk(root):
        if node.is_missing:
            return f"line {first_line(node)}: missing {node.type!r}"
        if node.is_error:
            snippet = text(node).strip().split("\n")[0][:40]
            return f"line {first_line(node)}: unexpected {snippet!r}"
    return "syntax error"


def _unit_patterns(unit: TsUnit, lines: list[str], language: str, spec: TsSpec) -> list[ExtractedPattern]:
    anchor = unit.first_node
    if anchor.parent is not None and anchor.parent.type == "export_statement":
        anchor = anchor.parent
    docstring = clean_comments(preceding_comments(anchor, spec.comments))
    span = Span(
        first_line(unit.first_node),
        last_line(unit.node),
        cyclomatic(unit.node, spec),
        structure_hash([*unit.extras, unit.node], spec, own_name=unit.name),
    )
    if unit.kind == "class" or unit.func is None:
        class_facts = ClassFacts(
            language=language,
            name=unit.name,
            qualified_name=unit.qualified_name,
            span=span,
            signature=_signature(unit.node, None),
            decorators=_decorators(unit),
            docstring=docstring,
            flavour=unit.flavour,
            bases=unit.bases,
            methods=unit.methods,
            fields=unit.fields,
        )
        return [class_pattern(class_facts, lines)]
    func = unit.func
    body = func.child_by_field_name("body")
    is_async = any(
        c.type == "async"
        for n in [func, *func.children]
        if n is func or n.type == "function_modifiers"
        for c in n.children
    )
    bound = bound_names([func], spec)
    error_spans = [
        (
            Span(
                first_line(b.region),
                last_line(b.region),
                cyclomatic(b.region, spec),
                structure_hash([b.region], spec, unit.name, bound),
            ),
            b.details,
        )
        for b in error_blocks(func, spec, language)
    ]
    asynchrony = async_details(func, spec, is_async)
    algorithm = None
    if not (is_async or is_async_pattern(asynchrony)):
        algorithm = algorithm_details(func, body, unit.name, spec)
    facts = FunctionFacts(
        language=language,
        kind=unit.kind,
        name=unit.name,
        qualified_name=unit.qualified_name,
        span=span,
        signature=_signature(unit.node, body),
        decorators=_decorators(unit),
        docstring=docstring,
        is_async=is_async,
        params=_parameters(func, spec),
        returns=_returns(func),
        features=UnitFeatures(merge_details([d for _, d in error_spans]), asynchrony, algorithm),
        error_spans=error_spans,
    )
    return function_patterns(facts, lines)


def _decorators(unit: TsUnit) -> list[str]:
    """Decorators, attributes and annotations as written, without '@' or '#[...]'."""
    items = list(unit.extras) + [c for c in unit.node.children if c.type in _DECORATIONS]
    items += [a for c in unit.node.children if c.type == "modifiers" for a in c.children if a.type in _DECORATIONS]
    texts = []
    for item in items:
        raw = text(item).strip()
        raw = raw[2:-1] if raw.startswith("#[") and raw.endswith("]") else raw.lstrip("@")
        texts.append(one_line(raw))
    return texts


def _signature(node: Node, body: Node | None) -> str:
    """Header text from the first non-decorator token up to the body, on one line."""
    start = node.end_byte
    for child in node.children:
        parts = child.children if child.type == "modifiers" else [child]
        kept = [p for p in parts if p.type not in _DECORATIONS and not p.type.endswith("comment")]
        if kept:
            start = kept[0].start_byte
            break
    if body is None:
        body = node.child_by_field_name("body")
    if body is None:
        body = next((n for n in walk(node) if n is not node and n.type in _TYPE_BODIES), None)
    end = body.start_byte if body is not None and body.start_byte >= start else node.end_byte
    raw = (node.text or b"")[start - node.start_byte : end - node.start_byte].decode("utf-8", "replace")
    return one_line(raw).rstrip(";").strip()


def _parameters(func: Node, spec: TsSpec) -> list[str]:
    """Parameter names in order (patterns and variadics kept as written)."""
    holder = func.child_by_field_name("parameters") or func.child_by_field_name("parameter")
    if holder is None:
        return []
    if holder.type in spec.identifiers:
        return [text(holder)]
    names: list[str] = []
    for param in holder.named_children:
        if param.type in spec.comments:
            continue
        several = param.children_by_field_name("name")
        target = param.child_by_field_name("pattern") or param.child_by_field_name("left")
        if param.type in spec.identifiers or param.type == "self_parameter":
            names.append("self" if param.type == "self_parameter" else text(param))
        elif several:
            names.extend(text(n) for n in several)
        else:
            names.append(text(target) if target is not None else text(param))
    return names


def _returns(func: Node) -> str | None:
    """Declared return type, if written."""
    node = func.child_by_field_name("return_type") or func.child_by_field_name("result")
    if node is None and func.type == "method_declaration":
        node = func.child_by_field_name("type")
    if node is None:
        return None
    return one_line(text(node).lstrip(":")) or None
