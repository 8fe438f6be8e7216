"""mcp-memory recall and stats for people at a terminal (tables) and for scripts (--json)."""

from __future__ import annotations

import json

import anyio
import pytest

from mcp_memory.app import MemoryApp
from mcp_memory.cli import main as cli
from mcp_memory.cli.terminal import Progress, table
from tests.test_transfer import DRAFTS

pytestmark = pytest.mark.anyio


async def run_cli(*args: str) -> None:
    """The command as typed, in a thread: it runs its own event loop, as from a shell."""
    await anyio.to_thread.run_sync(cli.main, list(args))


async def test_recall_prints_a_table_of_hits_best_first(
    app: MemoryApp, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")  # a terminal wide enough for whole ids (pytest-xdist's workers say 80)
    results = await app.memory.remember_many(DRAFTS)
    await run_cli(
        "recall", "No module named fastapi", "--type", "errors", "-n", "2", "--data-dir", str(app.settings.data_dir)
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["#", "score", "type", "outcome", "language", "title", "id"]
    assert lines[2].split()[:4] == ["1", lines[2].split()[1], "error", "worked"]
    assert lines[2].endswith(results[3].id) and lines[3].endswith(results[4].id)
    assert "failed" in lines[3] and len(lines) == 4


async def test_recall_json_is_the_full_result(app: MemoryApp, capsys: pytest.CaptureFixture[str]) -> None:
    await app.memory.remember_many(DRAFTS)
    await run_cli(
        "recall",
        "retry flaky calls",
        "--type",
        "patterns",
        "--language",
        "py",
        "--json",
        "--data-dir",
        str(app.settings.data_dir),
    )
    result = json.loads(capsys.readouterr().out)
    assert [hit["title"] for hit in result["results"]] == ["Retry with backoff"]
    assert result["results"][0]["fields"]["context"] == "flaky HTTP"


async def test_stats_reads_as_a_table_and_as_json(app: MemoryApp, capsys: pytest.CaptureFixture[str]) -> None:
    await app.memory.remember_many(DRAFTS)
    await run_cli("stats", "--data-dir", str(app.settings.data_dir))
    text = capsys.readouterr().out
    assert "memories  7" in text and "(embedded)" in text
    assert any(line.split() == ["error", "3"] for line in text.splitlines())
    await run_cli("stats", "--json", "--data-dir", str(app.settings.data_dir))
    stats = json.loads(capsys.readouterr().out)
    assert (stats["total"], stats["by_type"]["pattern"]) == (7, 2)


def test_a_table_cuts_its_widest_column_to_fit_the_width() -> None:
    text = table(["id", "title"], [["a1", "x" * 200]], width=40)
    assert all(len(line) <= 40 for line in text.splitlines())
    assert text.splitlines()[2].endswith("…")


def test_progress_shows_rate_and_eta_on_a_terminal_only() -> None:
    class Terminal(list[str]):
        def write(self, text: str) -> None:
            self.append(text)

        def flush(self) -> None:
            pass

        def isatty(self) -> bool:
            return True

    shown = Terminal()
    progress = Progress(200, "importing", stream=shown)  # type: ignore[arg-type]
    progress.advance(200)
    progress.close()
    assert "200/200 100%" in shown[-1] and "/s" in shown[-1] and "ETA 0s" in shown[-1]
    quiet = Terminal()
    Progress(10, "x", stream=quiet, enabled=False).advance(10)
    assert quiet == []
