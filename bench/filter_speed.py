"""Language-filtered recall at a store size: its speed against unfiltered recall, and whether it is exact.

The store is filled as ``mcp-memory import`` writes (``MemoryStore.add_missing``: rows, then vectors; the
catalog follows every write) with code patterns in eight languages of very different shares. Their vectors —
and the query vectors — are precomputed random unit vectors, not model output: the cost of finding neighbours does not
depend on what the vectors mean, and this keeps the model's ~12 ms encode out of the comparison. Every
timed call is a full ``MemoryService.recall`` (what ``recall_similar_patterns`` runs) minus that encode;
a filtered and an unfiltered recall alternate query by query, so both see the same load.

Exact: the share of queries whose top 5 from the dense search (the ids ranking starts from) equals an
exhaustive numpy search over the stored vectors of that language — and, for the unfiltered row, of the
whole collection (what the HNSW index itself gets right).

    .venv/bin/python bench/filter_speed.py                                  # 10,000 and 100,000 (~5 min to fill)
    nice -n 19 .venv/bin/python bench/filter_speed.py --sizes 1000000 --store /tmp/filter-stores
    .venv/bin/python bench/filter_speed.py --sizes 100000 --where           # also Chroma's where filter alone

``--store DIR`` keeps each filled store in ``DIR/SIZE`` and measures a store found there without filling it.

``--vectors model`` measures real embeddings instead, which cluster where random vectors do not (HNSW is far
less exact on random 384-d vectors, even unfiltered). The patterns are then function and class definitions
from the ``.py`` files of this Python's site-packages (deduplicated, at most ~600 characters each; labelled
with languages as above, whatever their content), each stored with the model's vector of its code; the
queries are held-out definitions' first docstring line, or their signature line when they have no docstring,
encoded by the same model before timing. Such a store is kept in ``DIR/SIZE-model``, its vectors in
``DIR/vectors-SIZE-site-packages-DIGEST.npy`` (a second run does not encode again; a stopped encode goes on
from its last 10,000). Encoding is the slow part: 40–90 definitions/s here with ``--threads 2``.

    nice -n 5 .venv/bin/python bench/filter_speed.py --sizes 80000 --vectors model --store /tmp/filter-model --threads 2
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import statistics
import sys
import sysconfig
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from mcp_memory.app import MemoryApp, configured_embedder
from mcp_memory.config import Settings
from mcp_memory.memory import dense
from mcp_memory.memory.drafts import pattern_draft
from mcp_memory.memory.ranking import policy_for
from mcp_memory.memory.records import content_hash, draft_id, new_metadata, normalize_code
from mcp_memory.storage.embeddings import DIMENSION, Embedder
from mcp_memory.storage.store import StoredItem

SHARES = {
    "python": 0.50, "typescript": 0.25, "go": 0.12, "rust": 0.06, "java": 0.04, "ruby": 0.02,
    "kotlin": 0.008, "cobol": 0.002,
}  # fmt: skip
N_RESULTS = 5
BATCH = 2000
SNIPPET_CHARS = 600
MIN_SNIPPET_CHARS = 40
HELD_OUT_EVERY = 50  # a definition whose text hashes to 0 modulo this is a query's source, never stored
MIN_DOCSTRING_LINE = 20
ENCODE_CHUNK = 10_000  # texts per encode call: its same-length batches fill up
EXTRA_QUERIES = ("warm-up", "first")  # recalled outside the measured queries (warm-up, first call)


class RandomVectors(Embedder):
    """Unit vectors derived from each text's hash: the same text always gets the same vector; no model."""

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        return [row.tolist() for row in self.encode_batch(texts)]

    def encode_batch(self, texts: Sequence[str]) -> Any:
        rows = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
            rows[i] = vector / np.linalg.norm(vector)
        return rows

    def load(self) -> None:
        return None


class LookupVectors(Embedder):
    """The model's vectors of known texts, computed beforehand: a timed recall does not run the model."""

    def __init__(self, texts: Sequence[str], rows: Any) -> None:
        super().__init__()
        self._rows = {text: row for text, row in zip(texts, rows, strict=True)}

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        return [row.tolist() for row in self.encode_batch(texts)]

    def encode_batch(self, texts: Sequence[str]) -> Any:
        missing = [text for text in texts if text not in self._rows]
        if missing:
            raise KeyError(f"no precomputed vector for {missing[0]!r}")
        return np.asarray([self._rows[text] for text in texts], dtype=np.float32)

    def load(self) -> None:
        return None


