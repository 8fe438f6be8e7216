"""What an ended episode is remembered by: its salient events, files, errors, and the texts that recall it.

Measured on real agent runs (same-code recall): a dense vector over files changed, the first and last
steps and the task beats one over the task alone, and BM25 over task + every step's words adds to it.
So the digest keeps both: a short summary text to embed and a token stream for the lexical index.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field

from mcp_memory.memory.error_signature import exception_line
from mcp_memory.words import code_tokens

# Keys read first when an event is turned into words: the ones agents put their reasoning and actions in.
# fmt: off
TEXT_KEYS = (
    "summary", "thought", "message", "description", "decision", "action", "command", "cmd", "code",
    "error", "error_message", "exception", "traceback", "reason", "result", "observation", "output",
    "stdout", "stderr",
)
# fmt: on
ERROR_KEYS = ("error", "error_message", "exception", "traceback")
ERROR_TEXT_KEYS = (*ERROR_KEYS, "message", "stderr", "observation", "output", "stdout", "result")
FILE_KEYS = ("file", "files", "path", "paths", "filename", "filenames", "files_changed", "changed_files")
EXIT_KEYS = ("returncode", "return_code", "exit_code", "exitcode")
FAILURE_FLAGS = ("success", "passed", "ok")
ERROR_WORDS = ("error", "fail", "exception", "crash", "traceback")
RESOLVED_WORDS = ("fix", "resolv", "recover")  # "error_fixed" reports a success, not an error

VALUE_CHARS = 300
EVENT_CHARS = 1000
LEXICAL_CHARS = 200_000
MAX_FILES = 50
MAX_ERRORS = 20
PRECEDING = 3


class EventBrief(BaseModel):
    """One event, shortened for a summary."""

    seq: int
    event_type: str
    agent_role: str
    text: str


class ErrorBrief(EventBrief):
    """An event that reported an error, with the line that names it."""

    message: str


class EpisodeDigest(BaseModel):
    """The salient facts of an ended episode, computed once when it ends."""

    event_count: int = 0
    agent_roles: list[str] = Field(default_factory=list)
    event_types: dict[str, int] = Field(default_factory=dict)
    files_changed: list[str] = Field(default_factory=list)
    first_events: list[EventBrief] = Field(default_factory=list)
    last_events: list[EventBrief] = Field(default_factory=list)
    errors: list[ErrorBrief] = Field(default_factory=list)
    error_count: int = 0
    failure: ErrorBrief | None = Field(default=None, description="The last error, where a failed episode broke.")
    before_failure: list[EventBrief] = Field(default_factory=list, description="The events just before it.")


def event_text(event_type: str, data: Mapping[str, Any], limit: int = EVENT_CHARS) -> str:
    """An event in words: its type, then its data (see ``data_text``)."""
    return _shorten(f"{event_type} · {data_text(data, limit)}", limit)


def data_text(data: Mapping[str, Any], limit: int = EVENT_CHARS) -> str:
    """Event data in words, the keys agents usually write prose and commands in first, on one line."""
    parts: list[str] = []
    keys = [k for k in TEXT_KEYS if k in data] + [k for k in data if k not in TEXT_KEYS]
    for key in keys:
        value = data[key]
        if value is None or value == "" or value == [] or value == {}:
            continue
        rendered = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        parts.append(f"{key}: {_shorten(' '.join(rendered[: 2 * VALUE_CHARS].split()), VALUE_CHARS)}")
    return _shorten(" · ".join(parts), limit)


def is_error_event(event_type: str, data: Mapping[str, Any]) -> bool:
    """An event reports an error by its type, an error field, a non-zero exit code or a false success flag."""
    lowered = event_type.lower()
    if any(word in lowered for word in ERROR_WORDS) and not any(word in lowered for word in RESOLVED_WORDS):
        return True
    if any(data.get(key) for key in ERROR_KEYS):
        return True
    for key in EXIT_KEYS:
        code = data.get(key)
        if isinstance(code, int) and not isinstance(code, bool) and code != 0:
            return True
    return any(data.get(key) is False for key in FAILURE_FLAGS)


def error_message(event_type: str, data: Mapping[str, Any]) -> str:
    """The line naming the error in an error event (an exception line when there is one)."""
    for key in ERROR_TEXT_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return _shorten(exception_line(value), VALUE_CHARS)
    return _shorten(event_text(event_type, data), VALUE_CHARS)


def files_in(data: Mapping[str, Any]) -> list[str]:
    """File paths an event names under the usual keys."""
    found: list[str] = []
    for key in FILE_KEYS:
        value = data.get(key)
        values = value if isinstance(value, list) else [value]
        found.extend(v.strip() for v in values if isinstance(v, str) and v.strip() and len(v) < 500)
    return found


class DigestBuilder:
    """Reads an episode's events once, in order, keeping only what the digest and lexical index need."""

    def __init__(self, task: str, metrics: Mapping[str, Any], summary: str) -> None:
        self._digest = EpisodeDigest()
        self._roles: dict[str, None] = {}
        self._files: dict[str, None] = dict.fromkeys(files_in(metrics))
        self._recent: deque[EventBrief] = deque(maxlen=PRECEDING + 1)
        self._words: list[str] = [summary]
        self._word_chars = len(summary)
        self._task = task

    def add(self, seq: int, event_type: str, agent_role: str, data: Mapping[str, Any]) -> None:
        digest = self._digest
        text = data_text(data)
        brief = EventBrief(seq=seq, event_type=event_type, agent_role=agent_role, text=text)
        digest.event_count += 1
        digest.event_types[event_type] = digest.event_types.get(event_type, 0) + 1
        self._roles.setdefault(agent_role)
        for path in files_in(data):
            self._files.setdefault(path)
        if len(digest.first_events) < 2:
            digest.first_events.append(brief)
        self._recent.append(brief)
        if is_error_event(event_type, data):
            error = ErrorBrief(**brief.model_dump(), message=error_message(event_type, data))
            digest.error_count += 1
            if len(digest.errors) < MAX_ERRORS:
                digest.errors.append(error)
            else:  # keep the first half and the most recent: the later errors are the ones that ended it
                digest.errors[MAX_ERRORS // 2 :] = [*digest.errors[MAX_ERRORS // 2 + 1 :], error]
            digest.failure = error
            digest.before_failure = list(self._recent)[:-1]
        if self._word_chars < LEXICAL_CHARS:
            self._words.append(f"{event_type} {text}")
            self._word_chars += len(text)

    def finish(self, success: bool) -> EpisodeDigest:
        digest = self._digest
        digest.agent_roles = list(self._roles)
        digest.files_changed = list(self._files)[:MAX_FILES]
        digest.last_events = [e for e in list(self._recent)[-2:] if e not in digest.first_events]
        if success:
            digest.failure, digest.before_failure = None, []
        elif digest.failure is None and self._recent:  # failed without an error event: it broke at the end
            last = self._recent[-1]
            digest.failure = ErrorBrief(**last.model_dump(), message="")
            digest.before_failure = list(self._recent)[:-1]
        return digest

    def lexical_events(self) -> str:
        return " ".join(self._words)


def embed_text(task: str, summary: str, digest: EpisodeDigest) -> str:
    """What the episode vector is made of; the model reads ~256 word pieces, so the rarest facts come first."""
    lines: list[str] = []
    if digest.files_changed:
        lines.append("Files: " + ", ".join(digest.files_changed[:10]))
    if summary.strip():
        lines.append(_shorten(summary, 400))
    lines += [_shorten(f"{e.event_type} · {e.text}", VALUE_CHARS) for e in digest.first_events[:1]]
    lines += [_shorten(f"{e.event_type} · {e.text}", VALUE_CHARS) for e in digest.last_events[-1:]]
    if digest.errors:
        lines.append("Error: " + digest.errors[-1].message)
    lines.append(task)
    return "\n".join(lines)


def token_text(*texts: str) -> str:
    """Texts as space-separated tokens, the form the lexical index stores."""
    return " ".join(t for text in texts for t in code_tokens(text))


def query_terms(text: str) -> list[str]:
    """Distinct tokens of a query, in order of first appearance."""
    return list(dict.fromkeys(code_tokens(text)))


def _shorten(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def iter_briefs(events: Iterable[EventBrief]) -> list[str]:
    """One line per event, for summaries and advice."""
    return [f"#{e.seq} {e.event_type} ({e.agent_role}): {_shorten(e.text, 200)}" for e in events]
