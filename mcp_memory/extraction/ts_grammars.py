"""The bundled tree-sitter grammars, loaded once; no grammar is ever downloaded."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import tree_sitter_go
import tree_sitter_java
import tree_sitter_javascript
import tree_sitter_rust
import tree_sitter_typescript
from tree_sitter import Language, Parser, Tree

_GRAMMARS: dict[str, Callable[[], object]] = {
    "javascript": tree_sitter_javascript.language,
    "typescript": tree_sitter_typescript.language_typescript,
    "tsx": tree_sitter_typescript.language_tsx,
    "go": tree_sitter_go.language,
    "rust": tree_sitter_rust.language,
    "java": tree_sitter_java.language,
}


@cache
def _language(grammar: str) -> Language:
    return Language(_GRAMMARS[grammar]())


def parse(code: str, grammar: str) -> Tree:
    """Parse with one grammar ('tsx' is TypeScript with JSX)."""
    return Parser(_language(grammar)).parse(code.encode("utf-8"))


def parse_best(code: str, language: str, tsx: bool = False) -> Tree:
    """Parse; TypeScript that fails as plain .ts is retried as .tsx (JSX in a .ts label)."""
    first = "tsx" if tsx else language
    tree = parse(code, first)
    if language == "typescript" and tree.root_node.has_error:
        other = parse(code, "typescript" if tsx else "tsx")
        if not other.root_node.has_error:
            return other
    return tree
