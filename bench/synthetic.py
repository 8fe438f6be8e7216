"""Synthetic but realistic memories for benchmarks: code patterns, error fixes and solutions in many languages.

Texts come from templates filled with varied identifiers, packages and errors, so every memory has its own
content hash. Vectors for large stores are precomputed: a few thousand template texts are embedded with the
real model, and each memory gets its family's vector plus small noise, renormalized — clusters of near
neighbours like a real store has, without encoding a million texts. Export files written here are what
``mcp-memory export --with-embeddings`` writes, so loading them runs the product's own import.
"""

from __future__ import annotations

import base64
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mcp_memory.memory.drafts import error_draft, pattern_draft, solution_draft
from mcp_memory.memory.records import MemoryDraft, content_hash, memory_id, new_metadata
from mcp_memory.storage.embeddings import DIMENSION, MODEL_NAME

LANGUAGES = [
    ("python", 35),
    ("typescript", 20),
    ("javascript", 12),
    ("go", 8),
    ("java", 8),
    ("rust", 6),
    ("csharp", 4),
    ("cpp", 4),
    ("ruby", 2),
    ("kotlin", 1),
]
FILTER_LANGUAGE = "go"  # about 8% of the memories: a selective filter, as an agent's language filter is
TYPES = [("pattern", 60), ("error", 25), ("solution", 15)]
NOUNS = [
    "user",
    "order",
    "invoice",
    "session",
    "token",
    "upload",
    "cache",
    "queue",
    "report",
    "payment",
    "config",
    "message",
    "account",
    "product",
    "job",
    "event",
    "file",
    "image",
    "search",
    "metric",
]
VERBS = [
    "fetch",
    "validate",
    "parse",
    "retry",
    "serialize",
    "paginate",
    "debounce",
    "cache",
    "stream",
    "batch",
    "authenticate",
    "rate_limit",
    "sanitize",
    "schedule",
    "migrate",
    "compress",
    "sign",
    "index",
]
PATTERNS = [
    "Retry with exponential backoff",
    "Repository over the database",
    "Circuit breaker",
    "Dependency injection",
    "Async context manager",
    "Builder for {noun} objects",
    "Cursor pagination",
    "Idempotent {noun} handler",
    "Token bucket rate limiter",
    "Event sourcing for {noun}s",
    "Observer for {noun} changes",
    "LRU cache",
]
ERRORS = [
    "ModuleNotFoundError: No module named '{pkg}'",
    "TypeError: 'NoneType' object is not subscriptable in {verb}_{noun}",
    "KeyError: '{noun}_id' while loading {noun}",
    "ConnectionRefusedError: [Errno 111] Connection refused to {pkg}:{port}",
    "TimeoutError: {verb} {noun} took longer than {port} ms",
    "error[E0382]: borrow of moved value: `{noun}`",
    "TS2339: Property '{verb}' does not exist on type '{Noun}'",
    "panic: runtime error: invalid memory address or nil pointer dereference in {Noun}{Verb}",
    'java.lang.NullPointerException: Cannot invoke "{Noun}.{verb}()" because "{noun}" is null',
    "sqlite3.OperationalError: database is locked during {verb}_{noun}",
]
PACKAGES = [
    "requests",
    "fastapi",
    "numpy",
    "pydantic",
    "redis",
    "boto3",
    "httpx",
    "sqlalchemy",
    "celery",
    "django",
    "flask",
    "pandas",
    "uvicorn",
    "aiohttp",
    "jwt",
    "yaml",
    "grpc",
    "kafka",
    "psycopg",
    "stripe",
]


def _fill(template: str, rng: random.Random) -> str:
    noun, verb = rng.choice(NOUNS), rng.choice(VERBS)
    return template.format(
        noun=noun,
        Noun=noun.title(),
        verb=verb,
        Verb=verb.title(),
        pkg=rng.choice(PACKAGES),
        port=rng.randint(1000, 9999),
    )


def _code(language: str, name: str, rng: random.Random) -> str:
    noun = rng.choice(NOUNS)
    body = {
        "python": f"def {name}({noun}, retries=3):\n    for attempt in range(retries):\n        try:\n"
        f"            return client.{rng.choice(VERBS)}({noun})\n        except TimeoutError:\n"
        f"            time.sleep(2 ** attempt)\n    raise RuntimeError('{noun} failed')\n",
        "go": f"func {name.title().replace('_', '')}(ctx context.Context, {noun} *{noun.title()}) error {{\n"
        f'\tif {noun} == nil {{\n\t\treturn errors.New("nil {noun}")\n\t}}\n\treturn store.Save(ctx, {noun})\n}}\n',
        "rust": f"pub fn {name}({noun}: &{noun.title()}) -> Result<(), Error> {{\n    let v = {noun}.validate()?;\n"
        f"    repo.save(v).map_err(Error::from)\n}}\n",
    }.get(
        language,
        f"export async function {name}({noun}: {noun.title()}): Promise<void> {{\n"
        f"  const res = await api.{rng.choice(VERBS)}({noun});\n  if (!res.ok) throw new Error('{noun}');\n}}\n",
    )
    return body + f"// {rng.getrandbits(64):016x}\n"


