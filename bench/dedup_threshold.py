"""Where near-duplicates end: the cosine at which consolidation merges two memories of one type.

Consolidation merges two memories when their vectors are close *and* their content is the same
(``mcp_memory/memory/duplicates.py``): code of one structure (names, comments, docstrings and layout set aside) for
patterns and solutions, one error line and a fix sharing most of its words for errors. This measures both parts on
the dev sets, embedded as the product embeds them (the drafts' ``embed_text``):

- **different items**, where every merge is a false one: every pair of the 6,267 CoSQA pool functions (19.6 M
  pairs) as code patterns; every pair of CoSQA dev solutions (query → gold function) with different gold
  functions; every pair of different real messages of the error dev set that share an error signature, each with
  its cause's context and fix. Counted at each cosine, alone and with the content check.
- **duplicates written twice**, which should merge: a pattern's function (1,000 drawn at random) rewritten without
  changing what it does (comments and layout gone through ``ast.unparse``; its docstring dropped; its local names
  and arguments renamed), the same gold function stored as the solution of two different real queries (CoSQA dev
  has 21 such functions), an error stored once as its last line and once as its whole traceback.
- **error resolutions**: the share of words in common of the fixes of different causes whose messages share a
  signature, and of each fix against itself reworded ("Fixed it: ...", or only what follows its colon).

Vectors are cached in the temp dir, so a second run takes a minute.

    PYTHONPATH=. .venv/bin/python bench/dedup_threshold.py      # ~15 min the first time (encodes the CoSQA pool)
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import itertools
import json
import random
import re
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from mcp_memory.memory.drafts import error_draft, pattern_draft, solution_draft
from mcp_memory.memory.duplicates import MERGE_THRESHOLDS, RESOLUTION_OVERLAP, code_structure, fix_overlap
from mcp_memory.memory.error_signature import error_signature, exception_line
from mcp_memory.storage.embeddings import Embedder

DATA = BENCH.parents[1] / "shared" / "data"
ERRORS = BENCH / "datasets" / "errors" / "python-errors-dev.jsonl"
CANDIDATES = (0.80, 0.85, 0.90, 0.92, 0.95, 0.97, 0.99)
GENERIC_NAMES = ("value", "item", "result", "data", "obj", "entry", "text", "node", "current", "other", "arg", "elem")


def function_name(code: str) -> str:
    match = re.search(r"def\s+(\w+)", code)
    return match.group(1) if match else "function"


# -- rewriting a function without changing it ---------------------------------------------------------


class _Renamer(ast.NodeTransformer):
    """Renames a function's arguments and local variables (not attributes, globals or called names)."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.names:
            node.id = self.names[node.id]
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        if node.arg in self.names:
            node.arg = self.names[node.arg]
        return node


def _locals(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    names = [a.arg for a in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs)]
    names += [a.arg for a in (function.args.vararg, function.args.kwarg) if a is not None]
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
    return [n for n in dict.fromkeys(names) if n not in ("self", "cls")]


def rewrites(code: str) -> dict[str, str]:
    """The function reformatted without comments, without its docstring, and with renamed locals."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {}
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not functions:
        return {}
    found = {"reformatted": ast.unparse(tree)}
    function = functions[0]
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        stripped = ast.parse(code)
        target = next(n for n in stripped.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
        target.body = target.body[1:] or [ast.Pass()]
        found["no docstring"] = ast.unparse(stripped)
    names = _locals(function)
    if names:
        mapping = {
            name: f"{GENERIC_NAMES[i % len(GENERIC_NAMES)]}{i // len(GENERIC_NAMES) or ''}"
            for i, name in enumerate(names)
        }
        renamed = _Renamer(mapping).visit(ast.parse(code))
        found["renamed locals"] = ast.unparse(renamed)
    return {kind: text for kind, text in found.items() if text.strip() != code.strip()}


# -- vectors ------------------------------------------------------------------------------------------


class Vectors:
    """Embeddings of texts, cached on disk by the texts' hash."""

    def __init__(self, embedder: Embedder, cache: Path) -> None:
        self.embedder = embedder
        self.cache = cache
        cache.mkdir(parents=True, exist_ok=True)

    def of(self, texts: Sequence[str]) -> np.ndarray:
        key = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:24]
        path = self.cache / f"{key}.npy"
        if path.exists():
            return np.load(path)
        vectors = np.asarray(self.embedder.encode_batch(list(texts)), dtype=np.float32)
        np.save(path, vectors)
        return vectors


