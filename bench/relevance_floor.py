"""Calibrate each type's relevance floor: below it a hit is marked weak and kept out of the task prompt.

Relevance is a hit's score without its outcome adjustment (cosine for dense types, the blend for errors). For a
type, *positives* are the relevance of the right memory when recall returns it in the top 10; *negatives* are the
top relevance for queries that have no right memory in that type: nonsense, and questions of the other domain
(error messages asked of code patterns, code questions asked of errors). The floor is the highest threshold that
keeps 90% of the right hits of the tuning half (every other query); the other half is held out and reported as such.

    .venv/bin/python bench/relevance_floor.py [--pool 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quality import DATA, ERRORS, fresh_app, function_name, store_all
from mcp_memory.memory.drafts import error_draft, pattern_draft
from mcp_memory.memory.ranking import outcome_adjustment
from mcp_memory.storage.embeddings import Embedder

NONSENSE = [
    "purple elephants dancing at midnight",
    "asdf qwerty zxcv",
    "recipe for banana bread with walnuts",
    "who won the 1998 football world cup",
    "best hiking trails in the alps",
    "my cat keeps sneezing",
    "lorem ipsum dolor sit amet",
    "how tall is the eiffel tower",
    "translate good morning into italian",
    "symptoms of the common cold",
    "cheap flights to lisbon in may",
    "history of the roman empire",
    "how to knit a scarf",
    "weather tomorrow in oslo",
    "poem about the sea at dawn",
    "xyzzy plugh",
    "what is the capital of mongolia",
    "tips for growing tomatoes on a balcony",
    "guitar chords for a sad song",
    "how many moons does jupiter have",
]


def relevance(hit) -> float:  # type: ignore[no-untyped-def]
    return hit.score - outcome_adjustment(hit.success_count, hit.failure_count)


KEEP = 0.9  # share of right hits a floor must leave unmarked: a weak mark must rarely hide the right answer


def choose_floor(positives: list[float]) -> float:
    """The highest threshold (to 0.01) that still keeps ``KEEP`` of the right hits at or above it."""
    ordered = sorted(positives, reverse=True)
    return int(ordered[int(KEEP * len(ordered)) - 1] * 100) / 100


def rates(floor: float, positives: list[float], negatives: list[float]) -> str:
    kept = sum(p >= floor for p in positives) / len(positives)
    weak = sum(n < floor for n in negatives) / len(negatives)
    return f"right hits kept {kept:.3f} ({len(positives)}), unrelated tops marked weak {weak:.3f} ({len(negatives)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=1000, help="CoSQA functions stored (the gold ones included).")
    args = parser.parse_args()
    embedder = Embedder()
    pool = [json.loads(line) for line in (DATA / "cosqa-code-pool.jsonl").open()]
    queries = [json.loads(line) for line in (DATA / "cosqa-dev-queries.jsonl").open()]
    gold = {q["gold_code_id"] for q in queries}
    others = [row for row in pool if row["code_id"] not in gold]
    random.Random(0).shuffle(others)
    pool = [row for row in pool if row["code_id"] in gold] + others[: max(0, args.pool - len(gold))]
    rows = [json.loads(line) for line in ERRORS.open()]
    error_queries = [(q["query"], r["cause"]) for r in rows for q in r["queries"]]

    with tempfile.TemporaryDirectory() as tmp:
        app = fresh_app(Path(tmp), embedder)
        code_ids = dict(
            zip(
                (r["code_id"] for r in pool),
                store_all(
                    app, [pattern_draft(function_name(r["code"]), r["code"], "python", "", {}, []) for r in pool]
                ),
                strict=True,
            )
        )
        error_ids = dict(
            zip(
                (r["cause"] for r in rows),
                store_all(
                    app, [error_draft(r["stored"]["error_message"], r["context"], r["resolution"], True) for r in rows]
                ),
                strict=True,
            )
        )

        async def measure(memory_type: str, asked: list[tuple[str, str | None]]) -> tuple[list[float], list[float]]:
            positives, negatives = [], []
            for query, wanted in asked:
                result = await app.memory.recall(query, [memory_type], 10)
                if wanted is None:
                    negatives += [relevance(result.results[0])] if result.results else []
                else:
                    positives += [relevance(h) for h in result.results if h.id == wanted]
            return positives, negatives

        def halves(items: list) -> tuple[list, list]:  # type: ignore[type-arg]
            return items[0::2], items[1::2]

        async def run() -> dict[str, dict[str, tuple[list[float], list[float]]]]:
            code_asked = [(q["query"], code_ids[q["gold_code_id"]]) for q in queries]
            error_asked = [(q, error_ids[cause]) for q, cause in error_queries]
            found: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
            for memory_type, right, other in (
                ("pattern", code_asked, [(q, None) for q, _ in error_queries]),
                ("error", error_asked, [(q["query"], None) for q in queries]),
            ):
                nonsense = [(q, None) for q in NONSENSE]
                found[memory_type] = {}
                for name, part in zip(
                    ("tune", "held-out"), zip(halves(right), halves(other + nonsense), strict=True), strict=True
                ):
                    positives, _ = await measure(memory_type, part[0])
                    _, negatives = await measure(memory_type, part[1])
                    found[memory_type][name] = (positives, negatives)
            return found

        found = anyio.run(run)
    for memory_type, splits in found.items():
        floor = choose_floor(splits["tune"][0])
        print(f"{memory_type}: floor {floor:.2f}")
        print(f"  tune (in-sample): {rates(floor, *splits['tune'])}")
        print(f"  held-out:         {rates(floor, *splits['held-out'])}")


if __name__ == "__main__":
    main()
