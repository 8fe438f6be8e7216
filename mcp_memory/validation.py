"""Checks on arguments that depend on settings (sizes, ranges) or need more than a schema can say."""

from __future__ import annotations

import re
from typing import Any

from mcp_memory.errors import InvalidInput
from mcp_memory.extraction.languages import normalize_language as canonical_language

FILTER_EXAMPLE = (
    'Example: {"language": "python"}, {"success_count": {"$gte": 1}}, '
    '{"$and": [{"language": "python"}, {"source": {"$in": ["agent", "consensus"]}}]}.'
)


def require_text(field: str, value: str, max_chars: int, *, allow_empty: bool = False) -> str:
    """The text itself when it is non-blank and no longer than ``max_chars``."""
    if not isinstance(value, str):
        raise InvalidInput(field, f"expected a string, got {type(value).__name__}.")
    if not allow_empty and not value.strip():
        raise InvalidInput(field, "must not be empty.", "Pass the text to store or search for.")
    if len(value) > max_chars:
        raise InvalidInput(
            field,
            f"is {len(value):,} characters; the limit is {max_chars:,}.",
            "Store a smaller unit (one function, one error) or raise MCP_MEMORY_MAX_TEXT_CHARS.",
        )
    return value


def require_n_results(value: int, maximum: int, field: str = "n_results") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"expected an integer, got {value!r}.")
    if not 1 <= value <= maximum:
        raise InvalidInput(field, f"must be between 1 and {maximum}, got {value}.")
    return value


def normalize_language(language: str | None) -> str | None:
    """A checked language name in the one canonical spelling the extractor uses, so filters always match."""
    if language is None or not language.strip():
        return None
    name = language.strip().lower()
    if len(name) > 40 or not re.fullmatch(r"[\w+#.\- ]+", name):
        raise InvalidInput(
            "language", f"'{language[:60]}' is not a language name.", "Use e.g. 'python', 'typescript', 'go'."
        )
    return canonical_language(name)


def require_json_object(field: str, value: Any, max_chars: int) -> dict[str, Any]:
    """A JSON-serializable dict no larger than ``max_chars`` when serialized."""
    import json

    if not isinstance(value, dict):
        raise InvalidInput(field, f"expected a JSON object, got {type(value).__name__}.")
    try:
        size = len(json.dumps(value, default=str))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(field, f"is not JSON-serializable ({exc}).") from exc
    if size > max_chars:
        raise InvalidInput(field, f"is {size:,} characters as JSON; the limit is {max_chars:,}.")
    return value


def chroma_where(where: dict[str, Any] | None) -> dict[str, Any] | None:
    """A metadata filter in Chroma's form; several top-level keys are joined with ``$and``."""
    if where is None or where == {}:
        return None
    if not isinstance(where, dict):
        raise InvalidInput("where", f"expected a JSON object, got {type(where).__name__}.", FILTER_EXAMPLE)
    require_json_object("where", where, 20_000)
    if len(where) > 1:
        where = {"$and": [{key: value} for key, value in where.items()]}
    from chromadb.api.types import validate_where

    try:
        validate_where(where)
    except ValueError as exc:
        raise InvalidInput("where", f"{exc}.", FILTER_EXAMPLE) from exc
    _check_operands(where)
    return where


_COMPARISONS = frozenset({"$gt", "$gte", "$lt", "$lte"})


def _check_operands(where: dict[str, Any]) -> None:
    """Reject what Chroma's own check lets through but its query engine fails on without saying why."""
    for key, value in where.items():
        if key in ("$and", "$or"):
            for part in value:
                _check_operands(part)
            continue
        if key.startswith("$"):
            raise InvalidInput(
                "where", f"unknown operator '{key}'; only $and and $or may stand where a metadata key goes.",
                FILTER_EXAMPLE,
            )
        if not isinstance(value, dict):
            continue
        for operator, operand in value.items():
            values = operand if isinstance(operand, list) else [operand]
            if not all(isinstance(v, str | int | float) for v in values):
                raise InvalidInput(
                    "where", f"{operator} on '{key}' takes strings, numbers or booleans, got {operand!r}.",
                    FILTER_EXAMPLE,
                )
            if operator in _COMPARISONS and isinstance(operand, bool):
                raise InvalidInput("where", f"{operator} on '{key}' compares numbers, got {operand!r}.", FILTER_EXAMPLE)


def and_filters(*filters: dict[str, Any] | None) -> dict[str, Any] | None:
    present = [f for f in filters if f]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return {"$and": present}