def draft(index: int, seed: int = 7) -> tuple[MemoryDraft, int]:
    """The ``index``-th synthetic memory and its template family (the same index always gives the same memory)."""
    rng = random.Random(seed * 1_000_003 + index)
    memory_type = rng.choices([t for t, _ in TYPES], [w for _, w in TYPES])[0]
    language = rng.choices([name for name, _ in LANGUAGES], [w for _, w in LANGUAGES])[0]
    if memory_type == "pattern":
        family = rng.randrange(len(PATTERNS))
        name = _fill(PATTERNS[family], rng)
        code = _code(language, f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}", rng)
        return pattern_draft(
            name,
            code,
            language,
            f"Used when {rng.choice(VERBS)}ing {rng.choice(NOUNS)}s.",
            {"success_rate": round(rng.random(), 2)},
            [rng.choice(NOUNS)],
        ), family
    if memory_type == "error":
        family = rng.randrange(len(ERRORS))
        message = _fill(ERRORS[family], rng) + f" (#{rng.getrandbits(32):08x})"
        return error_draft(
            message,
            f"while running {rng.choice(VERBS)}_{rng.choice(NOUNS)} tests",
            f"pip install {rng.choice(PACKAGES)} and restart",
            rng.random() > 0.2,
            language,
        ), 100 + family
    family = rng.randrange(len(PATTERNS))
    problem = f"How to {rng.choice(VERBS)} {rng.choice(NOUNS)}s safely ({rng.getrandbits(32):08x})"
    return solution_draft(
        problem, _code(language, f"{rng.choice(VERBS)}_all", rng), language, "", {"success": True}
    ), 200 + family


def family_vectors(families: dict[int, str], embed: Any) -> dict[int, np.ndarray]:
    """One real embedding per template family (a representative text of it)."""
    keys = sorted(families)
    vectors = embed([families[k] for k in keys])
    return {k: np.asarray(v, dtype=np.float32) for k, v in zip(keys, vectors, strict=True)}


def noisy(base: np.ndarray, rng: np.random.Generator, scale: float = 0.6) -> np.ndarray:
    """A unit vector near ``base`` (cosine about 0.85 for the default scale)."""
    vector = base + rng.normal(0, scale / np.sqrt(DIMENSION), DIMENSION).astype(np.float32)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def representatives(count: int = 100_000, seed: int = 7) -> dict[int, str]:
    """A text per template family, from the first memories of each."""
    found: dict[int, str] = {}
    families = len(PATTERNS) * 2 + len(ERRORS)
    for index in range(count):
        if len(found) == families:
            break
        memory, family = draft(index, seed)
        found.setdefault(family, memory.embed_text)
    return found


def memory_lines(count: int, vectors: dict[int, np.ndarray] | None, seed: int = 7, start: int = 0) -> Iterator[str]:
    """Export-file lines (header first) for memories ``start .. start+count``; with vectors when given."""
    yield json.dumps(
        {"kind": "header", "format": "mcp-memory", "version": 1, "model": MODEL_NAME, "dimension": DIMENSION}
    )
    noise = np.random.default_rng(seed)
    for index in range(start, start + count):
        memory, family = draft(index, seed)
        digest = content_hash(memory.type, memory.identity_text)
        line: dict[str, Any] = {
            "kind": "memory",
            "id": memory_id(memory.type, digest),
            "type": memory.type,
            "content": memory.content,
            "metadata": new_metadata(memory, digest),
        }
        if vectors is not None:
            line["embedding"] = base64.b64encode(noisy(vectors[family], noise).tobytes()).decode("ascii")
        yield json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def write_export(path: Path, count: int, vectors: dict[int, np.ndarray] | None, seed: int = 7) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for line in memory_lines(count, vectors, seed):
            out.write(line + "\n")
    return path


def import_export(path: Path, data_dir: Path, env: dict[str, str]) -> tuple[dict[str, Any], float]:
    """``mcp-memory import`` of an export file into ``data_dir`` as a process: its JSON report, and the seconds."""
    start = time.perf_counter()
    command = ["import", str(path), "--data-dir", str(data_dir), "--json", "--batch-size", "2000"]
    done = subprocess.run(
        [sys.executable, "-m", "mcp_memory", *command],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(done.stdout), time.perf_counter() - start