@dataclass
class Measured:
    memory_type: str
    different_pairs: int  # pairs of different items consolidation would compare
    close: list[tuple[float, str, str, bool]]  # those at or above the lowest candidate: cosine, both, same content
    duplicates: dict[str, list[tuple[float, bool]]]  # kind -> (cosine, same content) of each duplicate pair


def close_pairs(matrix: np.ndarray, allowed: Callable[[int], np.ndarray] | None = None) -> list[tuple[float, int, int]]:
    """Pairs i < j of unit rows at or above the lowest candidate threshold (only pairs ``allowed`` for row i)."""
    found: list[tuple[float, int, int]] = []
    for start in range(0, len(matrix), 1024):
        block = matrix[start : start + 1024] @ matrix.T
        for offset, row in enumerate(block):
            i = start + offset
            row[: i + 1] = -1.0
            if allowed is not None:
                row[~allowed(i)] = -1.0
            found += [(float(row[j]), i, int(j)) for j in np.flatnonzero(row >= CANDIDATES[0])]
    return found


def patterns(vectors: Vectors, limit: int | None, rewritten_count: int) -> Measured:
    pool = [json.loads(line) for line in (DATA / "cosqa-code-pool.jsonl").open()][:limit]
    drafts = [pattern_draft(function_name(r["code"]), r["code"], "python", "", {}, []) for r in pool]
    matrix = vectors.of([d.embed_text for d in drafts])
    structure = [code_structure(r["code"], "python") for r in pool]
    close = [
        (cosine, function_name(pool[i]["code"]), function_name(pool[j]["code"]), structure[i] == structure[j])
        for cosine, i, j in close_pairs(matrix)
    ]
    duplicates: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    originals, copies, kinds = [], [], []
    sample = random.Random(7).sample(range(len(pool)), min(rewritten_count, len(pool)))
    for index in sorted(sample):
        for kind, code in rewrites(pool[index]["code"]).items():
            originals.append((index, code_structure(code, "python") == structure[index]))
            copies.append(pattern_draft(function_name(code), code, "python", "", {}, []).embed_text)
            kinds.append(kind)
    rewritten = vectors.of(copies)
    for (index, same), vector, kind in zip(originals, rewritten, kinds, strict=True):
        duplicates[kind].append((float(matrix[index] @ vector), same))
    return Measured("pattern", len(pool) * (len(pool) - 1) // 2, close, dict(duplicates))


def solutions(vectors: Vectors) -> Measured:
    queries = [json.loads(line) for line in (DATA / "cosqa-dev-queries.jsonl").open()]
    code = {r["code_id"]: r["code"] for r in map(json.loads, (DATA / "cosqa-code-pool.jsonl").open())}
    drafts = [solution_draft(q["query"], code[q["gold_code_id"]], "python", "", {}) for q in queries]
    matrix = vectors.of([d.embed_text for d in drafts])
    gold = np.array([q["gold_code_id"] for q in queries])
    structure = {g: code_structure(code[g], "python") for g in set(gold.tolist())}
    close = [
        (cosine, queries[i]["query"], queries[j]["query"], structure[gold[i]] == structure[gold[j]])
        for cosine, i, j in close_pairs(matrix, lambda i: gold != gold[i])
    ]
    same = [(a, b) for a, b in itertools.combinations(range(len(queries)), 2) if gold[a] == gold[b]]
    duplicates = {"same function, another query": [(float(matrix[a] @ matrix[b]), True) for a, b in same]}
    different = sum(1 for a, b in itertools.combinations(range(len(queries)), 2) if gold[a] != gold[b])
    return Measured("solution", different, close, duplicates)


def errors(vectors: Vectors) -> Measured:
    rows = [json.loads(line) for line in ERRORS.open()]
    messages: dict[str, tuple[str, str]] = {}  # message -> (context, resolution)
    tracebacks: list[tuple[str, str, str, str]] = []  # (line, traceback, context, resolution)
    for row in rows:
        stored = row["stored"]
        messages.setdefault(stored["error_message"], (row["context"], row["resolution"]))
        tracebacks.append((stored["error_message"], stored["traceback"], row["context"], row["resolution"]))
        for query in row["queries"]:
            messages.setdefault(query["error_message"], (row["context"], row["resolution"]))
            if query["form"] == "traceback":
                tracebacks.append((query["error_message"], query["query"], row["context"], row["resolution"]))
    texts = list(messages)
    drafts = [error_draft(m, *messages[m], True) for m in texts]
    matrix = vectors.of([d.embed_text for d in drafts])
    signatures = np.array([error_signature(m) for m in texts])

    def same_error(a: str, b: str, fix_a: str, fix_b: str) -> bool:
        return (
            exception_line(a).split() == exception_line(b).split() and fix_overlap(fix_a, fix_b) >= RESOLUTION_OVERLAP
        )

    close = [
        (cosine, texts[i], texts[j], same_error(texts[i], texts[j], messages[texts[i]][1], messages[texts[j]][1]))
        for cosine, i, j in close_pairs(matrix, lambda i: signatures == signatures[i])
    ]
    different = sum(1 for a, b in itertools.combinations(range(len(texts)), 2) if signatures[a] == signatures[b])
    lines = vectors.of([error_draft(line, c, r, True).embed_text for line, _, c, r in tracebacks])
    whole = vectors.of([error_draft(tb, c, r, True).embed_text for _, tb, c, r in tracebacks])
    duplicates = {
        "last line vs whole traceback": [
            (float(a @ b), same_error(line, tb, r, r))
            for a, b, (line, tb, _, r) in zip(lines, whole, tracebacks, strict=True)
        ]
    }
    return Measured("error", different, close, duplicates)


def rewordings(text: str) -> dict[str, str]:
    """The same fix as another agent might write it down: framed, without its final stop, as a command only."""
    stripped = text.rstrip(".")
    found = {
        "framed": f"Fixed it: {text[0].lower()}{text[1:]}",
        "shortened": stripped.split(":", 1)[1].strip() if ":" in stripped else stripped,
    }
    return {kind: variant for kind, variant in found.items() if variant != text}


OVERLAPS = (0.3, 0.4, 0.5, 0.6, 0.7)


def resolutions() -> str:
    """Errors whose message and context agree must also have the same fix: the share of words two resolutions have
    in common, for the 130 different fixes against each other and for each fix against itself reworded."""
    rows = [json.loads(line) for line in ERRORS.open()]
    texts = [row["resolution"] for row in rows]
    signatures = [
        {error_signature(m) for m in [row["stored"]["error_message"], *(q["error_message"] for q in row["queries"])]}
        for row in rows
    ]
    # Consolidation compares only errors with one signature: the causes whose messages share one.
    compared = [(a, b) for a, b in itertools.combinations(range(len(rows)), 2) if signatures[a] & signatures[b]]
    different = [fix_overlap(texts[a], texts[b]) for a, b in compared]
    best = max(compared, key=lambda pair: fix_overlap(texts[pair[0]], texts[pair[1]]))
    anywhere = max(fix_overlap(a, b) for a, b in itertools.combinations(texts, 2))
    same: dict[str, list[float]] = defaultdict(list)
    for text in texts:
        for kind, variant in rewordings(text).items():
            same[kind].append(fix_overlap(text, variant))
    lines = [
        "| error resolutions | pairs of different fixes, one signature | most words in common | same fix | "
        + " | ".join(f"≥ {t:.1f}" for t in OVERLAPS)
        + " | used |",
        "| --- | ---: | ---: | --- | " + " | ".join("---:" for _ in OVERLAPS) + " | ---: |",
    ]
    for kind, values in same.items():
        caught = " | ".join(
            f"{np.mean(np.asarray(values) >= t):.0%} / {sum(v >= t for v in different)}" for t in OVERLAPS
        )
        lines.append(
            f"| | {len(different):,} | {max(different):.3f} | {kind} ({len(values)}, median {np.median(values):.2f}) "
            f"| {caught} | {RESOLUTION_OVERLAP:.1f} |"
        )
    lines.append(
        f"- pairs of different fixes: those of causes whose messages share an error signature; the two with most "
        f"words in common: {texts[best[0]][:70]!r} and {texts[best[1]][:70]!r}. Over all {len(texts)} fixes, two "
        f"causes of different signatures share {anywhere:.2f} of their words (never compared)."
    )
    return "\n".join(lines)


def report(results: list[Measured]) -> str:
    lines = [
        "| type | pairs of different items | duplicates | "
        + " | ".join(f"≥ {t:.2f}" for t in CANDIDATES)
        + " | used |",
        "| --- | ---: | --- | " + " | ".join("---:" for _ in CANDIDATES) + " | ---: |",
    ]
    for result in results:
        for kind, pairs in result.duplicates.items():
            cells = []
            for t in CANDIDATES:
                caught = sum(1 for cosine, same in pairs if cosine >= t and same) / len(pairs)
                alone = sum(1 for cosine, *_ in result.close if cosine >= t)
                ruled = sum(1 for cosine, _, _, same in result.close if cosine >= t and same)
                cells.append(f"{caught:.0%} / {alone} → {ruled}")
            median = float(np.median([cosine for cosine, _ in pairs]))
            lines.append(
                f"| {result.memory_type} | {result.different_pairs:,} | {kind} ({len(pairs)}, median cosine "
                f"{median:.3f}) | {' | '.join(cells)} | {MERGE_THRESHOLDS[result.memory_type]:.2f} |"
            )
    lines.append("")
    lines.append(
        "Each cell: share of the duplicates merged / pairs of different items at or above the cosine → of those, the "
        "ones with the same content too (what consolidation merges)."
    )
    for result in results:
        used = MERGE_THRESHOLDS[result.memory_type]
        alone = max(result.close, default=None)
        if alone is not None:
            lines.append(
                f"- {result.memory_type}: the closest different items by cosine alone ({alone[0]:.4f}): "
                f"{alone[1][:60]!r} and {alone[2][:60]!r}{' (same content)' if alone[3] else ' (different content)'}"
            )
        merged = sorted((p for p in result.close if p[0] >= used and p[3]), reverse=True)
        for cosine, a, b, _ in merged:
            lines.append(f"  - merged at {used:.2f}: {a[:60]!r} and {b[:60]!r} ({cosine:.4f}), the same content")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=int, help="Only this many CoSQA functions (quick look).")
    parser.add_argument("--rewrites", type=int, default=1000, help="CoSQA functions rewritten as duplicates.")
    parser.add_argument("--threads", type=int, default=2, help="Torch threads for encoding.")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "mcp-memory-dedup-vectors")
    args = parser.parse_args(argv)
    embedder = Embedder(threads=1, batch_threads=args.threads)
    embedder.load()
    vectors = Vectors(embedder, args.cache)
    results = [patterns(vectors, args.pool, args.rewrites), solutions(vectors), errors(vectors)]
    print(report(results))
    print()
    print(resolutions())


if __name__ == "__main__":
    main()
