"""Language names: one spelling per language, so storage and filters agree whatever the caller wrote."""

from __future__ import annotations

SUPPORTED_LANGUAGES: tuple[str, ...] = ("python", "javascript", "typescript", "go", "rust", "java")

_ALIASES: dict[str, str] = {
    "py": "python",
    "py3": "python",
    "python3": "python",
    "python2": "python",
    "pyw": "python",
    "js": "javascript",
    "jsx": "javascript",
    "mjs": "javascript",
    "cjs": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
    "node.js": "javascript",
    "ecmascript": "javascript",
    "ts": "typescript",
    "tsx": "typescript",
    "mts": "typescript",
    "cts": "typescript",
    "golang": "go",
    "rs": "rust",
    "jav": "java",
    "c++": "cpp",
    "cxx": "cpp",
    "cc": "cpp",
    "hpp": "cpp",
    "h": "c",
    "c#": "csharp",
    "cs": "csharp",
    "rb": "ruby",
    "kt": "kotlin",
    "kts": "kotlin",
    "sh": "shell",
    "bash": "shell",
    "zsh": "shell",
    "ps1": "powershell",
    "yml": "yaml",
    "md": "markdown",
    "txt": "text",
    "plaintext": "text",
}


def normalize_language(language: str) -> str:
    """Map a user-written language name ("Python", "ts", "golang", ".rs") to its canonical form.

    Unknown names come back lower-cased and trimmed so they can still be stored and filtered;
    an empty name becomes "text".
    """
    key = language.strip().lower().lstrip(".")
    if not key:
        return "text"
    return _ALIASES.get(key, key)