def _snippet(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    """A definition's lines, dedented, cut at a line end to at most SNIPPET_CHARS (a longer first line is cut)."""
    text = normalize_code("\n".join(lines[node.lineno - 1 : node.end_lineno]))
    if len(text) > SNIPPET_CHARS:
        cut = text.rfind("\n", 0, SNIPPET_CHARS + 1)
        text = normalize_code(text[:cut] if cut > 0 else text[:SNIPPET_CHARS])
    return text


def _query(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, text: str) -> str:
    """What a held-out definition is asked as: its docstring's first line, else its signature line."""
    docstring = ast.get_docstring(node) or ""
    first = docstring.strip().split("\n", 1)[0].strip()
    return first if len(first) >= MIN_DOCSTRING_LINE else text.split("\n", 1)[0].strip()


def code_snippets(stored: int, held: int) -> tuple[list[str], list[str]]:
    """The first ``stored`` definitions to store and ``held`` query texts from held-out ones, the same on every run:
    the site-packages' ``.py`` files sorted, then shuffled with a fixed seed; each file's definitions in ``ast.walk``
    order. Reading stops once there are enough, so a smaller size stores a prefix of a larger one's patterns."""
    root = Path(sysconfig.get_paths()["purelib"])
    paths = sorted(root.rglob("*.py"))
    order = np.random.default_rng(0).permutation(len(paths))
    seen: set[str] = set()
    kept: list[str] = []
    queries: list[str] = []
    for at in order:
        if len(kept) >= stored and len(queries) >= held:
            break
        try:
            source = paths[at].read_text(encoding="utf-8")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(source)
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError, RecursionError):
            continue
        lines = source.splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            text = _snippet(lines, node)
            if len(text) < MIN_SNIPPET_CHARS or text in seen:
                continue
            seen.add(text)
            if int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") % HELD_OUT_EVERY:
                kept.append(text)
                continue
            query = _query(node, text)
            if query not in seen:
                seen.add(query)
                queries.append(query)
    if len(kept) < stored or len(queries) < held:
        raise SystemExit(f"{root} holds {len(kept):,} definitions and {len(queries):,} queries: fewer than asked")
    return kept[:stored], queries[:held]


def model_vectors(embedder: Embedder, texts: list[str], cache: Path | None) -> Any:
    """The model's vectors of ``texts``, read from ``cache`` when it is there, else encoded and saved there (chunk by
    chunk beside it, so an encode that was stopped goes on where it stopped)."""
    if cache is not None and cache.exists():
        rows = np.load(cache)
        if len(rows) == len(texts):
            return rows
    partial = cache.with_suffix(".partial.npy") if cache is not None else None
    rows = np.empty((len(texts), DIMENSION), dtype=np.float32)
    start = 0
    if partial is not None and partial.exists():
        done_before = np.load(partial)
        start = len(done_before)
        rows[:start] = done_before
    started = time.perf_counter()
    for first in range(start, len(texts), ENCODE_CHUNK):
        last = min(len(texts), first + ENCODE_CHUNK)
        rows[first:last] = embedder.encode_batch(texts[first:last])
        if len(texts) > ENCODE_CHUNK:
            elapsed = time.perf_counter() - started
            rate = (last - start) / elapsed
            print(f"  encoded {last:,} of {len(texts):,}: {elapsed:.0f} s, {rate:.0f} texts/s", file=sys.stderr)
            if partial is not None and last < len(texts):
                partial.parent.mkdir(parents=True, exist_ok=True)
                np.save(partial, rows[:last])
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, rows)
        if partial is not None:
            partial.unlink(missing_ok=True)
    return rows


