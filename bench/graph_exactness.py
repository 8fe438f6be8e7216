"""Whether the vector index's top 5 is exact on real vectors at a store size, straight through Chroma.

A collection is built as ours is (``storage/vectors.py``: ``INDEX_BUILD``, inner product) and searched ``--width``
wide (``SEARCH_WIDTH`` unless given). For each held-out query it checks two things against an exhaustive numpy
search over the same vectors:

- unfiltered: the index's top 5 is the exhaustive top 5 (what the graph itself gets right);
- a large language found by over-fetching, as dense search finds a language too large to scan: the first 5 of that
  language among the ``MIN_OVERFETCH`` nearest are its exhaustive top 5. Languages are drawn by share (python 50%,
  typescript 25%, other 25%), whatever the text says.

Random vectors cannot tell (HNSW gets 0% of them right even unfiltered): the vectors are the model's, of real text.

- ``--texts definitions``: function and class definitions of this venv's site-packages, at most ~600 characters
  (``filter_speed.code_snippets``; ~70 a second to encode here on two threads);
- ``--texts lines``: distinct source lines of the same files, 30–200 characters (~330 a second: the only real text
  of which 1,000,000 encode in under an hour on this machine).

Both query sets are measured on either store: 300 held-out lines (never stored) and 202 held-out definitions'
docstring or signature lines (``filter_speed``'s queries). Vectors are kept in ``--work`` (a stopped encode goes on
from its last 10,000) and so is each built collection, so a second run only measures. The width is read when a
process first loads the index: one width per run.

    .venv/bin/python bench/graph_exactness.py --texts lines --count 1000000 --sizes 100000,1000000 --work /tmp/g
    .venv/bin/python bench/graph_exactness.py --texts lines --count 1000000 --sizes 1000000 --work /tmp/g --width 400
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sysconfig
import time
from pathlib import Path
from typing import Any

import numpy as np
from filter_speed import code_snippets, model_vectors

from mcp_memory.app import configured_embedder
from mcp_memory.config import Settings
from mcp_memory.memory.dense import MIN_OVERFETCH
from mcp_memory.storage.chroma_import import import_chromadb
from mcp_memory.storage.vectors import INDEX_BUILD, SEARCH_WIDTH, SPACE

SHARES = {"python": 0.50, "typescript": 0.25, "other": 0.25}
FILTERED = ("python", "typescript")
HELD_LINES = 300
HELD_DEFINITIONS = 202
HELD_OUT_EVERY = 500  # a line whose text hashes to 0 modulo this is a query, never stored
MIN_LINE, MAX_LINE = 30, 200
ADD_BATCH = 5000
TOP = 5


def source_lines(stored: int, held: int) -> tuple[list[str], list[str]]:
    """``stored`` distinct stripped lines and ``held`` held-out ones, the same on every run: the site-packages'
    ``.py`` files sorted, then shuffled with a fixed seed; each file's lines in order."""
    root = Path(sysconfig.get_paths()["purelib"])
    paths = sorted(root.rglob("*.py"))
    seen: set[str] = set()
    kept: list[str] = []
    queries: list[str] = []
    for at in np.random.default_rng(0).permutation(len(paths)):
        if len(kept) >= stored and len(queries) >= held:
            break
        try:
            lines = paths[at].read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            text = line.strip()[:MAX_LINE]
            if len(text) < MIN_LINE or text in seen:
                continue
            seen.add(text)
            if int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") % HELD_OUT_EVERY:
                kept.append(text)
            else:
                queries.append(text)
    if len(kept) < stored or len(queries) < held:
        raise SystemExit(f"{root} holds {len(kept):,} distinct lines and {len(queries):,} queries: fewer than asked")
    return kept[:stored], queries[:held]


def digest(texts: list[str]) -> str:
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]


