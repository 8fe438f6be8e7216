"""The seeded knowledge base: Markdown files with YAML front matter, read into typed items.

Seeds live in three folders (``patterns/``, ``best_practices/``, ``common_errors/``), one file per item,
so that each item can be reviewed, edited and tested on its own.
"""

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from mcp_memory.errors import MemoryStoreError

SeedKind = Literal["pattern", "best_practice", "common_error"]

FOLDER_KINDS: dict[str, SeedKind] = {
    "patterns": "pattern",
    "best_practices": "best_practice",
    "common_errors": "common_error",
}

_FRONT_MATTER_KEYS = frozenset({"title", "summary", "language", "tags", "error_message", "error_type"})
_ERROR_ONLY_KEYS = ("error_message", "error_type")
_FENCE_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


class SeedFileError(MemoryStoreError):
    """A seed file is malformed; names the file and the problem so it can be fixed by hand."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"Seed file {path}: {problem}")


class SeedItem(BaseModel):
    """One item of the knowledge base, as read from its file."""

    kind: SeedKind
    slug: str
    title: str
    summary: str
    language: str | None = None
    tags: list[str] = []
    error_message: str | None = None
    error_type: str | None = None
    body: str
    source_path: Path

    @property
    def content_hash(self) -> str:
        """sha256 of everything but the file location, so re-seeding can skip unchanged items."""
        data = self.model_dump(mode="json", exclude={"source_path"})
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_seed_items(seeds_dir: Path) -> list[SeedItem]:
    """Read every ``*.md`` file of the kind folders under ``seeds_dir``, sorted by (kind, slug)."""
    if not seeds_dir.is_dir():
        raise SeedFileError(seeds_dir, "seeds directory does not exist or is not a directory")
    items = [
        load_seed_file(path, kind)
        for folder, kind in FOLDER_KINDS.items()
        for path in sorted((seeds_dir / folder).glob("*.md"))
        if path.is_file()
    ]
    return sorted(items, key=lambda item: (item.kind, item.slug))


def load_seed_file(path: Path, kind: SeedKind) -> SeedItem:
    """Parse one seed file; every problem is reported as a SeedFileError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedFileError(path, f"cannot be read: {exc}") from exc
    meta, body = _split_front_matter(path, text)
    _check_front_matter(path, kind, meta)
    try:
        return SeedItem(kind=kind, slug=path.stem, body=body.strip(), source_path=path, **meta)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SeedFileError(path, f"invalid front matter: {problems}") from exc


def python_code_blocks(markdown: str) -> list[str]:
    """The bodies of the fenced code blocks whose info string is ``python``, in order."""
    blocks: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE_OPEN.match(lines[i])
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        body: list[str] = []
        i += 1
        while i < len(lines) and not closing.match(lines[i]):
            body.append(_strip_indent(lines[i], indent))
            i += 1
        i += 1  # past the closing fence (or the end of an unclosed block)
        words = opening["info"].split()
        if words and words[0].lower() == "python":
            blocks.append("\n".join(body) + "\n")
    return blocks


def _split_front_matter(path: Path, text: str) -> tuple[dict[str, Any], str]:
    """Separate the ``---`` delimited YAML header from the Markdown body."""
    import yaml  # here: a server imports this module before its handshake, and reads seeds only when seeding

    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise SeedFileError(path, "no front matter: the file must start with a '---' line")
    end = next((n for n in range(1, len(lines)) if lines[n].strip() == "---"), None)
    if end is None:
        raise SeedFileError(path, "front matter is not closed by a '---' line")
    try:
        meta = yaml.safe_load("".join(lines[1:end]))
    except yaml.YAMLError as exc:
        raise SeedFileError(path, f"front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise SeedFileError(path, "front matter must be a YAML mapping of field names to values")
    return meta, "".join(lines[end + 1 :])


def _check_front_matter(path: Path, kind: SeedKind, meta: dict[str, Any]) -> None:
    """Reject what the model alone would let through: unknown keys (typos), blanks, misplaced error fields."""
    unknown = sorted(str(key) for key in meta if key not in _FRONT_MATTER_KEYS)
    if unknown:
        raise SeedFileError(path, f"unknown front matter field(s): {', '.join(unknown)}")
    required = ("title", "summary", "error_message") if kind == "common_error" else ("title", "summary")
    for key in required:
        value = meta.get(key)
        if not isinstance(value, str) or not value.strip():
            raise SeedFileError(path, f"front matter field '{key}' is missing or not a non-empty string")
    if kind != "common_error":
        misplaced = [key for key in _ERROR_ONLY_KEYS if meta.get(key) is not None]
        if misplaced:
            raise SeedFileError(path, f"only common errors may set {', '.join(misplaced)}")
    if meta.get("tags", []) is None:
        del meta["tags"]  # an empty `tags:` line means no tags
    tags = meta.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise SeedFileError(path, "front matter field 'tags' must be a list of strings")


def _strip_indent(line: str, indent: int) -> str:
    """Remove up to ``indent`` leading spaces, as Markdown does inside an indented fence."""
    removable = len(line) - len(line.lstrip(" "))
    return line[min(indent, removable) :]