class Corpus:
    """Code definitions to store and held-out queries, with the model's vectors (stored ones only when asked)."""

    def __init__(self, size: int, queries: int, store_dir: Path | None, threads: int = 1) -> None:
        started = time.perf_counter()
        self.texts, self.queries = code_snippets(size, queries)
        print(
            f"  read {size:,} definitions and {queries} queries in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        self.store_dir = store_dir
        self.size = size
        settings = Settings(seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
        self._model = configured_embedder(settings, batch_threads=threads)
        self._stored: Any = None
        asked = [policy_for("pattern").query_text(text) for text in [*self.queries, *EXTRA_QUERIES]]
        self.lookup = LookupVectors(asked, model_vectors(self._model, asked, self._cache("queries", asked)))

    def _cache(self, kind: str, texts: list[str]) -> Path | None:
        if self.store_dir is None:
            return None
        digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:12]
        return self.store_dir / f"{kind}-{len(texts)}-site-packages-{digest}.npy"

    def vectors(self) -> Any:
        """The model's vector of every stored text, by row."""
        if self._stored is None:
            self._stored = model_vectors(self._model, self.texts, self._cache("vectors", self.texts))
        return self._stored


def fill(app: MemoryApp, size: int, start: int = 0, corpus: Corpus | None = None) -> float:
    """Patterns ``start`` .. ``size`` (a fill that was stopped goes on where it stopped), written the way
    ``mcp-memory import`` writes them: rows not yet present in one transaction per batch, then their vectors.
    ``remember_many`` commits row by row (it must tell each store's outcome): ~150 memories/s on this busy
    machine, too slow for a million; this path writes the same rows and vectors, and the catalog hears of each."""
    rng = np.random.default_rng(0)
    languages = rng.choice(list(SHARES), size=size, p=list(SHARES.values()))
    started = time.perf_counter()
    for first in range(start - start % BATCH, size, BATCH):
        last = min(size, first + BATCH)
        drafts = [
            pattern_draft(
                f"pattern {i}",
                corpus.texts[i] if corpus else f"def pattern_{i}():\n    return {i}\n",
                str(languages[i]),
                "",
                {},
                [],
            )
            for i in range(first, last)
        ]
        digests = [content_hash("pattern", draft.identity_text) for draft in drafts]
        items = [
            StoredItem(draft_id(d, h), d.content, new_metadata(d, h)) for d, h in zip(drafts, digests, strict=True)
        ]
        vectors = corpus.vectors()[first:last] if corpus else app.embedder.encode_batch([d.embed_text for d in drafts])
        app.store.add_missing("pattern", items, vectors)
        if (first // BATCH) % 25 == 0:
            elapsed = time.perf_counter() - started
            print(f"  filled {first + len(drafts):,} of {size:,} in {elapsed:.0f} s", file=sys.stderr)
    return time.perf_counter() - started


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def percentile(times: list[float], q: float) -> float:
    return float(np.percentile(times, q))


def stored_vectors(app: MemoryApp, language: str) -> tuple[list[str], Any]:
    """Every stored vector of the language, read from Chroma: what an exhaustive search compares against."""
    ids = sorted(app.memory.catalog.language_ids("pattern", language))
    kept: list[str] = []
    rows: list[Any] = []
    for first in range(0, len(ids), 5000):
        found = app.store.vectors("pattern", ids[first : first + 5000])
        kept += list(found)
        rows += list(found.values())
    return kept, np.asarray(rows, dtype=np.float32)


def exhaustive_top(ids: list[str], matrix: Any, query: Any) -> list[str]:
    similarities = matrix @ query
    if len(ids) <= N_RESULTS:
        return [ids[i] for i in np.argsort(-similarities)]
    best = np.argpartition(-similarities, N_RESULTS)[:N_RESULTS]
    return [ids[i] for i in best[np.argsort(-similarities[best])]]


def open_store(
    size: int, store_dir: Path | None, tmp: str, no_fill: bool = False, corpus: Corpus | None = None
) -> tuple[MemoryApp, str]:
    data_dir = store_dir / (f"{size}-model" if corpus else str(size)) if store_dir else Path(tmp)
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    app = MemoryApp(settings, embedder=corpus.lookup if corpus else RandomVectors())
    app.store.open()
    held = min(app.store.count("pattern"), app.store.index.collection("pattern").count())
    if held >= size or no_fill:
        return app, f"found in {data_dir}"
    filled = fill(app, size, held, corpus)
    return app, f"filled in {filled:.0f} s as an import writes" + (f", from {held:,}" if held else "")


def measure(
    size: int,
    queries: int,
    store_dir: Path | None,
    with_where: bool,
    no_fill: bool,
    languages: list[str],
    corpus: Corpus | None = None,
) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        app, how = open_store(size, store_dir, tmp, no_fill, corpus)
        size = app.store.index.collection("pattern").count()  # measured: less than asked when --no-fill found less
        memory, store, embedder = app.memory, app.store, app.embedder
        search = memory.recaller.dense

        def recall(query: str, language: str | None) -> Any:
            return anyio.run(lambda: memory.recall(query, ["pattern"], N_RESULTS, language=language))

        def top(query: Any, language: str | None) -> list[str]:
            depth = N_RESULTS * 3  # the depth recall asks the dense search for (CANDIDATE_FACTOR)
            return [item_id for item_id, _ in search.nearest("pattern", query, depth, None, language, None)][:N_RESULTS]

        recall("warm-up", None)
        texts = corpus.queries[:queries] if corpus else [f"query {q}" for q in range(queries)]
        vectors = embedder.encode_batch(texts)
        rows = [
            f"\n{size:,} memories ({'model vectors of site-packages code; ' if corpus else ''}{how}; "
            + f"{queries} queries per language; over-fetch from a "
            + f"{dense.OVERFETCH_MIN_SHARE:.0%} share, scans up to {dense.MAX_SCANNED_VECTORS:,} vectors; load average "
            + "{load} before, {load_after} after)\n",
            "| language | share | first call ms | filtered p50 / p95 ms | unfiltered p50 / p95 ms | p50 ratio "
            + "| exact top 5 |"
            + (" Chroma where p50 ms |" if with_where else ""),
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if with_where else ""),
        ]
        load = " / ".join(f"{x:.1f}" for x in _loadavg())
        every_ids: list[str] = []
        every_rows: list[Any] = []
        for language in languages:
            share = SHARES[language]
            first = timed(lambda: recall("first", language))  # noqa: B023
            filtered: list[float] = []
            unfiltered: list[float] = []
            for text in texts:
                unfiltered.append(timed(lambda: recall(text, None)))  # noqa: B023
                filtered.append(timed(lambda: recall(text, language)))  # noqa: B023
            ids, matrix = stored_vectors(app, language)
            every_ids += ids
            every_rows.append(matrix)
            exact = sum(top(v, language) == exhaustive_top(ids, matrix, v) for v in vectors) / queries
            where = ""
            if with_where:
                depth = max(50, N_RESULTS * 3)
                where_times = [
                    timed(lambda: store.query("pattern", v.tolist(), depth, {"language": language}))  # noqa: B023
                    for v in vectors[: min(queries, 10)]
                ]
                where = f" {statistics.median(where_times):.1f} |"
            rows.append(
                f"| {language} | {share:.1%} ({len(ids):,}) | {first:.1f} "
                + f"| {percentile(filtered, 50):.1f} / {percentile(filtered, 95):.1f} "
                + f"| {percentile(unfiltered, 50):.1f} / {percentile(unfiltered, 95):.1f} "
                + f"| {percentile(filtered, 50) / percentile(unfiltered, 50):.2f}× | {exact:.0%} |{where}"
            )
            print(rows[-1], file=sys.stderr)
        if len(languages) == len(SHARES):  # the whole collection read: how exact HNSW is unfiltered
            whole = np.concatenate(every_rows)
            exact = sum(top(v, None) == exhaustive_top(every_ids, whole, v) for v in vectors) / queries
            rows.append(
                f"| (none) | 100% ({len(every_ids):,}) | – | – | – | – | {exact:.0%} |" + (" – |" if with_where else "")
            )
        rows[0] = rows[0].format(load=load, load_after=" / ".join(f"{x:.1f}" for x in _loadavg()))
        return rows


def _loadavg() -> tuple[float, float, float]:
    import os

    return os.getloadavg()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--store", type=Path, default=None, help="keep filled stores here and reuse them")
    parser.add_argument("--where", action="store_true", help="also time Chroma's where filter alone")
    parser.add_argument("--fill-only", action="store_true")
    parser.add_argument("--no-fill", action="store_true", help="measure a kept store as it is, even if smaller")
    parser.add_argument("--languages", default="", help="only these, comma-separated (default: all eight)")
    parser.add_argument(
        "--overfetch-share", type=float, default=None, help="measure another OVERFETCH_MIN_SHARE (above 1: scan all)"
    )
    parser.add_argument("--scan-max", type=int, default=None, help="measure another MAX_SCANNED_VECTORS")
    parser.add_argument("--overfetch-min", type=int, default=None, help="measure another MIN_OVERFETCH")
    parser.add_argument(
        "--vectors", choices=("random", "model"), default="random", help="random unit vectors, or the model's of code"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="with --vectors model: threads encoding the stored code (as an import's)"
    )
    args = parser.parse_args(argv)
    if args.overfetch_share is not None:
        dense.OVERFETCH_MIN_SHARE = args.overfetch_share
    if args.scan_max is not None:
        dense.MAX_SCANNED_VECTORS = args.scan_max
    if args.overfetch_min is not None:
        dense.MIN_OVERFETCH = args.overfetch_min
    lines: list[str] = []
    for size in (int(s) for s in args.sizes.split(",")):
        corpus = Corpus(size, args.queries, args.store, args.threads) if args.vectors == "model" else None
        if args.fill_only:
            with tempfile.TemporaryDirectory() as tmp:
                print(open_store(size, args.store, tmp, corpus=corpus)[1])
            continue
        languages = args.languages.split(",") if args.languages else list(SHARES)
        lines += measure(size, args.queries, args.store, args.where, args.no_fill, languages, corpus)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
