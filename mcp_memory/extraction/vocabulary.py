"""Names that signal a behaviour (logging, retrying, backoff, timeouts), shared by every language."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

LOG_METHODS = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "log", "trace"}
    | {"Print", "Printf", "Println", "Fatal", "Fatalf", "Fatalln", "Panic", "Panicf", "Error", "Errorf"}
    | {"Warn", "Warnf", "Info", "Infof", "Debug", "Debugf", "severe"}
)
LOG_MACROS = frozenset({"error", "warn", "info", "debug", "trace", "eprintln", "eprint", "log"})
_EXPONENTIAL = re.compile(
    r"[\w)\]]\s*\*\*\s*[\w(]|pow\s*\(\s*2|Math\.pow|\*=\s*2\b|<<=?\s*\w|\w\s*\*\s*2\b"
    r"|\b2\s*\*\s*\w|\bexpo\b|exponential",
    re.IGNORECASE,
)
ASYNC_PATTERN_KEYS = (
    *("async_with", "async_for", "gather", "task_group", "tasks", "timeouts", "semaphore"),
    *("channels", "select", "wait_group", "promises"),
)
_RETRY_WORD = re.compile(r"retr(y|ies|ying)|backoff|attempt", re.IGNORECASE)


def is_log_call(callee: str) -> bool:
    """True for logger.warning, logging.exception, log.Printf, console.error, self.log.info, ..."""
    parts = [p for p in re.split(r"\.|::", callee) if p]
    if len(parts) < 2 or parts[-1] not in LOG_METHODS:
        return False
    receivers = [p.lower() for p in parts[:-1]]
    return any("log" in p or p == "console" for p in receivers)


def is_log_macro(name: str) -> bool:
    """Rust logging macros: error!, log::warn!, tracing::info!, eprintln!."""
    return name.rstrip("!").split("::")[-1] in LOG_MACROS


def mentions_exponential_backoff(text: str) -> bool:
    """Heuristic for a delay that grows geometrically (2 ** n, delay *= 2, backoff.expo, ...)."""
    return bool(_EXPONENTIAL.search(text))


def mentions_retry(text: str) -> bool:
    """True when a name speaks of retrying (retry, retries, backoff, attempt)."""
    return bool(_RETRY_WORD.search(text))


def is_async_pattern(details: dict[str, Any] | None) -> bool:
    """Worth its own pattern: it coordinates work (context managers, streams, tasks, timeouts),
    not merely awaits one call after another."""
    return details is not None and any(details.get(key) for key in ASYNC_PATTERN_KEYS)


def one_line(text: str) -> str:
    """One-line form of a multi-line header: runs of whitespace become one space."""
    text = re.sub(r"\s+", " ", text).strip()
    return text.replace("( ", "(").replace(" )", ")").replace(", )", ")").replace(",)", ")")


def unique(items: Iterable[str], limit: int | None = None) -> list[str]:
    """Order-preserving de-duplication, optionally capped."""
    seen: dict[str, None] = {}
    for item in items:
        if item:
            seen.setdefault(item, None)
    values = list(seen)
    return values if limit is None else values[:limit]


def merge_details(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Fold several blocks' details into one summary: lists union, flags any, counts add up."""
    if not items:
        return None
    merged: dict[str, Any] = {}
    for item in items:
        for key, value in item.items():
            if key not in merged:
                merged[key] = list(value) if isinstance(value, list) else value
            elif isinstance(value, list):
                merged[key] = unique([*merged[key], *value])
            elif isinstance(value, bool):
                merged[key] = merged[key] or value
            elif isinstance(value, int):
                merged[key] += value
            elif merged[key] is None:
                merged[key] = value
    return merged


BRANCH_WORDS = re.compile(r"\b(if|elif|elsif|for|foreach|while|until|case|when|catch|except|rescue)\b|&&|\|\|")
