"""Behaviours inside a tree-sitter unit: complexity, error handling, asynchrony, algorithmic shape."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tree_sitter import Node

from mcp_memory.extraction.ts_nodes import callee, field_text, first_line, last_line, text, walk
from mcp_memory.extraction.ts_specs import TsSpec
from mcp_memory.extraction.vocabulary import (
    is_log_call,
    is_log_macro,
    mentions_exponential_backoff,
    mentions_retry,
    merge_details,
    unique,
)

_GO_ERR_CHECK = re.compile(r"\b\w*err\w*\s*!=\s*nil\b", re.IGNORECASE)
_GO_WRAPPERS = frozenset({"Wrap", "Wrapf", "WithMessage", "WithStack", "Join"})
_RUST_MAPPERS = frozenset({"map_err", "ok_or", "ok_or_else", "context", "with_context", "or_else"})
_RUST_FALLBACKS = frozenset({"unwrap_or", "unwrap_or_else", "unwrap_or_default"})
_SLEEPS = re.compile(r"\b(sleep|Sleep|setTimeout|delay)\b")


@dataclass
class TsErrorBlock:
    """One error-handling region of a unit and its details."""

    region: Node
    details: dict[str, Any]


def _last(name: str) -> str:
    return re.split(r"\.|::", name.rstrip("!"))[-1] + ("!" if name.endswith("!") else "")


def _is_logging(node: Node) -> bool:
    name = callee(node)
    return is_log_macro(name) if node.type == "macro_invocation" else is_log_call(name)


def cyclomatic(node: Node, spec: TsSpec) -> int:
    """1 + branch nodes + extra boolean operands; default labels and `_` match arms do not count."""
    score = 1
    for child in walk(node):
        if child.type in spec.branches:
            if child.type == "switch_label" and text(child).startswith("default"):
                continue
            if child.type == "match_arm" and field_text(child, "pattern").strip() == "_":
                continue
            score += 1
        elif child.type == "binary_expression" and field_text(child, "operator") in spec.bool_operators:
            score += 1
    return score


def _calls(node: Node, spec: TsSpec) -> list[Node]:
    return [n for n in walk(node) if n.type in spec.calls]


def _is_repeat_loop(loop: Node, spec: TsSpec) -> bool:
    """A loop that runs an attempt again rather than walking a collection."""
    return loop.type not in spec.iterating_loops and not any(c.type in spec.iterating_loops for c in loop.children)


def error_blocks(func: Node, spec: TsSpec, language: str) -> list[TsErrorBlock]:
    """try/catch regions (widened to their retry loop), or the whole unit for Go and Rust errors."""
    if language == "go":
        details = _go_errors(func, spec)
        return [TsErrorBlock(func, details)] if details else []
    if language == "rust":
        details = _rust_errors(func, spec)
        return [TsErrorBlock(func, details)] if details else []
    blocks: dict[int, TsErrorBlock] = {}
    stack: list[tuple[Node, Node | None]] = [(func, None)]
    while stack:
        node, loop = stack.pop()
        for child in reversed(node.children):
            if child.type in spec.tries:
                retry = loop is not None and _is_repeat_loop(loop, spec) and _exits(child, spec)
                region = loop if retry and loop is not None else child
                details = _try_details(child, spec, retry, text(region))
                if region.id in blocks:
                    blocks[region.id].details = merge_details([blocks[region.id].details, details]) or details
                else:
                    blocks[region.id] = TsErrorBlock(region, details)
            else:
                stack.append((child, child if child.type in spec.loops else loop))
    return sorted(blocks.values(), key=lambda b: b.region.start_byte)


def _exits(attempt: Node, spec: TsSpec) -> bool:
    body = attempt.child_by_field_name("body")
    return body is not None and any(n.type in spec.exits for n in walk(body))


def _try_details(attempt: Node, spec: TsSpec, retries: bool, region_text: str) -> dict[str, Any]:
    caught: list[str] = []
    raises: list[str] = []
    logs: list[str] = []
    reraises = swallows = catches_all = False
    handlers = [c for c in attempt.children if c.type in spec.catches]
    for handler in handlers:
        parameter = handler.child_by_field_name("parameter")
        variable = text(parameter)
        types = [t for n in walk(handler) if n.type == "catch_type" for t in n.named_children]
        variable = variable or next(
            (text(n.child_by_field_name("name")) for n in handler.named_children if n.type == "catch_formal_parameter"),
            "",
        )
        checks = [
            field_text(n, "right")
            for n in walk(handler)
            if n.type == "binary_expression" and field_text(n, "operator") == "instanceof"
        ]
        caught.extend([text(t) for t in types] + checks)
        catches_all = catches_all or not (types or checks)
        body = handler.child_by_field_name("body")
        swallows = swallows or (
            body is not None and not [c for c in body.named_children if c.type not in spec.comments]
        )
        for node in walk(handler):
            if node.type in spec.throws:
                thrown = node.named_children[0] if node.named_children else None
                if thrown is None or text(thrown) == variable:
                    reraises = True
                elif thrown.type in spec.calls:
                    raises.append(callee(thrown))
            elif node.type in spec.calls and _is_logging(node):
                logs.append(callee(node))
    return {
        "caught": unique(caught),
        "catches_all": catches_all and bool(handlers),
        "reraises": reraises,
        "raises": unique(raises),
        "logs": unique(logs),
        "swallows": swallows,
        "retries": retries,
        "retry_via": "loop" if retries else None,
        "backoff": retries and mentions_exponential_backoff(region_text),
        "has_finally": any(c.type in spec.finally_clauses for c in attempt.children),
    }


def _retry_loop_around(func: Node, spec: TsSpec, marker: re.Pattern[str]) -> Node | None:
    """A repeat loop that checks errors and sleeps or speaks of retrying."""
    for node in walk(func):
        if node.type in spec.loops and _is_repeat_loop(node, spec):
            body = text(node)
            if marker.search(body) and (_SLEEPS.search(body) or mentions_retry(body)):
                return node
    return None


def _go_errors(func: Node, spec: TsSpec) -> dict[str, Any] | None:
    checks = [n for n in walk(func) if n.type == "if_statement" and _GO_ERR_CHECK.search(field_text(n, "condition"))]
    if not checks:
        return None
    calls = _calls(func, spec)
    wraps = [
        callee(c) for c in calls if _last(callee(c)) in _GO_WRAPPERS or (callee(c) == "fmt.Errorf" and "%w" in text(c))
    ]
    sentinels = [
        text(arguments.named_children[-1])
        for c in calls
        if callee(c) in {"errors.Is", "errors.As"}
        and (arguments := c.child_by_field_name("arguments")) is not None
        and arguments.named_children
    ]
    handled = [n for check in checks for n in walk(check.child_by_field_name("consequence") or check)]
    loop = _retry_loop_around(func, spec, _GO_ERR_CHECK)
    return {
        "checks": len(checks),
        "caught": unique(sentinels),
        "wraps": unique(wraps),
        "returns_errors": any(n.type == "return_statement" for n in handled),
        "logs": unique(callee(n) for n in handled if n.type in spec.calls and _is_logging(n)),
        "recovers": any(callee(c) == "recover" for c in calls),
        "retries": loop is not None,
        "retry_via": "loop" if loop is not None else None,
        "backoff": loop is not None and mentions_exponential_backoff(text(loop)),
    }


def _rust_errors(func: Node, spec: TsSpec) -> dict[str, Any] | None:
    nodes = list(walk(func))
    question_marks = sum(n.type == "try_expression" for n in nodes)
    err_arms = [
        n
        for n in nodes
        if n.type in {"match_arm", "let_condition"} and field_text(n, "pattern").lstrip().startswith("Err")
    ]
    method_calls = [_last(callee(n)) for n in nodes if n.type in spec.calls]
    mappers = [m for m in method_calls if m in _RUST_MAPPERS | _RUST_FALLBACKS]
    if not (question_marks or err_arms or mappers):
        return None
    result = func.child_by_field_name("return_type")
    type_arguments = result.child_by_field_name("type_arguments") if result is not None else None
    arguments = [text(c) for c in (type_arguments.named_children if type_arguments is not None else [])]
    caught = [re.sub(r"^Err\s*\(|\)$", "", field_text(a, "pattern").strip()) for a in err_arms]
    loop = _retry_loop_around(func, spec, re.compile(r"\bErr\b|\?"))
    return {
        "question_marks": question_marks,
        "match_err": bool(err_arms),
        "caught": unique(c for c in caught if "::" in c),
        "maps_errors": unique(mappers),
        "unwraps": sum(m in {"unwrap", "expect"} for m in method_calls),
        "error_type": arguments[1] if "Result" in text(result) and len(arguments) > 1 else None,
        "logs": unique(callee(n) for arm in err_arms for n in walk(arm) if n.type in spec.calls and _is_logging(n)),
        "retries": loop is not None,
        "retry_via": "loop" if loop is not None else None,
        "backoff": loop is not None and mentions_exponential_backoff(text(loop)),
    }


def async_details(func: Node, spec: TsSpec, is_async: bool) -> dict[str, Any] | None:
    """Awaits and concurrency helpers (Promise.all, goroutines, channels, spawn, timeouts)."""
    found: dict[str, list[str]] = {"awaited": [], "async_with": []}
    for key in ("gather", "task_group", "tasks", "timeouts", "semaphore", "channels", "select", "wait_group"):
        found[key] = []
    found["promises"] = []
    awaits = async_for = 0
    for node in walk(func):
        if node.type in spec.awaits:
            awaits += 1
            found["awaited"].extend(callee(c) for c in node.named_children if c.type in spec.calls)
        elif node.type in spec.loops and any(c.type == "await" for c in node.children):
            async_for += 1
        elif node.type == "unary_expression" and field_text(node, "operator") == "<-":
            found["channels"].append("channels")
        elif node.type in spec.async_nodes:
            key, label = spec.async_nodes[node.type]
            found[key].append(label)
        elif node.type in spec.calls:
            name = callee(node)
            for key, names in spec.async_calls.items():
                if name in names or _last(name) in names:
                    found[key].append(name)
        elif node.child_count == 0 and text(node) in spec.async_names:
            found[spec.async_names[text(node)]].append(text(node))
    if not (awaits or is_async or any(found.values())):
        return None
    details: dict[str, Any] = {"awaits": awaits, "async_for": async_for}
    details |= {key: unique(values, limit=8) for key, values in found.items()}
    return details


def _handles_errors(node: Node, spec: TsSpec) -> bool:
    """A try block, a Rust `?` or a Go `err != nil` check somewhere under ``node``."""
    for child in walk(node):
        if child.type in spec.tries or child.type == "try_expression":
            return True
        if child.type == "if_statement" and _GO_ERR_CHECK.search(field_text(child, "condition")):
            return True
    return False


def algorithm_details(func: Node, body: Node | None, name: str, spec: TsSpec) -> dict[str, Any] | None:
    """Loops, recursion and map/filter/reduce chains when they are the unit's work; else None.

    Same rule as for Python: recursive, or loops (and map/filter/reduce calls) covering at least
    half of the body, with no awaits and no error handling inside the loops.
    """
    nodes = list(walk(func))
    loops = [n for n in nodes if n.type in spec.loops]
    calls = [(n, callee(n)) for n in nodes if n.type in spec.calls]
    functional = [n for n, name_ in calls if _last(name_) in spec.functional]
    recursive_names = {name, f"self.{name}", f"this.{name}", f"Self::{name}"}
    recursion = any(name_ in recursive_names for _, name_ in calls)
    iterations = loops + functional
    loop_lines = {line for loop in iterations for line in range(first_line(loop), last_line(loop) + 1)}
    statements = [c for c in (body.named_children if body is not None else []) if c.type not in spec.comments]
    body_lines = {line for s in statements for line in range(first_line(s), last_line(s) + 1)}
    covered = len(body_lines & loop_lines) / max(len(body_lines), 1)
    guarded = any(_handles_errors(loop, spec) for loop in loops)
    has_await = any(n.type in spec.awaits for n in nodes)
    iterative = bool(iterations) and covered >= 0.5 and not has_await and not guarded
    if not (recursion or iterative):
        return None
    return {
        "loops": len(loops),
        "loop_depth": _loop_depth(func, spec),
        "recursion": recursion,
        "comprehensions": len(functional),
        "uses": unique(text(n) for n in nodes if n.child_count == 0 and text(n) in spec.data_structures),
    }


def _loop_depth(node: Node, spec: TsSpec) -> int:
    """Deepest nesting of loops under ``node`` (iterative: generated code can nest very deeply)."""
    best = 0
    stack = [(node, 0)]
    while stack:
        current, depth = stack.pop()
        best = max(best, depth)
        stack.extend((child, depth + (child.type in spec.loops)) for child in current.children)
    return best
