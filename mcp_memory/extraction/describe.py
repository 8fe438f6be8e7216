"""Deterministic one-line descriptions, worded like the tasks an agent would search with."""

from __future__ import annotations

from typing import Any

from mcp_memory.extraction.facts import ClassFacts, FunctionFacts

_RECEIVERS = frozenset({"self", "cls", "this", "&self", "&mut self", "mut self"})
_MAX_LISTED = 12


def summary(docstring: str | None, limit: int = 120) -> str | None:
    """First line of a docstring, trimmed, without its final period."""
    if not docstring or not docstring.strip():
        return None
    line = docstring.strip().splitlines()[0].strip().rstrip(".")
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def _listing(names: list[str], limit: int = _MAX_LISTED) -> str:
    shown = ", ".join(names[:limit])
    return shown + (", ..." if len(names) > limit else "")


def _finish(head: str, bits: list[str], docstring: str | None) -> str:
    text = head + (": " + ", ".join(bits) if bits else "")
    doc = summary(docstring)
    if doc:
        text += (". " if bits else ": ") + doc
    return text


def error_phrases(details: dict[str, Any] | None) -> list[str]:
    """Words for retries, caught errors, re-raising, logging and cleanup."""
    if not details:
        return []
    bits: list[str] = []
    if details.get("retries"):
        via = details.get("retry_via") or ""
        if details.get("backoff"):
            bits.append("retries with exponential backoff")
        else:
            bits.append(f"retries via {via}" if via.startswith("@") else "retries in a loop")
    if details.get("caught"):
        bits.append("catches " + _listing(details["caught"], 4))
    elif details.get("catches_all"):
        bits.append("catches all errors")
    if details.get("checks"):
        bits.append("checks err != nil")
    if details.get("question_marks"):
        bits.append("propagates errors with ?")
    if details.get("match_err"):
        bits.append("matches Err")
    if details.get("maps_errors"):
        bits.append("maps errors with " + _listing(details["maps_errors"], 3))
    if details.get("wraps"):
        bits.append("wraps errors with " + _listing(details["wraps"], 3))
    if details.get("returns_errors") and not details.get("wraps"):
        bits.append("returns errors")
    if details.get("recovers"):
        bits.append("recovers from panics")
    if details.get("reraises"):
        bits.append("re-raises")
    if details.get("raises"):
        bits.append("raises " + _listing(details["raises"], 3))
    if details.get("logs"):
        bits.append("logs via " + _listing(details["logs"], 2))
    if details.get("swallows"):
        bits.append("ignores some errors")
    if details.get("has_finally"):
        bits.append("cleans up in finally")
    return bits


def async_phrases(details: dict[str, Any] | None, with_awaits: bool = False) -> list[str]:
    """Words for awaited calls, async context managers, concurrency and timeouts."""
    if not details:
        return []
    bits: list[str] = []
    if with_awaits and details.get("awaited"):
        bits.append("awaits " + _listing(details["awaited"], 3))
    phrases = (
        ("async_with", "async with {}"),
        ("gather", "runs concurrently with {}"),
        ("task_group", "uses {}"),
        ("tasks", "spawns tasks with {}"),
        ("wait_group", "waits with {}"),
        ("promises", "wraps callbacks in {}"),
        ("timeouts", "uses {} timeout"),
        ("semaphore", "limits concurrency with {}"),
    )
    for key, template in phrases:
        if details.get(key):
            bits.append(template.format(_listing(details[key], 3)))
    if details.get("async_for"):
        bits.append("iterates with async for")
    if details.get("channels"):
        bits.append("uses channels")
    if details.get("select"):
        bits.append("uses select")
    return bits


def algorithm_phrases(details: dict[str, Any] | None) -> list[str]:
    """Words for recursion, loop nesting, comprehensions and the data structures used."""
    if not details:
        return []
    bits: list[str] = []
    if details.get("recursion"):
        bits.append("recursive")
    depth, loops = details.get("loop_depth", 0), details.get("loops", 0)
    if loops and depth >= 2:
        bits.append(f"nested loops (depth {depth})")
    elif loops:
        bits.append("1 loop" if loops == 1 else f"{loops} loops")
    if details.get("comprehensions"):
        count = details["comprehensions"]
        bits.append("1 comprehension" if count == 1 else f"{count} comprehensions")
    if details.get("uses"):
        bits.append("uses " + _listing(details["uses"], 4))
    return bits


def _decorator_phrase(language: str, decorators: list[str]) -> list[str]:
    if not decorators:
        return []
    names = [d.split("(")[0].strip() for d in decorators]
    if language == "rust":
        return ["with attributes " + ", ".join(f"#[{n}]" for n in names)]
    return ["decorated with " + ", ".join(f"@{n.lstrip('@')}" for n in names)]


def visible_parameters(params: list[str]) -> list[str]:
    """Parameters a caller passes: the receiver (self, cls, this) is left out."""
    return [p for p in params if p not in _RECEIVERS]


def _function_head(facts: FunctionFacts, kind: str) -> str:
    return f"{facts.language} {kind} {facts.qualified_name}({', '.join(visible_parameters(facts.params))})"


def describe_unit(facts: FunctionFacts) -> str:
    """'python async function fetch_json(url, retries): retries with exponential backoff, ...'."""
    head = _function_head(facts, f"async {facts.kind}" if facts.is_async else facts.kind)
    if facts.returns:
        head += f" -> {facts.returns}"
    features = facts.features
    bits = _decorator_phrase(facts.language, facts.decorators) + error_phrases(features.errors)
    bits += async_phrases(features.asynchrony) + algorithm_phrases(features.algorithm)
    return _finish(head, bits, facts.docstring)


def describe_class(facts: ClassFacts) -> str:
    """'python class UserRepository(Repository) with 4 methods: get, add, update, delete'."""
    if facts.flavour == "impl":
        head = f"{facts.language} {facts.qualified_name}"
    else:
        bases = f"({', '.join(facts.bases)})" if facts.bases else ""
        head = f"{facts.language} {facts.flavour} {facts.qualified_name}{bases}"
    parts: list[str] = []
    if facts.fields:
        parts.append("fields " + _listing(facts.fields))
    if facts.methods:
        noun = "method" if len(facts.methods) == 1 else "methods"
        parts.append(f"{len(facts.methods)} {noun}: {_listing(facts.methods)}")
    if parts:
        head += " with " + " and ".join(parts)
    doc = summary(facts.docstring)
    return f"{head}. {doc}" if doc else head


def describe_error(facts: FunctionFacts, details: dict[str, Any]) -> str:
    """'python error handling in Client.fetch: retries with exponential backoff, catches ...'."""
    return _finish(f"{facts.language} error handling in {facts.qualified_name}", error_phrases(details), None)


def describe_async(facts: FunctionFacts, details: dict[str, Any]) -> str:
    """'python async pattern in crawl: awaits ..., runs concurrently with asyncio.gather'."""
    return _finish(f"{facts.language} async pattern in {facts.qualified_name}", async_phrases(details, True), None)


def describe_algorithm(facts: FunctionFacts, details: dict[str, Any]) -> str:
    """'python algorithm fib(n): recursive'."""
    return _finish(_function_head(facts, "algorithm"), algorithm_phrases(details), facts.docstring)


def describe_snippet(language: str, code: str) -> str:
    """'cobol snippet, 12 lines: IDENTIFICATION DIVISION.'."""
    lines = code.splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    first = first if len(first) <= 80 else first[:77].rstrip() + "..."
    count = len(lines)
    return f"{language} snippet, {count} line{'s' if count != 1 else ''}: {first}"
