"""Rename-invariant structure hash for tree-sitter languages."""

from __future__ import annotations

from tree_sitter import Node

from mcp_memory.extraction.hashing import sha256_text
from mcp_memory.extraction.ts_nodes import text, walk_with_fields
from mcp_memory.extraction.ts_specs import TsSpec

_PASS_THROUGH = frozenset({"expression_list", "identifier_list"})


def bound_names(nodes: list[Node], spec: TsSpec) -> set[str]:
    """Names a unit binds itself: parameters, declared variables, loop and catch variables."""
    names: set[str] = set()
    for root in nodes:
        chain: dict[int, tuple[Node | None, str | None]] = {}
        for node, parent, field in walk_with_fields(root):
            chain[node.id] = (parent, field)
            if node.type not in spec.identifiers or parent is None:
                continue
            holder: Node | None = parent
            slot = field
            if parent.type in _PASS_THROUGH:
                holder, slot = chain.get(parent.id, (None, None))
            if node.type.endswith("_pattern") or (holder is not None and (holder.type, slot) in spec.bindings):
                names.add(text(node))
    return names


def structure_hash(nodes: list[Node], spec: TsSpec, own_name: str | None = None, bound: set[str] | None = None) -> str:
    """sha256 of node types and leaf text, comments skipped, local names replaced by placeholders.

    Placeholders are numbered by first use, so renaming a parameter or local keeps the hash,
    while a different call, literal, operator or shape changes it. ``bound`` adds the locals of
    an enclosing unit when hashing a block cut out of it.
    """
    bound = bound_names(nodes, spec) | (bound or set())
    if own_name:
        bound.add(own_name)
    placeholders: dict[str, str] = {}
    tokens: list[str] = []
    for root in nodes:
        stack = [root]
        while stack:
            node = stack.pop()
            if node.type in spec.comments:
                continue
            if node.child_count:
                tokens.append(node.type)
                stack.extend(reversed(node.children))
                continue
            leaf = text(node)
            if node.type in spec.identifiers and leaf in bound:
                tokens.append(placeholders.setdefault(leaf, f"_v{len(placeholders)}"))
            else:
                tokens.append(f"{node.type}={leaf}" if node.is_named else node.type)
    return sha256_text("\x1f".join(tokens))