def collection(work: Path, texts: str, width: int, rows: Any, languages: Any) -> Any:
    """The collection of ``rows`` labelled with ``languages``, built once in ``work`` (its build time printed) and
    set to search ``width`` wide before anything loads it."""
    size = len(rows)
    chromadb = import_chromadb()
    client = chromadb.PersistentClient(path=str(work / f"chroma-{texts}-{size}"))
    found = client.get_or_create_collection(
        "exactness",
        metadata={"hnsw:space": SPACE, **INDEX_BUILD, "hnsw:search_ef": width},
        embedding_function=None,
    )
    found.modify(configuration={"hnsw": {"ef_search": width}})
    if found.count() < size:
        started = time.perf_counter()
        for first in range(found.count() // ADD_BATCH * ADD_BATCH, size, ADD_BATCH):
            last = min(size, first + ADD_BATCH)
            found.add(
                ids=[f"v{i}" for i in range(first, last)],
                embeddings=rows[first:last],
                metadatas=[{"language": str(language)} for language in languages[first:last]],
            )
        print(f"{size:,} {texts}: built in {time.perf_counter() - started:.0f} s", flush=True)
    return found


def sample(vectors: Any, size: int) -> tuple[Any, Any]:
    """``size`` of ``vectors`` (the same ones on every run) and a language for each, drawn by share."""
    rng = np.random.default_rng(7)
    chosen = np.sort(rng.permutation(len(vectors))[:size]) if size < len(vectors) else np.arange(size)
    rows = np.ascontiguousarray(vectors[chosen], dtype=np.float32)
    return rows, rng.choice(list(SHARES), size=size, p=list(SHARES.values()))


def measure(found: Any, rows: Any, languages: Any, queries: Any) -> tuple[dict[str, float], float, float]:
    """Share of queries whose top 5 is exact (unfiltered, then each over-fetched language), and the p50 ms of a
    query for 5 and for ``MIN_OVERFETCH``."""
    language_of = dict(zip((f"v{i}" for i in range(len(rows))), languages, strict=True))
    exact = {"unfiltered": 0, **dict.fromkeys(FILTERED, 0)}
    for_five: list[float] = []
    for_overfetch: list[float] = []
    for query in queries:
        similarities = rows @ query
        started = time.perf_counter()
        got = found.query(query_embeddings=[query], n_results=TOP, include=["distances"])["ids"][0]
        for_five.append(time.perf_counter() - started)
        exact["unfiltered"] += set(got) == {f"v{i}" for i in np.argsort(-similarities)[:TOP]}
        started = time.perf_counter()
        wide = found.query(query_embeddings=[query], n_results=MIN_OVERFETCH, include=["distances"])["ids"][0]
        for_overfetch.append(time.perf_counter() - started)
        for language in FILTERED:
            best = np.argsort(-np.where(languages == language, similarities, -9.0))[:TOP]
            kept = [item for item in wide if language_of[item] == language][:TOP]
            exact[language] += set(kept) == {f"v{i}" for i in best}
    shares = {name: count / len(queries) for name, count in exact.items()}
    return shares, statistics.median(for_five) * 1000, statistics.median(for_overfetch) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", choices=("lines", "definitions"), default="lines")
    parser.add_argument("--count", type=int, default=100_000, help="Texts encoded; every size is a sample of them.")
    parser.add_argument("--sizes", default="100000", help="Store sizes, comma-separated (at most --count).")
    parser.add_argument("--width", type=int, default=SEARCH_WIDTH, help=f"Search width (default {SEARCH_WIDTH}).")
    parser.add_argument("--work", type=Path, default=Path("/tmp/graph-exactness"))
    parser.add_argument("--threads", type=int, default=2, help="Encoding threads (default 2).")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    settings = Settings(seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    embedder = configured_embedder(settings, batch_threads=args.threads)

    if args.texts == "lines":
        texts, _ = source_lines(args.count, 0)
    else:
        texts, _ = code_snippets(args.count, 0)
    line_queries = source_lines(0, HELD_LINES)[1]
    definition_queries = code_snippets(0, HELD_DEFINITIONS)[1]
    vectors = model_vectors(embedder, texts, args.work / f"vectors-{args.texts}-{args.count}-{digest(texts)}.npy")
    query_sets = {
        f"{HELD_LINES} held-out lines": embedder.encode_batch(line_queries),
        f"{HELD_DEFINITIONS} held-out definitions": embedder.encode_batch(definition_queries),
    }
    for size in (int(size) for size in args.sizes.split(",")):
        rows, languages = sample(vectors, size)
        found = collection(args.work, args.texts, args.width, rows, languages)
        for name, queries in query_sets.items():
            shares, five, wide = measure(found, rows, languages, queries)
            exact = ", ".join(f"{key} {share:.1%}" for key, share in shares.items())
            print(
                f"{size:,} {args.texts}, width {args.width}, {name}: top {TOP} exact {exact}; "
                f"p50 {five:.1f} ms for {TOP}, {wide:.1f} ms for {MIN_OVERFETCH}",
                flush=True,
            )


if __name__ == "__main__":
    main()
