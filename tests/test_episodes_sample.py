"""Real coding-agent runs (SWE-bench tasks, ../shared/data/episodes-sample.jsonl) imported as episodes.

A new task in the same code base should bring back the runs that worked on that code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcp_memory.app import MemoryApp
from tests.conftest import call, shared_data

pytestmark = pytest.mark.anyio

LIBRARY_SIZE = 40


def load_runs() -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in shared_data("episodes-sample.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def import_run(app: MemoryApp, run: dict[str, Any]) -> str:
    """One run as one episode: each step an event, the harness verdict as the outcome."""
    episodes = app.episodes
    episode_id = episodes.start_blocking(
        run["task"], {"repo": run["repo"], "instance": run["id"]}, "SWE_AGENT"
    ).episode_id
    steps = [
        ("step", "SWE_AGENT", {k: e[k] for k in ("thought", "action", "returncode", "observation")})
        for e in run["events"]
    ]
    episodes.record_many_blocking(episode_id, steps)
    metrics = {"files_changed": run["files_changed"], "exit_status": run["exit_status"]}
    episodes.end_blocking(episode_id, bool(run["resolved"]), metrics, "")
    return episode_id


def source_dirs(run: dict[str, Any]) -> set[str]:
    return {str(Path(f).parent) for f in run["files_changed"] if "test" not in f}


async def test_recall_similar_episodes_finds_runs_on_the_same_code_for_new_tasks(app: MemoryApp, client: Any) -> None:
    runs = load_runs()
    library, new_tasks = runs[:LIBRARY_SIZE], runs[LIBRARY_SIZE:]
    repo_of = {import_run(app, run): run for run in library}
    app.episodes.finish_pending_blocking()  # the summaries, embedded in one batch
    queries = [run for run in new_tasks if run["repo"] in {r["repo"] for r in library}]

    same_repo = same_code = with_code_peer = 0
    for query in queries:
        found = await call(client, "recall_similar_episodes", task_description=query["task"], n_results=5)
        top = [repo_of[r["episode_id"]] for r in found["results"]]
        same_repo += any(r["repo"] == query["repo"] for r in top[:3])
        if any(source_dirs(r) & source_dirs(query) for r in library):
            with_code_peer += 1
            same_code += any(source_dirs(r) & source_dirs(query) for r in top)

    assert len(queries) >= 30
    assert same_repo / len(queries) >= 0.9, (same_repo, len(queries))
    assert same_code / with_code_peer >= 0.6, (same_code, with_code_peer)


async def test_a_run_that_changed_a_file_is_found_by_a_task_naming_that_file(app: MemoryApp, client: Any) -> None:
    runs = load_runs()[:LIBRARY_SIZE]
    ids = {import_run(app, run): run for run in runs}
    app.episodes.finish_pending_blocking()
    target = next(run for run in runs if run["resolved"] and run["repo"] == "sympy/sympy")
    path = next(f for f in target["files_changed"] if "test" not in f)

    found = await call(
        client,
        "recall_similar_episodes",
        task_description=f"Bug in {path}: {target['task'][:300]}",
        n_results=3,
        success_only=True,
    )

    top = found["results"][0]
    assert ids[top["episode_id"]]["id"] == target["id"]
    assert top["outcome"] == "succeeded" and top["how_it_ended"].startswith("Succeeded after")
    assert f"your task names its files {path}" in top["why"]
