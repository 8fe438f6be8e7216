"""Python metrics: cyclomatic complexity and a rename-invariant structure hash."""

from __future__ import annotations

import ast

from mcp_memory.extraction.hashing import sha256_text

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def cyclomatic(node: ast.AST) -> int:
    """McCabe complexity: 1 + if/elif, ternaries, loops, except clauses, extra boolean operands,
    comprehension filters and match cases (a bare ``case _`` default does not count)."""
    score = 1
    for child in ast.walk(node):
        if isinstance(child, (ast.If, ast.IfExp, ast.For, ast.AsyncFor, ast.While, ast.ExceptHandler)):
            score += 1
        elif isinstance(child, ast.BoolOp):
            score += len(child.values) - 1
        elif isinstance(child, ast.comprehension):
            score += len(child.ifs)
        elif isinstance(child, ast.match_case):
            wildcard = isinstance(child.pattern, ast.MatchAs) and child.pattern.pattern is None
            score += 0 if wildcard and child.guard is None else 1
    return score


def bound_names(func: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    """Names local to a function: parameters and everything it assigns (imports and globals excluded)."""
    args = func.args
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    declared: set[str] = set()
    body = func.body if isinstance(func.body, list) else [func.body]
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                names.add(node.id)
            elif isinstance(node, (ast.ExceptHandler, *_FUNCS, ast.ClassDef, ast.MatchAs, ast.MatchStar)):
                if node.name:
                    names.add(node.name)
            elif isinstance(node, ast.MatchMapping) and node.rest:
                names.add(node.rest)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                declared.update(node.names)
    return names - declared


_NAME_FIELDS: dict[type[ast.AST], str] = {
    ast.Name: "id",
    ast.arg: "arg",
    ast.FunctionDef: "name",
    ast.AsyncFunctionDef: "name",
    ast.ClassDef: "name",
    ast.ExceptHandler: "name",
    ast.MatchAs: "name",
    ast.MatchStar: "name",
}
_SKIPPED_FIELDS = frozenset({"ctx", "type_comment", "kind"})


class _Dumper:
    """Serializes an AST like ast.dump, renaming local names to placeholders and skipping docstrings."""

    def __init__(self, bound: set[str]) -> None:
        self.bound = set(bound)
        self.placeholders: dict[str, str] = {}

    def _rename(self, name: str) -> str:
        if name not in self.bound:
            return name
        return self.placeholders.setdefault(name, f"_v{len(self.placeholders)}")

    def dump(self, node: object) -> str:
        if isinstance(node, list):
            return "[" + ",".join(self.dump(item) for item in node) + "]"
        if not isinstance(node, ast.AST):
            return repr(node)
        if isinstance(node, (*_FUNCS, ast.Lambda)):
            self.bound |= bound_names(node)
        name_field = _NAME_FIELDS.get(type(node))
        parts: list[str] = []
        for field, value in ast.iter_fields(node):
            if field in _SKIPPED_FIELDS:
                continue
            if field == "body" and isinstance(node, (*_FUNCS, ast.ClassDef)) and ast.get_docstring(node, False):
                value = value[1:]
            if field == name_field and isinstance(value, str):
                value = self._rename(value)
            parts.append(f"{field}={self.dump(value)}")
        return f"{type(node).__name__}({','.join(parts)})"


def structure_hash(node: ast.AST, bound: set[str] | None = None, own_name: str | None = None) -> str:
    """sha256 of the AST with locals renamed by first use, docstrings dropped, positions ignored.

    ``bound`` lists names local to the enclosing function (for blocks cut out of one);
    ``own_name`` is the unit's own name, so recursion and renaming the unit keep the hash.
    Attribute names, called globals and imports are kept: they are the logic.
    """
    names = set(bound or ())
    if own_name:
        names.add(own_name)
    return sha256_text(_Dumper(names).dump(node))
