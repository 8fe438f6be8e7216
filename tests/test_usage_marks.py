"""When memories were last recalled is written before a process ends — a server's and the CLI's — not only every
30 s: a short-lived process would lose every mark, and archiving would take memories in use for unused ones."""

from __future__ import annotations

import anyio
import pytest

from mcp_memory.app import MemoryApp
from mcp_memory.cli import main as cli
from mcp_memory.config import Settings
from mcp_memory.memory.drafts import error_draft
from mcp_memory.storage.embeddings import Embedder
from tests.processes import stdio_client, tool

pytestmark = pytest.mark.anyio

ERROR = "ZeroDivisionError: division by zero"


def stored_error(settings: Settings, embedder: Embedder) -> str:
    app = MemoryApp(settings, embedder=embedder)
    stored = app.memory.remember_blocking(error_draft(ERROR, "averaging", "check for an empty list first", True))
    app.store.settle()
    app.database.close()
    return stored.id


async def last_used(settings: Settings, embedder: Embedder, item_id: str) -> str | None:
    app = MemoryApp(settings, embedder=embedder)
    try:
        return (await app.memory.links.get(item_id)).last_used_at
    finally:
        app.database.close()


@pytest.mark.slow
async def test_a_server_writes_what_it_recalled_before_it_exits(settings: Settings, embedder: Embedder) -> None:
    item_id = stored_error(settings, embedder)
    async with stdio_client(settings.data_dir) as client:
        found = await tool(client, "recall_error_solutions", error_message=ERROR, n_results=1)
        assert [hit["id"] for hit in found["results"]] == [item_id]
    # The client closed the server's stdin well within the tracker's 30 s between writes.
    assert await last_used(settings, embedder, item_id) is not None


async def test_the_cli_recall_writes_what_it_recalled(settings: Settings, embedder: Embedder) -> None:
    item_id = stored_error(settings, embedder)
    await anyio.to_thread.run_sync(
        cli.main, ["recall", ERROR, "--type", "errors", "-n", "1", "--json", "--data-dir", str(settings.data_dir)]
    )
    assert await last_used(settings, embedder, item_id) is not None
