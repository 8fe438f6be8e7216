"""Consolidation through the MCP tools and the CLI: near-duplicates written from the dev data merge (counters
summed, never across types, projects or error signatures), what only failed or went unused is archived and comes
back with restore_memory, seeds stay, a dry run changes nothing, a schedule runs it, and roles hold."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest
from sqlalchemy import update

from mcp_memory.app import MemoryApp
from mcp_memory.cli.consolidate import consolidate_summary, run_consolidate
from mcp_memory.config import Settings
from mcp_memory.memory.duplicates import MERGE_THRESHOLDS
from mcp_memory.storage.embeddings import Embedder
from mcp_memory.storage.schema import memories
from tests.conftest import BOTH_DATABASES, REPO_ROOT, call, call_error, shared_data
from tests.helpers import server_env

pytestmark = pytest.mark.anyio

ERRORS = REPO_ROOT / "bench" / "datasets" / "errors" / "python-errors-dev.jsonl"
DAY = 86_400.0


@pytest.fixture
def app(settings: Settings, embedder: Embedder) -> MemoryApp:
    """Memories unused for an hour are stale here (MCP_MEMORY_ARCHIVE_AFTER=1h)."""
    return MemoryApp(settings.model_copy(update={"archive_after": 3600.0}), embedder=embedder)


@pytest.fixture
async def client(app: MemoryApp) -> AsyncIterator[Any]:
    from mcp import Client

    from mcp_memory.edge.server import build_server

    async with Client(build_server(app)) as connected:
        yield connected


def dev_errors(count: int) -> list[dict[str, Any]]:
    """The first ``count`` causes of the error dev set that have a message with a name in quotes."""
    rows = [json.loads(line) for line in ERRORS.open()]
    return [row for row in rows if "'" in row["stored"]["error_message"]][:count]


def reworded(resolution: str) -> str:
    """The same fix as another agent writes it down."""
    return f"Fixed it: {resolution[0].lower()}{resolution[1:]}"


async def store_error(client: Any, message: str, context: str, resolution: str, success: bool = True) -> str:
    stored = await call(
        client, "store_error_resolution", error_message=message, context=context, resolution=resolution, success=success
    )
    return str(stored["id"])


def consolidate(app: MemoryApp, dry_run: bool = False, project: str | None = None) -> Any:
    return app.consolidator.run_blocking(dry_run, project)


def set_rows(app: MemoryApp, ids: list[str], **values: Any) -> None:
    """Write columns as another writer would have (a project, or times long past)."""
    with app.database.write() as conn:
        conn.execute(update(memories).where(memories.c.id.in_(ids)).values(**values))


def age(app: MemoryApp, ids: list[str], seconds: float) -> None:
    """Make memories look written (and last touched) ``seconds`` ago."""
    with app.database.write() as conn:
        conn.execute(
            update(memories)
            .where(memories.c.id.in_(ids))
            .values(created_at=memories.c.created_at - seconds, updated_at=memories.c.updated_at - seconds)
        )


def cosine(app: MemoryApp, memory_type: Any, a: str, b: str) -> float:
    vectors = app.store.index.vectors(memory_type, [a, b])
    return float(np.dot(vectors[a], vectors[b]))


async def statuses(client: Any, ids: list[str]) -> list[str]:
    return [(await call(client, "get_memory", id=i))["status"] for i in ids]


# -- merging near-duplicates ---------------------------------------------------------------------------------


@BOTH_DATABASES
async def test_errors_written_twice_merge_with_their_counts_summed(client: Any, app: MemoryApp) -> None:
    rows = dev_errors(8)
    firsts, seconds = [], []
    for row in rows:
        message, context = row["stored"]["error_message"], row["context"]
        firsts.append(await store_error(client, message, context, row["resolution"]))
        await store_error(client, message, context, row["resolution"])  # stored again: usage 2, one vote
        seconds.append(await store_error(client, message, context, reworded(row["resolution"])))
    await call(client, "report_outcome", memory_id=firsts[0], success=True, agent_role="QA_SENTINEL")

    report = consolidate(app)

    assert len(report.merged) == len(rows) == 8
    assert {(m.id, m.into) for m in report.merged} == {
        (second, first) for first, second in zip(firsts, seconds, strict=True)
    }
    assert report.archived == []
    merged = await call(client, "get_memory", id=firsts[0])
    # Stored twice and reported once (3 uses, 2 votes of success), plus the copy stored once (1 use, 1 vote).
    assert (merged["usage_count"], merged["success_count"], merged["failure_count"]) == (4, 3, 0)
    assert [(link["relation"], link["direction"], link["other_id"]) for link in merged["links"]] == [
        ("merged_into", "in", seconds[0])
    ]
    copy = await call(client, "get_memory", id=seconds[0])
    assert (copy["status"], copy["merged_into"]) == ("merged", firsts[0])
    assert copy["status_note"].startswith(f"merged into {firsts[0]}: cosine 1.000")
    found = await call(client, "recall_error_solutions", error_message=rows[0]["stored"]["error_message"], n_results=10)
    assert firsts[0] in [h["id"] for h in found["results"]] and seconds[0] not in [h["id"] for h in found["results"]]
    assert (await call(client, "memory_stats"))["out_of_recall"] == {"merged": 8}

    again = consolidate(app)
    assert (again.merged, again.archived, again.compared) == ([], [], 0)


def cosqa_pool() -> dict[int, str]:
    rows = (json.loads(line) for line in shared_data("cosqa-code-pool.jsonl").open())
    return {row["code_id"]: row["code"] for row in rows}


def cosqa_queries() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for line in shared_data("cosqa-dev-queries.jsonl").open():
        row = json.loads(line)
        found.setdefault(row["gold_code_id"], []).append(row["query"])
    return found


def function_name(code: str) -> str:
    match = re.search(r"def\s+(\w+)", code)
    return match.group(1) if match else "function"


async def store_function(client: Any, code: str) -> str:
    stored = await call(
        client, "store_code_pattern", pattern_name=function_name(code), code=code, language="python", context=""
    )
    return str(stored["id"])


async def test_code_written_twice_merges_and_code_close_in_meaning_but_different_does_not(
    client: Any, app: MemoryApp
) -> None:
    pool = cosqa_pool()
    pairs = []
    for code_id in (0, 1, 2, 6, 7, 8):  # CoSQA functions, and each again without comments, laid out anew
        pairs.append(
            (await store_function(client, pool[code_id]), await store_function(client, unparsed(pool[code_id])))
        )
    by_name = {function_name(code): code for code in pool.values()}
    to_args = await store_function(client, by_name["_iterable_to_varargs_method"])
    to_iterable = await store_function(client, by_name["_varargs_to_iterable_method"])
    queries = cosqa_queries()
    solutions = []
    for code_id in (581, 1450, 5581, 314):  # one function, the answer to two real queries
        ids = [
            (await call(client, "store_solution", problem=query, solution=pool[code_id], language="python"))["id"]
            for query in queries[code_id][:2]
        ]
        solutions.append((ids[0], ids[1]))
    # The two decorators undo each other: as close in meaning as the copies, different code.
    assert cosine(app, "pattern", to_args, to_iterable) >= 0.99
    assert cosine(app, "solution", *solutions[-1]) < MERGE_THRESHOLDS["solution"]

    report = consolidate(app)

    merged = {frozenset((m.id, m.into)) for m in report.merged}
    assert merged == {frozenset(pair) for pair in [*pairs, *solutions[:3]]}
    assert {m.type for m in report.merged} == {"pattern", "solution"}
    assert await statuses(client, [to_args, to_iterable, *solutions[-1]]) == ["active"] * 4


async def test_no_merge_across_projects_signatures_fixes_outcomes_or_types(client: Any, app: MemoryApp) -> None:
    row = dev_errors(1)[0]
    message, context, fix = row["stored"]["error_message"], row["context"], row["resolution"]
    home = await store_error(client, message, context, fix)
    elsewhere = await store_error(client, message, context, reworded(fix))
    set_rows(app, [elsewhere], project="billing")
    other_fix = await store_error(client, message, context, "Pin the dependency to the previous release.")
    failed = await store_error(client, message, context, fix + " (then restart)", success=False)
    space = await store_error(client, "OSError: [Errno 28] No space left on device", "writing the cache", "Free space.")
    io = await store_error(client, "IOError: [Errno 28] No space left on device", "writing the cache", "Free space.")
    code = "def read_config(path):\n    with open(path) as f:\n        return f.read()"
    pattern = (await call(client, "store_code_pattern", pattern_name="read_config", code=code, language="python",
                          context=""))["id"]  # fmt: skip
    solution = (await call(client, "store_solution", problem="read_config", solution=code, language="python"))["id"]
    # Each pair is as close as duplicates are: what keeps it apart is the rule under test.
    threshold = MERGE_THRESHOLDS["error"]
    assert min(cosine(app, "error", home, x) for x in (elsewhere, other_fix, failed)) >= threshold
    assert cosine(app, "error", space, io) >= threshold

    report = consolidate(app)

    assert report.merged == []
    ids = [home, elsewhere, other_fix, failed, space, io, pattern, solution]
    assert await statuses(client, ids) == ["active"] * len(ids)

    in_billing = consolidate(app, project="billing")
    assert (in_billing.project, in_billing.compared, in_billing.merged) == ("billing", 1, [])


async def test_a_dry_run_says_what_it_would_do_and_changes_nothing(client: Any, app: MemoryApp) -> None:
    row = dev_errors(1)[0]
    message, context = row["stored"]["error_message"], row["context"]
    first = await store_error(client, message, context, row["resolution"])
    second = await store_error(client, message, context, reworded(row["resolution"]))
    failing = await store_error(client, "KeyError: 'tenant_id'", "reading the request", "use .get()", success=False)
    for role in ("QA_SENTINEL", "WORKER_BACKEND"):
        await call(client, "report_outcome", memory_id=failing, success=False, agent_role=role)

    report = run_consolidate(app, dry_run=True, project=None)

    assert report.dry_run and [(m.id, m.into) for m in report.merged] == [(second, first)]
    assert [(a.id, a.why) for a in report.archived] == [(failing, "failed 3 times and never worked")]
    text = consolidate_summary(report)
    assert text.startswith("Would merge 1 near-duplicate(s) and archive 1 memory(ies); compared 3 memories in ")
    assert text.splitlines()[0].endswith("Dry run: nothing changed.")
    assert (
        f"  merge    {second} into {first} (error): near-duplicate (cosine 1.000, the same error line and fix); "
        in text
    )
    assert f"  archive  {failing} (error): failed 3 times and never worked" in text
    assert await statuses(client, [first, second, failing]) == ["active"] * 3
    assert (await call(client, "get_memory", id=first))["usage_count"] == 1

    done = consolidate(app)
    assert [(m.id, m.into) for m in done.merged] == [(second, first)] and [a.id for a in done.archived] == [failing]


# -- archiving ----------------------------------------------------------------------------------------------


@BOTH_DATABASES
async def test_what_only_failed_is_archived_listed_and_restored(client: Any, app: MemoryApp) -> None:
    failing = await store_error(client, "KeyError: 'tenant_id'", "reading the request", "use .get()", success=False)
    twice = await store_error(client, "KeyError: 'region'", "reading settings", "default to us-east-1", success=False)
    mixed = await store_error(client, "KeyError: 'zone'", "reading settings", "read ZONE from env", success=False)
    for role in ("QA_SENTINEL", "WORKER_BACKEND"):
        await call(client, "report_outcome", memory_id=failing, success=False, agent_role=role)
        await call(client, "report_outcome", memory_id=mixed, success=role == "QA_SENTINEL", agent_role=role)
    await call(client, "report_outcome", memory_id=twice, success=False, agent_role="QA_SENTINEL")

    report = consolidate(app)

    assert [(a.id, a.why) for a in report.archived] == [(failing, "failed 3 times and never worked")]
    [listed] = (await call(client, "list_archived"))["memories"]
    assert (listed["id"], listed["reason"], listed["failure_count"], listed["project"]) == (
        failing,
        "failed 3 times and never worked",
        3,
        "",
    )
    assert (await call(client, "list_archived", project="billing"))["memories"] == []
    found = await call(client, "recall_error_solutions", error_message="KeyError: 'tenant_id'", n_results=10)
    assert failing not in [hit["id"] for hit in found["results"]]
    shown = await call(client, "get_memory", id=failing)
    assert (shown["status"], shown["status_note"]) == ("archived", "failed 3 times and never worked")

    restored = await call(client, "restore_memory", id=failing)

    assert (restored["status"], restored["failure_count"]) == ("active", 3)
    found = await call(client, "recall_error_solutions", error_message="KeyError: 'tenant_id'", n_results=10)
    assert failing in [hit["id"] for hit in found["results"]]
    assert (await call(client, "list_archived"))["memories"] == []
    assert "No deleted memory with id" in await call_error(client, "restore_memory", id=failing)


async def test_what_nobody_used_for_longer_than_archive_after_is_archived_but_seeds_never(
    client: Any, app: MemoryApp
) -> None:
    await call(client, "seed_initial_knowledge")
    seeds = list(app.store.rows.ids_where("error", source="seed"))
    stale = await store_error(client, "RecursionError: maximum recursion depth exceeded", "walking a tree", "iterate")
    recalled = await store_error(client, "ZeroDivisionError: division by zero", "averaging", "check for empty lists")
    stored_again = await store_error(client, "UnicodeDecodeError: 'utf-8' codec", "reading a CSV", "encoding=latin-1")
    everything = [*seeds, stale, recalled, stored_again]
    age(app, everything, 2 * 3600)  # written two hours ago; MCP_MEMORY_ARCHIVE_AFTER is one hour
    set_rows(app, seeds, failure_count=5, success_count=0)  # even a seed that keeps failing stays
    await call(client, "recall_error_solutions", error_message="ZeroDivisionError: division by zero", n_results=1)
    await store_error(client, "UnicodeDecodeError: 'utf-8' codec", "reading a CSV", "encoding=latin-1")

    report = consolidate(app)

    assert [a.id for a in report.archived] == [stale]
    assert report.archived[0].why.startswith("not stored again, reported on or recalled since ")
    assert report.archived[0].why.endswith("(over 0.0416667 days)")
    assert await statuses(client, [*seeds, recalled, stored_again]) == ["active"] * (len(seeds) + 2)
    assert (await call(client, "get_memory", id=recalled))["last_used_at"] is not None
    # Stored again, an archived memory is in use again: it comes back by itself.
    again = await call(
        client,
        "store_error_resolution",
        error_message="RecursionError: maximum recursion depth exceeded",
        context="walking a tree",
        resolution="iterate",
        success=True,
    )
    assert (again["id"], again["duplicate"]) == (stale, True)
    assert again["message"] == "Already known and archived: counted this use and brought it back into recall."
    assert (await call(client, "get_memory", id=stale))["status"] == "active"


@BOTH_DATABASES
async def test_restoring_a_merged_memory_gives_back_the_counts_it_brought(client: Any, app: MemoryApp) -> None:
    row = dev_errors(1)[0]
    message, context = row["stored"]["error_message"], row["context"]
    first = await store_error(client, message, context, row["resolution"])
    second = await store_error(client, message, context, reworded(row["resolution"]))
    await call(client, "report_outcome", memory_id=first, success=True, agent_role="QA_SENTINEL")
    consolidate(app)
    assert (await call(client, "get_memory", id=first))["usage_count"] == 3
    # A store of the merged text counts on the memory it was merged into (the writer's vote there is cast already).
    counted = await store_error(client, message, context, reworded(row["resolution"]))
    assert counted == first
    assert (await call(client, "get_memory", id=first))["usage_count"] == 4

    back = await call(client, "restore_memory", id=second)

    assert (back["status"], back["merged_into"], back["usage_count"], back["success_count"]) == ("active", None, 1, 1)
    survivor = await call(client, "get_memory", id=first)
    assert (survivor["usage_count"], survivor["success_count"], survivor["links"]) == (3, 2, [])
    found = await call(client, "recall_error_solutions", error_message=message, n_results=10)
    assert {first, second} <= {hit["id"] for hit in found["results"]}


# -- on a schedule, from the command line, and who may do what ---------------------------------------------


@BOTH_DATABASES
async def test_a_scheduled_run_fires_at_its_interval(settings: Settings, embedder: Embedder) -> None:
    from mcp import Client

    from mcp_memory.edge.server import build_server

    app = MemoryApp(settings.model_copy(update={"consolidate_every": 0.5}), embedder=embedder)
    async with Client(build_server(app)) as client:
        failing = await store_error(client, "KeyError: 'tenant_id'", "reading the request", "use .get()", False)
        for role in ("QA_SENTINEL", "WORKER_BACKEND"):
            await call(client, "report_outcome", memory_id=failing, success=False, agent_role=role)
        started = time.monotonic()
        schedule = app.consolidate_on_schedule()
        assert schedule is not None
        try:
            assert await anyio.to_thread.run_sync(schedule.ran.wait, 60.0)
            assert [a.id for a in schedule.reports[0].archived] == [failing]
            assert time.monotonic() - started >= 0.5
            assert [m["id"] for m in (await call(client, "list_archived"))["memories"]] == [failing]
        finally:
            app.stop_background_work()
    assert not schedule.thread.is_alive()
    off = MemoryApp(settings.model_copy(update={"consolidate_every": 0.0}), embedder=embedder)
    assert off.consolidate_on_schedule() is None


def test_the_cli_consolidates_a_data_dir_and_dry_runs_without_changing_it(tmp_path: Path) -> None:
    data = tmp_path / "data"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mcp_memory", "consolidate", "--data-dir", str(data), *args],
            capture_output=True,
            text=True,
            env=server_env(),
            timeout=300,
        )

    empty = cli("--dry-run")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.startswith("Would merge 0 near-duplicate(s) and archive 0 memory(ies); compared 0 memories")
    done = cli("--json", "--project", "billing")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["project"] == "billing"


@pytest.mark.slow
def test_through_a_server_that_owns_the_data_dir_roles_hold(tmp_path: Path) -> None:
    """The CLI goes through the owner; a reader lists what was archived, only an admin restores it."""
    from tests.processes import error_text, http_client, http_server, serve_env, tool

    reader, writer, admin = "reader-0d6e2b9c", "writer-4a7c1f35", "admin-8b2e9d04"
    others = ["writer-61f0c3aa", "writer-93b7e21d"]  # one vote per agent: three agents saw it fail
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(
        f"viewer:{reader}:reader\nworker:{writer}\nops:{admin}:admin\nqa:{others[0]}\nreviewer:{others[1]}\n"
    )
    env = serve_env(MCP_MEMORY_TOKENS_FILE=str(tokens))

    async def prepare(url: str) -> str:
        async with http_client(url, writer) as worker:
            stored = await tool(
                worker,
                "store_error_resolution",
                error_message="KeyError: 'tenant_id'",
                context="reading the request",
                resolution="use .get()",
                success=False,
            )
        for token in others:
            async with http_client(url, token) as other:
                await tool(other, "report_outcome", memory_id=stored["id"], success=False)
        return str(stored["id"])

    async def check(url: str, failing: str) -> None:
        async with (
            http_client(url, reader) as viewer,
            http_client(url, writer) as worker,
            http_client(url, admin) as ops,
        ):
            assert [m["id"] for m in (await tool(viewer, "list_archived"))["memories"]] == [failing]
            for client in (viewer, worker):
                refused = await client.call_tool("restore_memory", {"id": failing})
                assert refused.is_error and "Only an admin may restore memories" in error_text(refused)
            assert (await tool(ops, "restore_memory", id=failing))["status"] == "active"

    with http_server(tmp_path / "data", tmp_path, env=env) as server:
        failing = anyio.run(prepare, server.url)
        command = [sys.executable, "-m", "mcp_memory", "consolidate", "--data-dir", str(tmp_path / "data")]
        dry = subprocess.run([*command, "--dry-run"], capture_output=True, text=True, env=env, timeout=300)
        assert dry.returncode == 0, dry.stderr
        assert f"  archive  {failing} (error): failed 3 times and never worked" in dry.stdout
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("Merged 0 near-duplicate(s) and archived 1 memory(ies)")
        anyio.run(check, server.url, failing)


def unparsed(code: str) -> str:
    return ast.unparse(ast.parse(code))
