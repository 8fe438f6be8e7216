"""Checks on arguments that depend on settings (sizes, ranges) or need more than a schema can say."""

from __future__ import annotations

import re
from typing import Any

from mcp_memory.errors import InvalidInput
from mcp_memory.extraction.languages import normalize_language as canonical_language
from mcp_memory.storage.filters import check_where_syntax

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
    try:
        check_where_syntax(where)
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
                "where",
                f"unknown operator '{key}'; only $and and $or may stand where a metadata key goes.",
                FILTER_EXAMPLE,
            )
        if not isinstance(value, dict):
            continue
        for operator, operand in value.items():
            values = operand if isinstance(operand, list) else [operand]
            if not all(isinstance(v, str | int | float) for v in values):
                raise InvalidInput(
                    "where",
                    f"{operator} on '{key}' takes strings, numbers or booleans, got {operand!r}.",
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


_PROBLEMS = {
    "missing": "is missing.",
    "string_type": "expected a string, got {kind}.",
    "bool_type": "expected true or false, got {value}.",
    "bool_parsing": "expected true or false, got {value}.",
    "int_type": "expected a whole number, got {value}.",
    "int_parsing": "expected a whole number, got {value}.",
    "int_from_float": "expected a whole number, got {value}.",
    "float_type": "expected a number, got {value}.",
    "float_parsing": "expected a number, got {value}.",
    "list_type": "expected a list, got {kind}.",
    "dict_type": "expected a JSON object, got {kind}.",
    "model_type": "expected a JSON object, got {kind}.",
    "model_attributes_type": "expected a JSON object, got {kind}.",
    "greater_than_equal": "must be at least {ge}, got {value}.",
    "less_than_equal": "must be at most {le}, got {value}.",
    "greater_than": "must be more than {gt}, got {value}.",
    "less_than": "must be less than {lt}, got {value}.",
    "too_long": "has {actual_length} items; at most {max_length} are allowed.",
    "too_short": "has {actual_length} items; at least {min_length} are needed.",
    "string_too_long": "is longer than {max_length} characters.",
    "literal_error": "must be one of {expected}, got {value}.",
    "enum": "must be one of {expected}, got {value}.",
}
_JSON_KINDS = {
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    list: "a list",
    dict: "an object",
    type(None): "null",
}


def argument_problems(error: Any, schema: dict[str, Any]) -> str:
    """A schema violation (a pydantic ``ValidationError``) in the words of ``InvalidInput``: field, problem,
    example — one sentence per wrong field, the first problem of each."""
    import json

    sentences: dict[str, str] = {}
    for detail in error.errors(include_url=False):
        path = [str(part) for part in detail["loc"] if isinstance(part, int) or part in _property_names(schema)]
        field = ".".join(path) or "arguments"
        if field in sentences:
            continue
        value = detail.get("input")
        context = {k: v for k, v in (detail.get("ctx") or {}).items()}
        try:
            shown = json.dumps(value)[:60]
        except (TypeError, ValueError):
            shown = repr(value)[:60]
        problem = _PROBLEMS.get(detail["type"], detail["msg"] + ".").format(
            value=shown, kind=_JSON_KINDS.get(type(value), type(value).__name__), **context
        )
        sentences[field] = str(InvalidInput(field, problem, _example(schema, path)))
    return " ".join(sentences.values())


def _property_names(schema: dict[str, Any]) -> set[str]:
    names = set(schema.get("properties", {}))
    for definition in schema.get("$defs", {}).values():
        names |= set(definition.get("properties", {}))
    return names


def _property(schema: dict[str, Any], path: list[str]) -> dict[str, Any] | None:
    """The schema of the argument at ``path`` (list indexes skipped), following ``$ref`` and nullable unions."""
    node: dict[str, Any] | None = schema
    for part in path:
        if node is None or part.isdigit():
            continue
        node = _resolved(schema, node)
        node = node.get("properties", {}).get(part)
    return _resolved(schema, node) if node is not None else None


def _resolved(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    for option in node.get("anyOf", []):
        if option.get("type") != "null":
            node = {**option, **{k: v for k, v in node.items() if k != "anyOf"}}
            break
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        node = {**schema.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {}), **node}
    return node


def _example(schema: dict[str, Any], path: list[str]) -> str:
    """``Example: {"field": value}`` from the argument's schema: its examples, its default or its kind."""
    import json

    node = _property(schema, path) or {}
    name = next((part for part in reversed(path) if not part.isdigit()), "")
    description = str(node.get("description") or "")
    if node.get("examples"):
        value: Any = node["examples"][0]
    elif node.get("default") not in (None, "", [], {}):
        value = node["default"]
    elif node.get("type") == "integer":
        value = node.get("minimum", 1)
    elif node.get("type") == "boolean":
        value = True
    elif "e.g." in description:
        return "Example: " + description.split("e.g.", 1)[1].strip().rstrip(".") + "."
    elif node.get("enum"):
        value = node["enum"][0]
    else:
        return description
    return f"Example: {json.dumps({name: value}) if name else json.dumps(value)}."
