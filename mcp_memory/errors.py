"""Domain errors. The MCP edge turns each into a tool error the agent can act on."""


def find_in(exc: BaseException, kinds: type[BaseException] | tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of ``kinds`` in ``exc``: itself, its causes, or one raised in a task group."""
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if isinstance(current, kinds):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
    return None


class MemoryStoreError(Exception):
    """Base class for every expected failure of the memory services."""


class InvalidInput(MemoryStoreError):
    """An argument is wrong: names the field, the problem and what to do instead."""

    def __init__(self, field: str, problem: str, fix: str = "") -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        text = f"Invalid '{field}': {problem}"
        if fix:
            text += f" {fix}"
        super().__init__(text)


class NotFound(MemoryStoreError):
    """Something asked for by id does not exist."""


class Conflict(MemoryStoreError):
    """The request contradicts the current state (an ended episode, a model mismatch)."""


class Unavailable(MemoryStoreError):
    """The store or a server behind it cannot be reached now; retrying later may work."""


class Forbidden(MemoryStoreError):
    """The caller's role or ownership does not allow this (e.g. a writer deleting another agent's memory)."""


class CannotStart(Unavailable):
    """The store cannot be opened or the server cannot listen: the message names the cause and the fix."""


class StoreDamaged(CannotStart):
    """A store file cannot be read: retrying will not mend it; whoever runs the server must (the message says how)."""
