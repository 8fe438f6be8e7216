"""Small helpers over tree-sitter nodes: text, spans, traversal, callee names, comments."""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

_COMMENT_MARKERS = re.compile(r"^(///?!?|//!?|/\*+!?|\*+/?|#)\s?")


def text(node: Node | None) -> str:
    """Source text of a node ('' for None)."""
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def first_line(node: Node) -> int:
    """1-based first line."""
    return node.start_point.row + 1


def last_line(node: Node) -> int:
    """1-based last line; a node ending at column 0 ends on the line before."""
    row, column = node.end_point
    if column == 0 and row > node.start_point.row:
        row -= 1
    return row + 1


def walk(node: Node) -> Iterator[Node]:
    """Pre-order traversal of a subtree, the root included."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def walk_with_fields(node: Node) -> Iterator[tuple[Node, Node | None, str | None]]:
    """Pre-order traversal yielding (node, parent, field name in the parent)."""
    stack: list[tuple[Node, Node | None, str | None]] = [(node, None, None)]
    while stack:
        current, parent, field = stack.pop()
        yield current, parent, field
        children = [(child, current, current.field_name_for_child(i)) for i, child in enumerate(current.children)]
        stack.extend(reversed(children))


def field_text(node: Node, name: str) -> str:
    """Text of a named field of ``node`` ('' when absent)."""
    return text(node.child_by_field_name(name))


def callee(node: Node) -> str:
    """Callee of a call-like node as a dotted name: 'fmt.Errorf', 'Promise.all', 'tokio::spawn', 'join!'."""
    if node.type == "macro_invocation":
        return field_text(node, "macro") + "!"
    if node.type == "method_invocation":
        receiver = field_text(node, "object")
        name = field_text(node, "name")
        return f"{_short(receiver)}.{name}" if receiver else name
    if node.type in {"new_expression", "object_creation_expression"}:
        return text(node.child_by_field_name("constructor") or node.child_by_field_name("type"))
    return _short(field_text(node, "function"))


def _short(expression: str) -> str:
    """Reduce a chained receiver to its last plain segments: 'a.b().c' -> 'a.b.c'."""
    expression = re.sub(r"\([^()]*\)", "", expression)
    expression = re.sub(r"<[^<>]*>", "", expression)
    return re.sub(r"\s+", "", expression)


def clean_comments(comments: list[Node]) -> str | None:
    """Comment nodes turned into plain doc text, markers (///, /**, *, //) removed."""
    lines: list[str] = []
    for comment in comments:
        body = text(comment).strip()
        body = body.removesuffix("*/")
        for line in body.splitlines():
            lines.append(_COMMENT_MARKERS.sub("", line.strip()).strip())
    cleaned = "\n".join(lines).strip()
    return cleaned or None


def preceding_comments(anchor: Node, comment_types: frozenset[str]) -> list[Node]:
    """Comments right above ``anchor`` with no blank line between them and it."""
    found: list[Node] = []
    current = anchor
    previous = current.prev_sibling
    while previous is not None and previous.type in comment_types:
        if last_line(previous) < first_line(current) - 1:
            break
        found.append(previous)
        current = previous
        previous = current.prev_sibling
    return list(reversed(found))
