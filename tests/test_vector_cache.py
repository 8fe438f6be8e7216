"""A language's held vectors answer exactly what an exhaustive search over them gives — also when the search scores
one-byte codes first (large languages) and only the rows that could reach the results exactly."""

from __future__ import annotations

import numpy as np
import pytest

from mcp_memory.memory.vector_cache import CODED_FROM, LanguageVectors

DIMS = 384
COUNT = CODED_FROM + 3_000  # large enough to be scored by codes


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def exhaustive(ids: list[str], rows: np.ndarray, query: np.ndarray, depth: int, admitted: set[str] | None = None):
    scores = rows @ query
    order = np.argsort(-scores, kind="stable")
    return [ids[i] for i in order if admitted is None or ids[i] in admitted][:depth]


def random_rows(count: int, seed: int) -> np.ndarray:
    return unit(np.random.default_rng(seed).standard_normal((count, DIMS)))


def clustered_rows(count: int, seed: int) -> np.ndarray:
    """Near-duplicates around a few hundred centres, as embeddings of similar snippets are: many close scores."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((300, DIMS))
    return unit(centres[rng.integers(0, 300, count)] + 0.08 * rng.standard_normal((count, DIMS)))


def queries(rows: np.ndarray, seed: int, count: int = 25) -> list[np.ndarray]:
    """Half near a stored row (a recall of something known), half anywhere."""
    rng = np.random.default_rng(seed)
    near = [unit((rows[i] + 0.05 * rng.standard_normal(DIMS))[None])[0] for i in rng.integers(0, len(rows), count)]
    return near + list(random_rows(count, seed + 1))


@pytest.mark.parametrize("make_rows", [random_rows, clustered_rows])
@pytest.mark.parametrize("depth", [1, 5, 40])
def test_nearest_is_the_exhaustive_top(make_rows, depth: int) -> None:
    rows = make_rows(COUNT, 3)
    ids = [f"m{i}" for i in range(COUNT)]
    held = LanguageVectors(ids, rows)
    for query in queries(rows, 4):
        found = held.nearest(query.tolist(), depth)
        assert [item_id for item_id, _ in found] == exhaustive(ids, rows, query, depth)
        assert [score for _, score in found] == pytest.approx(sorted((rows @ query).tolist(), reverse=True)[:depth])


def test_what_a_scope_admits_is_searched_exactly() -> None:
    rows = clustered_rows(COUNT, 5)
    ids = [f"m{i}" for i in range(COUNT)]
    admitted = {item_id for i, item_id in enumerate(ids) if i % 7 == 0}  # most of the best are left out
    held = LanguageVectors(ids, rows)
    for query in queries(rows, 6):
        found = held.nearest(query.tolist(), 5, admits=admitted.__contains__)
        assert [item_id for item_id, _ in found] == exhaustive(ids, rows, query, 5, admitted)


def test_writes_after_loading_are_searched_exactly_even_past_the_codes_range() -> None:
    rows = random_rows(COUNT, 7)
    ids = [f"m{i}" for i in range(COUNT)]
    held = LanguageVectors(ids, rows)
    # A vector with one component far past any held when the codes were scaled: its code is clipped.
    spike = np.zeros(DIMS, dtype=np.float32)
    spike[0], spike[1] = 0.99, float(np.sqrt(1 - 0.99**2))
    held.put("spike", spike.tolist())
    query = unit((spike + 0.3 * random_rows(1, 8)[0])[None])[0]
    assert held.nearest(query.tolist(), 1)[0][0] == "spike"

    # Rewrite the best rows of a query to point away, delete others; the search follows every write.
    current = dict(zip(ids, rows, strict=True)) | {"spike": spike}
    query = queries(rows, 9, 1)[0]
    for item_id in exhaustive(ids, rows, query, 3):
        current[item_id] = -query
        held.put(item_id, (-query).tolist())
    for item_id in exhaustive(ids, rows, query, 10)[3:6]:
        del current[item_id]
        assert held.remove(item_id)
    for fresh in range(20):  # more than the matrix's spare rows: it grows
        current[f"new{fresh}"] = random_rows(1, 100 + fresh)[0]
        held.put(f"new{fresh}", current[f"new{fresh}"].tolist())
    kept_ids = list(current)
    kept_rows = np.stack([current[i] for i in kept_ids])
    for probe in [query, *queries(rows, 10, 5)]:
        found = [item_id for item_id, _ in held.nearest(probe.tolist(), 5)]
        assert found == exhaustive(kept_ids, kept_rows, probe, 5)
    assert len(held) == len(current)


def test_a_small_language_and_an_empty_query_are_answered() -> None:
    rows = random_rows(500, 11)
    ids = [f"m{i}" for i in range(500)]
    held = LanguageVectors(ids, rows)
    query = rows[42]
    assert held.nearest(query.tolist(), 3)[0][0] == "m42"
    assert len(LanguageVectors(ids * 0, []).nearest(query.tolist(), 3)) == 0
    big = LanguageVectors([f"m{i}" for i in range(COUNT)], random_rows(COUNT, 12))
    assert len(big.nearest([0.0] * DIMS, 5)) == 5  # a zero query scores everything 0: any five, no error
