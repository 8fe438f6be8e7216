"""Metadata filters (Chroma's ``where`` grammar) across the two stores.

Chroma holds what most filters need, but counters and ``updated_at`` live only in the database (they change with
every store and outcome). A filter that names one of those is split: Chroma gets what it can answer, and the
whole filter is checked again on the database's rows, here, in Python.
"""

from __future__ import annotations

from typing import Any

DATABASE_ONLY_KEYS = frozenset({"usage_count", "success_count", "failure_count", "updated_at", "content_hash"})


def names_database_keys(where: dict[str, Any] | None) -> bool:
    if not where:
        return False
    for key, value in where.items():
        if key in ("$and", "$or"):
            if any(names_database_keys(part) for part in value):
                return True
        elif key in DATABASE_ONLY_KEYS:
            return True
    return False


def split_where(where: dict[str, Any] | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(what Chroma can filter, what must be checked on rows): the second is None when Chroma answers it all."""
    if not names_database_keys(where):
        return where, None
    assert where is not None
    if list(where) == ["$and"]:
        kept = [part for part in where["$and"] if not names_database_keys(part)]
        chroma = None if not kept else kept[0] if len(kept) == 1 else {"$and": kept}
        return chroma, where
    return None, where


def matches(where: dict[str, Any] | None, metadata: dict[str, Any]) -> bool:
    """Whether flat metadata satisfies a Chroma-style filter (validated beforehand)."""
    if not where:
        return True
    for key, condition in where.items():
        if key == "$and":
            if not all(matches(part, metadata) for part in condition):
                return False
        elif key == "$or":
            if not any(matches(part, metadata) for part in condition):
                return False
        elif not _holds(metadata.get(key), condition):
            return False
    return True


def _holds(value: Any, condition: Any) -> bool:
    if not isinstance(condition, dict):
        return value is not None and value == condition
    return all(_compare(value, operator, operand) for operator, operand in condition.items())


def _compare(value: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return value is not None and value == operand
    if operator == "$ne":
        return value != operand
    if operator == "$in":
        return value is not None and value in operand
    if operator == "$nin":
        return value not in operand
    if value is None or isinstance(value, str) != isinstance(operand, str):
        return False
    try:
        if operator == "$gt":
            return bool(value > operand)
        if operator == "$gte":
            return bool(value >= operand)
        if operator == "$lt":
            return bool(value < operand)
        if operator == "$lte":
            return bool(value <= operand)
    except TypeError:
        return False
    return False


def check_where_syntax(where: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the problem when Chroma would refuse ``where`` as a filter."""
    from chromadb.api.types import validate_where

    validate_where(where)


def filter_rejections() -> tuple[type[Exception], ...]:
    """The exceptions Chroma raises for a filter it accepted but cannot run."""
    from chromadb.errors import InvalidArgumentError

    return (ValueError, InvalidArgumentError)
