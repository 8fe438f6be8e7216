"""One language's vectors held in memory, for an exact search where Chroma would need its slow filter.

A float32 matrix with room to grow (doubling), ids by row: a write puts one row and a delete moves the last row
into the freed one, so keeping the cache current costs O(1) per memory however many vectors it holds — a copy of
the matrix per write would cost a 60,000-vector language ~90 MB per memory written.

A large language is not scanned in float32 (184 MB read per query at 120,000 vectors). Beside each vector it keeps
a one-byte code per dimension and how far the code may be off; a query scores every code (``byte_product``: a
quarter of the bytes), then computes the exact cosine only of the rows whose score *could* reach the ``depth``-th
best exact one. A row's error is bounded: |q·x − q̃·x̃| ≤ Σ|q|·max|x − x̃| + max|q − q̃|·Σ|x̃|, so every row left out
is provably below the results — exact by construction, like the float32 scan, at ~a third of its time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from mcp_memory.memory import byte_product

# One BLAS thread for a scan: a second one spins after each product, and on a busy machine that slowed every other
# call of the process (at 758,000 memories unfiltered recalls went from ~10 to ~100 ms while scans ran).
_BLAS = ThreadpoolController()
# Below this many vectors the float32 product is as quick as scoring codes.
CODED_FROM = 12_000
# Codes are signed bytes scaled to the largest component the language held when loaded; a larger one later is
# clipped, and its error bound says so.
MIN_PEAK = 0.05
# Float rounding of the scores compared against the bound.
ROUNDING = 1e-4


def byte_codes(rows: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's codes (uint8, offset by 128), its largest error per dimension, and the L1 norm of its decoded row."""
    signed = np.clip(np.rint(rows * scale), -127, 127)
    decoded = signed / scale
    error = np.abs(rows - decoded).max(axis=1, initial=0.0)
    return (signed + 128).astype(np.uint8), error.astype(np.float32), np.abs(decoded).sum(axis=1).astype(np.float32)


class LanguageVectors:
    """Ids and unit vectors of one language; not thread-safe (the catalog's lock guards it)."""

    def __init__(self, ids: Sequence[str], rows: Sequence[Any]) -> None:
        self.ids: list[str] = list(ids)
        self.row_of = {item_id: row for row, item_id in enumerate(self.ids)}
        self.matrix = np.asarray(rows, dtype=np.float32) if self.ids else np.zeros((0, 0), dtype=np.float32)
        peak = float(np.abs(self.matrix).max()) if self.matrix.size else 0.0
        self.scale = 127.0 / max(peak, MIN_PEAK)
        self.codes, self.error, self.l1 = byte_codes(self.matrix, self.scale)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        return int(self.matrix.nbytes + self.codes.nbytes + self.error.nbytes + self.l1.nbytes)

    def put(self, item_id: str, vector: Sequence[float]) -> None:
        row = self.row_of.get(item_id)
        if row is None:
            row = len(self.ids)
            if row == len(self.matrix):
                self._grow(max(16, 2 * row), len(vector))
            self.ids.append(item_id)
            self.row_of[item_id] = row
        self.matrix[row] = np.asarray(vector, dtype=np.float32)
        codes, error, l1 = byte_codes(self.matrix[row : row + 1], self.scale)
        self.codes[row], self.error[row], self.l1[row] = codes[0], error[0], l1[0]

    def _grow(self, rows: int, dims: int) -> None:
        used = len(self.ids)
        arrays = (self.matrix, self.codes, self.error, self.l1)
        grown: tuple[np.ndarray, ...] = (
            np.zeros((rows, dims), dtype=np.float32),
            np.full((rows, dims), 128, dtype=np.uint8),
            np.zeros(rows, dtype=np.float32),
            np.zeros(rows, dtype=np.float32),
        )
        for old, new in zip(arrays, grown, strict=True):
            new[:used] = old[:used]
        self.matrix, self.codes, self.error, self.l1 = grown

    def remove(self, item_id: str) -> bool:
        row = self.row_of.pop(item_id, None)
        if row is None:
            return False
        last = len(self.ids) - 1
        if row != last:
            moved = self.ids[last]
            self.ids[row], self.row_of[moved] = moved, row
            for array in (self.matrix, self.codes, self.error, self.l1):
                array[row] = array[last]
        self.ids.pop()
        return True

    def nearest(
        self, embedding: Sequence[float], depth: int, admits: Callable[[str], bool] | None = None
    ) -> list[tuple[str, float]]:
        """The ``depth`` most similar ids (those ``admits`` lets through) and their cosines, best first: exact."""
        count = len(self.ids)
        if count == 0 or depth <= 0:
            return []
        query = np.asarray(embedding, dtype=np.float32)
        coded = count >= CODED_FROM and bool(np.any(query)) and byte_product.available()
        if coded:
            approximate, bound = self._approximate(query, count)
        else:
            with _BLAS.limit(limits=1, user_api="blas"):
                approximate = self.matrix[:count] @ query  # exact already
        take = 4 * depth if coded else depth  # coded: a few more, as their order is approximate
        while True:
            take = min(take, count)
            rows = np.argpartition(-approximate, take - 1)[:take] if take < count else np.arange(count)
            exact = self.matrix[rows] @ query if coded else approximate[rows]
            best = self._best(rows, exact, depth, admits)
            if len(best) >= depth or take == count:
                break
            take *= 4  # too many of the best were left out: look deeper
        if coded and take < count and best:
            # Every row whose score could reach the depth-th best: scored exactly beside those already scored.
            could = np.flatnonzero(approximate + bound >= best[-1][1])
            more = np.setdiff1d(could, rows, assume_unique=True)
            if len(more):
                rows = np.concatenate([rows, more])
                exact = np.concatenate([exact, self.matrix[more] @ query])
                best = self._best(rows, exact, depth, admits)
        return best

    def _approximate(self, query: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Every row's score from the codes, and how far from its exact cosine it may be."""
        query_scale = 127.0 / float(np.abs(query).max())
        signed = np.clip(np.rint(query * query_scale), -127, 127)
        query_error = float(np.abs(query - signed / query_scale).max())
        products = byte_product.byte_products(self.codes[:count], signed.astype(np.int8))
        approximate = products.astype(np.float32)
        approximate -= np.float32(128 * int(signed.sum()))
        approximate *= np.float32(1.0 / (self.scale * query_scale))
        bound = self.error[:count] * np.float32(np.abs(query).sum())
        bound += self.l1[:count] * np.float32(query_error)
        bound += np.float32(ROUNDING)
        return approximate, bound

    def _best(
        self, rows: np.ndarray, scores: np.ndarray, depth: int, admits: Callable[[str], bool] | None
    ) -> list[tuple[str, float]]:
        order = np.lexsort((rows, -scores))  # best first; equal scores by row
        kept: list[tuple[str, float]] = []
        for at in order:
            item_id = self.ids[int(rows[at])]
            if admits is None or admits(item_id):
                kept.append((item_id, float(scores[at])))
                if len(kept) == depth:
                    break
        return kept
