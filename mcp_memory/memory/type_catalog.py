"""What the catalog keeps of one memory type, and of one memory: its facts, the indexes over them, and the reads of
a language under way (``catalog`` builds and follows them)."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp_memory.memory.word_index import BM25Index
from mcp_memory.models import MemoryType
from mcp_memory.words import code_tokens

if TYPE_CHECKING:
    from mcp_memory.memory.vector_cache import LanguageVectors

MAX_LEXICAL_CHARS = 4000


@dataclass(frozen=True)
class Facts:
    """What the catalog keeps of one memory."""

    language: str
    signature: str | None
    words: str | None  # text for the word index; None when the type has none
    project: str = ""


def facts_from_metadata(memory_type: MemoryType, metadata: dict[str, Any], with_words: bool) -> Facts:
    """The catalog facts of a stored memory, from its Chroma metadata."""
    language = str(metadata.get("language") or "")
    project = str(metadata.get("project") or "")
    if memory_type != "error":
        return Facts(language, None, None, project)
    fields = json.loads(metadata.get("fields_json") or "{}")
    error = str(fields.get("error_message") or metadata.get("title") or "")
    signature = metadata.get("signature")
    if not isinstance(signature, str):  # stored before signatures were recorded
        from mcp_memory.memory.error_signature import error_signature

        signature = error_signature(error)
    return Facts(language, signature or None, error[:MAX_LEXICAL_CHARS] if with_words else None, project)


class Reading:
    """A read of one language from the store (its ids from the database, its vectors from Chroma), made outside the
    catalog's lock (seconds at a million memories, while every recall of the type would wait for the lock): the
    writes to the catalog meanwhile, applied after it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.writes: list[tuple[str, Any]] = []  # (id, its vector) when put — None when unknown — or (id, DROPPED)


DROPPED = object()


class TypeCatalog:
    """The catalog of one collection: complete (every memory's facts, for types with a word index) or lazy
    (only the languages asked for, each read once: its ids from the database)."""

    def __init__(self, with_words: bool) -> None:
        self.lock = threading.RLock()
        self.complete = with_words
        self.facts: dict[str, Facts] = {}
        self.by_language: dict[str, set[str]] = {}
        self.by_signature: dict[str, set[str]] = {}
        self.words: BM25Index | None = BM25Index() if with_words else None
        self.vectors: dict[str, LanguageVectors] = {}  # rare language -> its vectors
        self.reading_ids: dict[str, Reading] = {}  # languages whose ids are being read (lazy catalogs)
        self.reading_vectors: dict[str, Reading] = {}  # languages whose vectors are being read
        self.snapshots: dict[str, frozenset[str]] = {}  # by_language, frozen for readers; dropped on change
        self.count: tuple[float, int] | None = None  # (when, collection size) of a lazy catalog
        self.project_of: dict[str, str] = {}  # id -> project, for memories of a project (global ones are not listed)
        self.by_project: dict[str, set[str]] = {}
        self.projects_read = with_words  # a complete catalog knows every memory's project from its facts
        self.synced_at = 0.0
        self.loaded = threading.Event()
        self.failed = False

    def put(self, item_id: str, facts: Facts, vector: Sequence[float] | None) -> None:
        with self.lock:
            self.drop(item_id)
            self.snapshots.pop(facts.language, None)
            if self.complete:
                self.facts[item_id] = facts
                self.by_language.setdefault(facts.language, set()).add(item_id)
            elif facts.language in self.by_language:  # a lazy catalog follows only the languages it read
                self.by_language[facts.language].add(item_id)
            if facts.signature:
                self.by_signature.setdefault(facts.signature, set()).add(item_id)
            if facts.project and self.projects_read:
                self.project_of[item_id] = facts.project
                self.by_project.setdefault(facts.project, set()).add(item_id)
            if self.words is not None and facts.words is not None:
                self.words.add(item_id, code_tokens(facts.words))
            cached = self.vectors.get(facts.language)
            if cached is not None:
                if vector is None:  # a vector we were not given: load the language again when next needed
                    del self.vectors[facts.language]
                else:
                    cached.put(item_id, vector)
            for readings in (self.reading_ids, self.reading_vectors):
                reading = readings.get(facts.language)
                if reading is not None:
                    reading.writes.append((item_id, vector))

    def drop(self, item_id: str) -> None:
        with self.lock:
            facts = self.facts.pop(item_id, None)
            languages = [facts.language] if facts is not None else list(self.by_language)
            for language in languages:
                members = self.by_language.get(language)
                if members is not None and item_id in members:
                    members.discard(item_id)
                    self.snapshots.pop(language, None)
                    if not members and self.complete:
                        del self.by_language[language]
            if facts is not None and facts.signature:
                _discard(self.by_signature, facts.signature, item_id)
            project = self.project_of.pop(item_id, None)
            if project is not None:
                _discard(self.by_project, project, item_id)
            if self.words is not None:
                self.words.remove(item_id)
            for cached in self.vectors.values():
                if cached.remove(item_id):
                    break
            for reading in (*self.reading_ids.values(), *self.reading_vectors.values()):
                reading.writes.append((item_id, DROPPED))

    def signature_ids(self, signature: str) -> set[str]:
        with self.lock:
            return set(self.by_signature.get(signature, ()))

    def cached_bytes(self) -> int:
        return sum(cached.nbytes for cached in self.vectors.values())


def _discard(index: dict[str, set[str]], key: str, item_id: str) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(item_id)
        if not members:
            del index[key]
