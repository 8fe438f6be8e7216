"""Group commit for stores: calls that arrive while a batch is being written go together in the next one.

One store alone is written at once, exactly as before. When a swarm stores many memories at the same
moment, each batch costs one lookup, one batched encode and one Chroma write instead of one of each per
call (a single-item Chroma add costs nearly as much as a batch of dozens).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from mcp_memory.memory.records import MemoryDraft
from mcp_memory.models import StoreResult

MAX_BATCH = 64


@dataclass
class _Slot:
    draft: MemoryDraft
    result: StoreResult | None = None
    error: BaseException | None = None
    done: bool = False


class StoreBatcher:
    """Writes waiting drafts in batches, one batch at a time, callers in arrival order."""

    def __init__(
        self,
        write_one: Callable[[MemoryDraft], Awaitable[StoreResult]],
        write_many: Callable[[list[MemoryDraft]], Awaitable[list[StoreResult]]],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._write_one = write_one
        self._write_many = write_many
        self._max_batch = max_batch
        self._pending: list[_Slot] = []
        self._lock = anyio.Lock()

    async def submit(self, draft: MemoryDraft) -> StoreResult:
        slot = _Slot(draft)
        self._pending.append(slot)
        async with self._lock:
            while not slot.done:  # nobody wrote ours while we waited: write what is waiting, oldest first
                batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
                with anyio.CancelScope(shield=True):  # others wait on this batch: finish it even if we are cancelled
                    await self._write(batch)
        if slot.error is not None:
            raise slot.error
        assert slot.result is not None
        return slot.result

    async def _write(self, batch: list[_Slot]) -> None:
        try:
            if len(batch) == 1:
                results = [await self._write_one(batch[0].draft)]
            else:
                results = await self._write_many([slot.draft for slot in batch])
        except BaseException as exc:
            for slot in batch:
                slot.error, slot.done = exc, True
            return
        for slot, result in zip(batch, results, strict=True):
            slot.result, slot.done = result, True
