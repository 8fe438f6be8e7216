"""One language's vectors held in memory, for an exact search where Chroma would need its slow filter.

A float32 matrix with room to grow (doubling), ids by row: a write puts one row and a delete moves the last row
into the freed one, so keeping the cache current costs O(1) per memory however many vectors it holds — a copy of
the matrix per write would cost a 60,000-vector language ~90 MB per memory written. float32, not float16: numpy
multiplies float16 without BLAS, ~10× slower than the float32 product it would save memory for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

# One BLAS thread for a scan: a second one spins after each product, and on a busy machine that slowed every other
# call of the process (at 758,000 memories unfiltered recalls went from ~10 to ~100 ms while scans ran).
_BLAS = ThreadpoolController()


class LanguageVectors:
    """Ids and unit vectors of one language; not thread-safe (the catalog's lock guards it)."""

    def __init__(self, ids: Sequence[str], rows: Sequence[Any]) -> None:
        self.ids: list[str] = list(ids)
        self.row_of = {item_id: row for row, item_id in enumerate(self.ids)}
        self.matrix = np.asarray(rows, dtype=np.float32) if self.ids else np.zeros((0, 0), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        return int(self.matrix.nbytes)

    def put(self, item_id: str, vector: Sequence[float]) -> None:
        row = self.row_of.get(item_id)
        if row is None:
            row = len(self.ids)
            if row == len(self.matrix):
                grown = np.zeros((max(16, 2 * row), len(vector)), dtype=np.float32)
                grown[:row] = self.matrix[:row]
                self.matrix = grown
            self.ids.append(item_id)
            self.row_of[item_id] = row
        self.matrix[row] = np.asarray(vector, dtype=np.float32)

    def remove(self, item_id: str) -> bool:
        row = self.row_of.pop(item_id, None)
        if row is None:
            return False
        last = len(self.ids) - 1
        if row != last:
            moved = self.ids[last]
            self.ids[row], self.row_of[moved] = moved, row
            self.matrix[row] = self.matrix[last]
        self.ids.pop()
        return True

    def nearest(
        self, embedding: Sequence[float], depth: int, admits: Callable[[str], bool] | None = None
    ) -> list[tuple[str, float]]:
        """The ``depth`` most similar ids (those ``admits`` lets through) and their cosines, best first: exact."""
        count = len(self.ids)
        if count == 0 or depth <= 0:
            return []
        with _BLAS.limit(limits=1, user_api="blas"):
            similarities = self.matrix[:count] @ np.asarray(embedding, dtype=np.float32)
        take = depth
        while True:
            take = min(take, count)
            best = np.argpartition(-similarities, take - 1)[:take] if take < count else np.arange(count)
            best = best[np.argsort(-similarities[best], kind="stable")]
            kept = [(self.ids[i], float(similarities[i])) for i in best if admits is None or admits(self.ids[i])]
            if len(kept) >= depth or take == count:
                return kept[:depth]
            take *= 4  # too many of the best were left out: look deeper
