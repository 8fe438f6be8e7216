"""The garbage collector is paused while a server starts and always runs again: when the warm-up ends (whether
it succeeded or not), or after the limit when nothing says the start ended."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator

import pytest

from mcp_memory import collector_pause
from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.storage.embeddings import Embedder


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    yield
    collector_pause.started()
    gc.unfreeze()
    gc.enable()


def test_the_warm_up_resumes_the_collector(settings: Settings, embedder: Embedder) -> None:
    collector_pause.pause_while_starting()
    assert not gc.isenabled()
    app = MemoryApp(settings.model_copy(update={"seed_on_start": False}), embedder)
    thread = app.start_in_background(delay=0)
    assert thread is not None
    thread.join(120)
    assert gc.isenabled()


def test_a_failed_warm_up_resumes_it_too(settings: Settings, embedder: Embedder, tmp_path) -> None:
    (tmp_path / "file").write_text("not a directory")
    broken = settings.model_copy(update={"seed_on_start": False, "data_dir": tmp_path / "file" / "data"})
    collector_pause.pause_while_starting()
    thread = MemoryApp(broken, embedder).start_in_background(delay=0)
    assert thread is not None
    thread.join(120)
    assert gc.isenabled()


def test_the_limit_resumes_it_when_no_start_says_it_ended() -> None:
    collector_pause.pause_while_starting(limit_seconds=0.2)
    assert not gc.isenabled()
    deadline = time.monotonic() + 10
    while not gc.isenabled() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_host_stays_off() -> None:
    gc.disable()
    collector_pause.pause_while_starting()
    collector_pause.started()
    assert not gc.isenabled()
