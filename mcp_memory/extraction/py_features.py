"""Behaviours inside a Python function: error handling, asynchrony and algorithmic shape."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from mcp_memory.extraction.py_source import call_name, dotted_name, line_segment
from mcp_memory.extraction.vocabulary import (
    is_log_call,
    mentions_exponential_backoff,
    mentions_retry,
    merge_details,
    unique,
)

Func = ast.FunctionDef | ast.AsyncFunctionDef
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_TRIES = (ast.Try, ast.TryStar)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_ASYNC_CALLS: dict[str, frozenset[str]] = {
    "gather": frozenset({"gather", "as_completed"}),
    "task_group": frozenset({"TaskGroup", "create_task_group", "open_nursery"}),
    "tasks": frozenset({"create_task", "ensure_future", "start_soon", "run_coroutine_threadsafe"}),
    "timeouts": frozenset({"wait_for", "timeout", "timeout_at", "fail_after", "move_on_after", "ClientTimeout"}),
    "semaphore": frozenset({"Semaphore", "BoundedSemaphore", "CapacityLimiter"}),
}
_ALGORITHM_NAMES = frozenset(
    {"heapq", "bisect", "deque", "defaultdict", "Counter", "OrderedDict", "sorted", "itertools", "lru_cache"}
    | {"cache", "heappush", "heappop", "bisect_left", "bisect_right", "permutations", "combinations"}
)


@dataclass
class ErrorBlock:
    """One error-handling region: a try statement, or the retry loop wrapped around it."""

    region: ast.stmt
    details: dict[str, Any]


def _walk_scope(node: ast.AST) -> list[ast.AST]:
    """Every node under ``node`` without entering nested functions, lambdas or classes."""
    found: list[ast.AST] = []
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        found.append(child)
        if not isinstance(child, _SCOPES):
            stack.extend(ast.iter_child_nodes(child))
    return found


def retry_decorator(func: Func) -> str | None:
    """The decorator that retries this function (tenacity, backoff, retry), if any."""
    for decorator in func.decorator_list:
        text = ast.unparse(decorator)
        if mentions_retry(dotted_name(decorator)) or mentions_retry(text.split("(")[0]):
            return text
    return None


def _is_retry_loop(loop: ast.stmt, attempt: ast.Try | ast.TryStar) -> bool:
    """A loop that runs the same attempt again: while/range loops whose success path leaves the loop."""
    repeats = isinstance(loop, ast.While) or (
        isinstance(loop, (ast.For, ast.AsyncFor))
        and (call_name(loop.iter) in {"range", "itertools.count", "count"} or mentions_retry(ast.unparse(loop.target)))
    )
    success = [n for stmt in [*attempt.body, *attempt.orelse] for n in [stmt, *_walk_scope(stmt)]]
    return repeats and any(isinstance(n, (ast.Return, ast.Break)) for n in success)


def error_blocks(func: Func, lines: list[str]) -> list[ErrorBlock]:
    """Outermost try statements of a function, widened to their retry loop when there is one."""
    pairs: list[tuple[ast.Try | ast.TryStar, ast.stmt | None]] = []

    def visit(node: ast.AST, loops: list[ast.stmt]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _TRIES):
                loop = loops[-1] if loops and _is_retry_loop(loops[-1], child) else None
                pairs.append((child, loop))
            elif isinstance(child, _LOOPS):
                visit(child, [*loops, child])
            elif not isinstance(child, _SCOPES):
                visit(child, loops)

    visit(func, [])
    decorator = retry_decorator(func)
    blocks: dict[int, ErrorBlock] = {}
    for attempt, loop in pairs:
        region = loop or attempt
        text = line_segment(lines, region.lineno, region.end_lineno or region.lineno)
        details = _try_details(attempt, loop is not None, decorator, text)
        if id(region) in blocks:
            blocks[id(region)].details = merge_details([blocks[id(region)].details, details]) or details
        else:
            blocks[id(region)] = ErrorBlock(region, details)
    return list(blocks.values())


def _try_details(attempt: ast.Try | ast.TryStar, in_loop: bool, decorator: str | None, text: str) -> dict[str, Any]:
    caught: list[str] = []
    raises: list[str] = []
    logs: list[str] = []
    reraises = swallows = False
    for handler in attempt.handlers:
        if handler.type is None:
            caught.append("BaseException")
        else:
            types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            caught.extend(ast.unparse(t) for t in types)
        swallows = swallows or all(isinstance(s, (ast.Pass, ast.Continue)) for s in handler.body)
        for node in _walk_scope(handler):
            if isinstance(node, ast.Raise):
                exc = node.exc
                if exc is None or (isinstance(exc, ast.Name) and exc.id == handler.name):
                    reraises = True
                elif name := dotted_name(exc.func if isinstance(exc, ast.Call) else exc):
                    raises.append(name)
            elif isinstance(node, ast.Call) and is_log_call(call_name(node)):
                logs.append(call_name(node))
    for node in [n for stmt in attempt.finalbody for n in [stmt, *_walk_scope(stmt)]]:
        if isinstance(node, ast.Call) and is_log_call(call_name(node)):
            logs.append(call_name(node))
    retries = in_loop or decorator is not None
    return {
        "caught": unique(caught),
        "reraises": reraises,
        "raises": unique(raises),
        "logs": unique(logs),
        "swallows": swallows,
        "retries": retries,
        "retry_via": ("loop" if in_loop else f"@{decorator}") if retries else None,
        "backoff": retries and mentions_exponential_backoff(f"{text}\n{decorator or ''}"),
        "has_finally": bool(attempt.finalbody),
        "has_else": bool(attempt.orelse),
    }


def async_details(func: Func) -> dict[str, Any] | None:
    """Await/async-with/async-for use and concurrency helpers; None when there is nothing async."""
    found: dict[str, list[str]] = {key: [] for key in ("awaited", "async_with", "gather", "task_group")}
    found |= {"tasks": [], "timeouts": [], "semaphore": []}
    awaits = async_for = 0
    for node in ast.walk(func):
        if isinstance(node, ast.Await):
            awaits += 1
            found["awaited"].append(call_name(node.value))
        elif isinstance(node, ast.AsyncFor):
            async_for += 1
        elif isinstance(node, ast.AsyncWith):
            found["async_with"].extend(call_name(i.context_expr) or dotted_name(i.context_expr) for i in node.items)
        elif isinstance(node, ast.Call):
            name = call_name(node)
            last = name.rsplit(".", 1)[-1]
            for key, vocabulary in _ASYNC_CALLS.items():
                if last in vocabulary:
                    found[key].append(name)
    if not (awaits or async_for or found["async_with"] or isinstance(func, ast.AsyncFunctionDef)):
        return None
    details: dict[str, Any] = {"awaits": awaits, "async_for": async_for}
    details |= {key: unique(values, limit=8) for key, values in found.items()}
    return details


def algorithm_details(func: Func) -> dict[str, Any] | None:
    """Loops, recursion and comprehensions when they are the function's work; else None.

    Algorithm-shaped means recursive, or loops/comprehensions spanning at least half of the
    body, with no awaits and no try blocks inside the loops (those are I/O or retry loops).
    """
    nodes = ast.walk(func)
    loops = comprehensions = 0
    recursion = False
    names: list[str] = []
    loop_lines: set[int] = set()
    try_in_loop = has_await = False
    for node in nodes:
        if isinstance(node, (*_LOOPS, *_COMPREHENSIONS)):
            loops += isinstance(node, _LOOPS)
            comprehensions += isinstance(node, _COMPREHENSIONS)
            loop_lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
            try_in_loop = try_in_loop or any(isinstance(n, _TRIES) for n in ast.walk(node))
        elif isinstance(node, ast.Await):
            has_await = True
        elif isinstance(node, ast.Call):
            target = node.func
            recursion = (
                recursion
                or (isinstance(target, ast.Name) and target.id == func.name)
                or (
                    isinstance(target, ast.Attribute)
                    and target.attr == func.name
                    and isinstance(target.value, ast.Name)
                    and target.value.id in {"self", "cls"}
                )
            )
        if isinstance(node, ast.Name) and node.id in _ALGORITHM_NAMES:
            names.append(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in _ALGORITHM_NAMES:
            names.append(node.attr)
    body = func.body[1:] if ast.get_docstring(func) is not None else func.body
    body_lines = {n for s in body for n in range(s.lineno, (s.end_lineno or s.lineno) + 1)}
    covered = len(body_lines & loop_lines) / max(len(body_lines), 1)
    iterative = (loops or comprehensions) and covered >= 0.5 and not has_await and not try_in_loop
    if not (recursion or iterative):
        return None
    return {
        "loops": loops,
        "loop_depth": _loop_depth(func),
        "recursion": recursion,
        "comprehensions": comprehensions,
        "uses": unique(names),
    }


def _loop_depth(node: ast.AST, depth: int = 0) -> int:
    """Deepest nesting of loops (comprehension generators count as loops)."""
    best = depth
    for child in ast.iter_child_nodes(node):
        nested = isinstance(child, (*_LOOPS, ast.comprehension))
        best = max(best, _loop_depth(child, depth + 1 if nested else depth))
    return best


def decorator_retry_details(func: Func) -> dict[str, Any] | None:
    """A function retried by a decorator (tenacity, backoff) is error handling even without a try."""
    decorator = retry_decorator(func)
    if decorator is None:
        return None
    caught = [
        dotted_name(node)
        for d in func.decorator_list
        for node in ast.walk(d)
        if isinstance(node, (ast.Name, ast.Attribute)) and dotted_name(node).endswith(("Error", "Exception"))
    ]
    return {
        "caught": unique(caught),
        "reraises": False,
        "raises": [],
        "logs": [],
        "swallows": False,
        "retries": True,
        "retry_via": f"@{decorator}",
        "backoff": mentions_exponential_backoff(decorator),
        "has_finally": False,
        "has_else": False,
    }
