"""Work a server can put off (building the owner's socket, ~0.15 s holding the GIL) waits until the warm-up has
ended and no tool call is being answered, so that the first recall does not share the interpreter with it; a
server never quiet still gets it after a limit."""

from __future__ import annotations

import time

import anyio
import pytest
from mcp import Client

from mcp_memory.app import MemoryApp
from mcp_memory.edge.server import CallsInFlight, build_server

pytestmark = pytest.mark.anyio


async def test_settled_waits_for_the_start_and_the_call_being_answered_and_never_past_its_limit(
    app: MemoryApp,
) -> None:
    calls = CallsInFlight()
    app._start_lock.acquire()  # the start is held: the warm-up and a first recall wait for it
    held = True
    try:
        async with Client(build_server(app, calls=calls)) as client:
            answers: list[bool] = []

            async def recall() -> None:
                arguments = {"error_message": "No module named 'requests'", "project": "*"}
                result = await client.call_tool("recall_error_solutions", arguments)
                answers.append(not result.is_error)

            async with anyio.create_task_group() as group:
                group.start_soon(recall)
                with anyio.fail_after(30):
                    while calls.count == 0:
                        await anyio.sleep(0.01)
                with anyio.move_on_after(0.5) as waiting:
                    await calls.settled(app, 30)
                assert waiting.cancelled_caught  # still starting, and the recall is being answered
                began = time.monotonic()
                await calls.settled(app, 0.3)  # a server that is never quiet: the limit ends the wait
                assert 0.25 <= time.monotonic() - began < 5
                app._start_lock.release()
                held = False
                with anyio.fail_after(120):
                    await calls.settled(app, 120)
                assert calls.count == 0
                assert app.warmup is not None and not app.warmup.is_alive()
            assert answers == [True]
    finally:
        if held:
            app._start_lock.release()


async def test_nothing_under_way_is_settled_at_once(app: MemoryApp) -> None:
    calls = CallsInFlight()
    began = time.monotonic()
    await calls.settled(app, 30)  # no warm-up begun, no call
    assert time.monotonic() - began < 1


async def test_a_call_being_answered_is_waited_for_once_the_start_is_done(app: MemoryApp) -> None:
    calls = CallsInFlight()
    app.start_blocking()
    ended = anyio.Event()

    async def answer() -> None:
        with calls.answering():
            await ended.wait()

    async with anyio.create_task_group() as group:
        group.start_soon(answer)
        await anyio.sleep(0.05)
        with anyio.move_on_after(0.3) as waiting:
            await calls.settled(app, 30)
        assert waiting.cancelled_caught
        ended.set()
        with anyio.fail_after(5):
            await calls.settled(app, 30)
