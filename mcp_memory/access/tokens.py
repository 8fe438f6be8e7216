"""Who is calling: bearer tokens that name agents, and per-agent request rate limits."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from mcp_memory.errors import InvalidInput, MemoryStoreError

logger = logging.getLogger(__name__)


class RateLimited(MemoryStoreError):
    """An agent sent more requests per second than allowed."""


ROLES = ("reader", "writer", "admin")
DEFAULT_ROLE = "writer"


def parse_tokens(text: str, source: str) -> dict[str, tuple[str, str]]:
    """``name:token[:role]`` entries (comma- or newline-separated; ``#`` comments) as a token → (agent, role) map.
    The role is reader, writer (the default) or admin."""
    tokens: dict[str, tuple[str, str]] = {}
    for number, raw in enumerate(text.replace(",", "\n").splitlines(), start=1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        name, sep, token = entry.partition(":")
        name, token, role = name.strip(), token.strip(), DEFAULT_ROLE
        head, colon, tail = token.rpartition(":")
        if colon and tail.strip() in ROLES:
            token, role = head.strip(), tail.strip()
        if not sep or not name or not token:
            raise InvalidInput(
                source, f"entry {number} is not 'agent-name:token[:role]'.", "Write e.g. agent-a:s3cret:writer."
            )
        if len(token) < 8:
            raise InvalidInput(
                source, f"the token of '{name}' is shorter than 8 characters.", "Use a long random token."
            )
        tokens[token] = (name, role)
    return tokens


class AgentTokens:
    """Tokens from ``MCP_MEMORY_TOKENS`` and a tokens file; the file is re-read when it changes, so
    removing a line revokes that token without a restart."""

    def __init__(self, inline: str | None, file: Path | None) -> None:
        self._inline = parse_tokens(inline, "MCP_MEMORY_TOKENS") if inline else {}
        self._file = file
        self._file_tokens: dict[str, tuple[str, str]] = {}
        self._file_stamp: tuple[float, int] | None = None
        self._lock = threading.Lock()
        if file is not None:
            if not file.is_file():
                raise InvalidInput("MCP_MEMORY_TOKENS_FILE", f"{file} does not exist.")
            self._reload_file(starting=True)

    @property
    def configured(self) -> bool:
        return bool(self._inline) or self._file is not None

    def _reload_file(self, starting: bool = False) -> None:
        assert self._file is not None
        try:
            stat = self._file.stat()
        except OSError:
            self._file_tokens, self._file_stamp = {}, None  # a deleted file revokes its tokens
            return
        stamp = (stat.st_mtime, stat.st_size)
        if stamp == self._file_stamp:
            return
        try:
            self._file_tokens = parse_tokens(self._file.read_text(), "MCP_MEMORY_TOKENS_FILE")
        except (InvalidInput, OSError, UnicodeDecodeError) as exc:
            if starting:
                raise  # there is no good set to keep yet
            # A half-written or mistyped file must not lock every agent out: keep serving the last good tokens.
            logger.warning("%s: %s; the tokens read before stay in use until the file is fixed", self._file, exc)
        self._file_stamp = stamp

    def agent_for(self, token: str) -> str | None:
        """The agent name a token belongs to, or None; compared in constant time."""
        found = self.identity_for(token)
        return found[0] if found else None

    def identity_for(self, token: str) -> tuple[str, str] | None:
        """The (agent, role) a token belongs to, or None."""
        return self._agent_matching(token, lambda known: known)

    def agent_for_digest(self, digest: str) -> str | None:
        """The agent whose token has this SHA-256 hex digest (a stored login session's), or None."""
        found = self._agent_matching(digest, lambda known: hashlib.sha256(known.encode()).hexdigest())
        return found[0] if found else None

    def _agent_matching(self, presented: str, form: Callable[[str], str]) -> tuple[str, str] | None:
        """The (agent, role) whose token, put in ``form``, equals ``presented``; every token is compared, in
        constant time."""
        with self._lock:
            if self._file is not None:
                self._reload_file()
            known = {**self._inline, **self._file_tokens}
        found = None
        for candidate, identity in known.items():
            if hmac.compare_digest(form(candidate).encode(), presented.encode()):
                found = identity
        return found


@functools.lru_cache(maxsize=16)
def shared_tokens(inline: str | None, file: Path | None) -> AgentTokens:
    """One ``AgentTokens`` per configuration in a process, so /mcp and the console follow one file (and warn once)."""
    return AgentTokens(inline, file)


class RateLimiter:
    """A token bucket per agent: ``burst`` requests at once, refilled at ``per_second``."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, agent: str) -> None:
        if self.per_second <= 0:
            return
        now = time.monotonic()
        with self._lock:
            level, last = self._buckets.get(agent, (float(self.burst), now))
            level = min(float(self.burst), level + (now - last) * self.per_second)
            if level < 1.0:
                wait = (1.0 - level) / self.per_second
                self._buckets[agent] = (level, now)
                raise RateLimited(
                    f"Rate limit: agent '{agent}' sent more than {self.per_second:g} requests/s "
                    f"(burst {self.burst}). Retry in {wait:.2f} s."
                )
            self._buckets[agent] = (level - 1.0, now)
