"""Projects: every memory and episode belongs to one, or to none ("" is global: seeds, and what no project claims).

A recall sees its caller's project and the global memories; ``"*"`` sees every project. Memory identity follows
the project: the same content stored in two projects is two memories, while a global memory keeps the id it
always had (``records.memory_id``).
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp_memory.errors import InvalidInput

GLOBAL = ""
EVERY_PROJECT = "*"
MAX_PROJECT_CHARS = 200  # the width of the project columns
PROJECT_EXAMPLE = 'Use a repository or folder name, e.g. "acme-api"; "" for global, "*" for every project.'


def require_project(value: str | None, field: str = "project", *, allow_every: bool = True) -> str | None:
    """A project name as stored: trimmed, one line, at most 200 characters; None stays None (not given)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(field, f"expected a string, got {type(value).__name__}.", PROJECT_EXAMPLE)
    name = value.strip()
    if len(name) > MAX_PROJECT_CHARS or any(ord(c) < 32 for c in name):
        raise InvalidInput(field, f"must be one line of at most {MAX_PROJECT_CHARS} characters.", PROJECT_EXAMPLE)
    if name == EVERY_PROJECT and not allow_every:
        raise InvalidInput(field, '"*" names every project: a memory is stored in one.', PROJECT_EXAMPLE)
    return name


@dataclass(frozen=True)
class ProjectScope:
    """Which projects a read sees: ``projects`` (always with global), or every project when it is None."""

    projects: frozenset[str] | None

    @classmethod
    def of(cls, project: str | None) -> ProjectScope:
        """``"*"`` (or None): every project; a name: that project and global; ``""``: global only."""
        name = require_project(project)
        if name is None or name == EVERY_PROJECT:
            return EVERYWHERE
        return cls(frozenset({name, GLOBAL}))

    @property
    def everywhere(self) -> bool:
        return self.projects is None

    def admits(self, project: str) -> bool:
        return self.projects is None or project in self.projects

    def leaves_out(self, projects: set[str] | dict[str, int]) -> frozenset[str]:
        """Which of ``projects`` this scope does not see."""
        if self.projects is None:
            return frozenset()
        return frozenset(p for p in projects if p not in self.projects)

    @property
    def label(self) -> str:
        """The scope as a caller names it: ``"*"``, ``""`` or the project."""
        if self.projects is None:
            return EVERY_PROJECT
        named = sorted(self.projects - {GLOBAL})
        return named[0] if named else GLOBAL


EVERYWHERE = ProjectScope(None)
