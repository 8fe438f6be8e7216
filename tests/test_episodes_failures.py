"""Failure analysis: error signatures, and failed episodes that share a cause forming one actionable cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcp_memory.config import Settings
from mcp_memory.episodes.digest import is_error_event
from mcp_memory.memory.error_signature import error_signature, exception_line
from tests.conftest import DATABASES, call, settings_on


@pytest.fixture(params=DATABASES)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The failure analysis runs on the SQLite file and on a PostgreSQL database."""
    return settings_on(request, tmp_path)


def _traceback(path: str, line: int, module: str) -> str:
    return (
        f'Traceback (most recent call last):\n  File "{path}", line {line}, in <module>\n'
        f"    import {module}\nModuleNotFoundError: No module named '{module}'"
    )


@pytest.mark.parametrize(
    ("text", "signature"),
    [
        (
            _traceback("/srv/app/main.py", 3, "fastapi"),
            "ModuleNotFoundError: No module named <name>",
        ),
        (
            "ModuleNotFoundError: No module named 'httpx.client'",
            "ModuleNotFoundError: No module named <name>",
        ),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: '/tmp/run-42/config.yaml'",
            "FileNotFoundError: [Errno <n>] No such file or directory: <path>",
        ),
        ("E   AssertionError: expected 200, got 500", "AssertionError: expected <n>, got <n>"),
        ("KeyError: 'user_id'", "KeyError: <name>"),
        ("asyncio.exceptions.TimeoutError", "TimeoutError"),
        (
            "requests.exceptions.ConnectionError: HTTPConnectionPool(host='localhost', port=8000): Max retries",
            "ConnectionError: HTTPConnectionPool(host=<name>, port=<n>): Max retries",
        ),
        (
            "TypeError: <Foo object at 0x7f3a2b1c9d> is not JSON serializable",
            "TypeError: <Foo object at <addr>> is not JSON serializable",
        ),
        ("error: could not compile src/main.rs at line 12", "error: could not compile <path> at line <n>"),
        ("OSError: cannot open C:\\Users\\dev\\app\\data.db", "OSError: cannot open <path>"),
    ],
)
def test_an_error_signature_keeps_the_type_and_template_and_drops_the_specifics(text: str, signature: str) -> None:
    assert error_signature(text) == signature


def test_the_exception_line_of_a_traceback_is_its_last_exception() -> None:
    text = "Traceback...\nValueError: first\n\nDuring handling...\nRuntimeError: second\n"

    assert exception_line(text) == "RuntimeError: second"


async def _failed_episode(client: Any, task: str, failure: tuple[str, str, dict[str, Any]] | None) -> str:
    episode_id = (await call(client, "start_episode", task=task))["episode_id"]
    steps = [
        ("plan", "WORKER_BACKEND", {"thought": f"Plan for: {task}"}),
        ("code_generation", "WORKER_BACKEND", {"file": "app/main.py", "lines": 40}),
    ]
    for event_type, role, data in [*steps, *([failure] if failure else [])]:
        await call(client, "record_event", episode_id=episode_id, event_type=event_type, agent_role=role, data=data)
    await call(client, "end_episode", episode_id=episode_id, success=False)
    return str(episode_id)


@pytest.mark.anyio
async def test_failed_episodes_with_one_cause_form_one_cluster_with_the_stored_fix(client: Any) -> None:
    fix = await call(
        client,
        "store_error_resolution",
        error_message="ModuleNotFoundError: No module named 'requests'",
        context="running the test suite in CI",
        resolution="Install the missing package into the active virtualenv (pip install <package>) and add it to "
        "the project's dependencies.",
        success=True,
    )
    missing = [
        ("/srv/app/main.py", 3, "fastapi"),
        ("/home/ci/build/api/client.py", 12, "httpx"),
        ("C:\\work\\svc\\settings.py", 7, "pydantic_settings"),
    ]
    module_failures = [
        await _failed_episode(
            client,
            f"Service {n}: add an endpoint",
            ("test_run", "QA_SENTINEL", {"command": "pytest -q", "returncode": 1, "stderr": _traceback(*m)}),
        )
        for n, m in enumerate(missing)
    ]
    for status in (500, 404):
        await _failed_episode(
            client,
            f"Fix the {status} on /items",
            ("verification", "CONSENSUS_JUDGE", {"error": f"AssertionError: expected 200, got {status}"}),
        )
    silent = await _failed_episode(client, "Tidy the README", None)
    recovered = (await call(client, "start_episode", task="Recovered"))["episode_id"]
    await call(
        client,
        "record_event",
        episode_id=recovered,
        event_type="test_run",
        agent_role="QA_SENTINEL",
        data={"error": "ModuleNotFoundError: No module named 'numpy'"},
    )
    await call(client, "end_episode", episode_id=recovered, success=True)

    analysis = await call(client, "analyze_failures")

    assert analysis["failed_episodes"] == 6
    modules, assertions, no_error = analysis["clusters"]
    assert modules["signature"] == "ModuleNotFoundError: No module named <name>"
    assert (modules["count"], set(modules["episode_ids"])) == (3, set(module_failures))
    assert modules["failing_event_types"] == {"test_run": 3}
    assert modules["agent_roles"] == {"QA_SENTINEL": 3}
    assert modules["preceded_by"] == {"code_generation": 3}
    assert [line.split(":")[0] for line in modules["preceding_events"]] == [
        "#1 plan (WORKER_BACKEND)",
        "#2 code_generation (WORKER_BACKEND)",
        "#3 test_run (QA_SENTINEL)",
    ]
    assert set(modules["examples"]) == {f"ModuleNotFoundError: No module named '{m}'" for *_, m in missing}
    known = modules["known_fixes"][0]
    assert (known["memory_id"], known["same_signature"], known["outcome"]) == (fix["id"], True, "worked")
    advice = modules["advice"]
    assert advice.startswith("3 failed episodes broke with 'ModuleNotFoundError: No module named <name>' (e.g. ")
    assert "at 'test_run' by QA_SENTINEL ×3, usually right after 'code_generation'." in advice
    assert (known["agent"], known["trusted"]) == ("local", True)
    assert f"Known fix (worked): {fix['id']}, stored by 'local' (its resolution is in known_fixes)" in advice
    assert known["resolution"] not in advice  # stored text stays in its own field

    assert (assertions["signature"], assertions["count"]) == ("AssertionError: expected <n>, got <n>", 2)
    assert assertions["agent_roles"] == {"CONSENSUS_JUDGE": 2}
    assert assertions["known_fixes"] == []
    assert "No stored fix matches: once solved, call store_error_resolution" in assertions["advice"]

    assert no_error["episode_ids"] == [silent]
    assert no_error["signature"] == "ended after 'code_generation' by WORKER_BACKEND, no error recorded"
    assert "Record the error text in record_event data (key 'error')" in no_error["advice"]

    assert len((await call(client, "analyze_failures", limit=1))["clusters"]) == 1


@pytest.mark.parametrize(
    ("event_type", "data", "is_error"),
    [
        ("test_run", {"returncode": 1}, True),
        ("test_run", {"returncode": 0, "passed": 12}, False),
        ("command", {"exit_code": 2, "command": "make"}, True),
        ("verification", {"passed": False}, True),
        ("build_failed", {}, True),
        ("error_fixed", {"fix": "pip install httpx"}, False),
        ("http_call", {"status_code": 200}, False),
        ("note", {"error": ""}, False),
        ("note", {"traceback": "Traceback ...\nKeyError: 'x'"}, True),
    ],
)
def test_an_event_counts_as_an_error_by_its_type_error_fields_exit_code_or_false_flag(
    event_type: str, data: dict[str, Any], is_error: bool
) -> None:
    assert is_error_event(event_type, data) is is_error


@pytest.mark.anyio
async def test_failures_and_their_fixes_are_of_the_callers_project_and_global_unless_every_project_is_asked(
    client: Any,
) -> None:
    message = "ModuleNotFoundError: No module named 'requests'"
    fixes = {
        project: await call(
            client,
            "store_error_resolution",
            error_message=message,
            context="running the tests",
            resolution=f"Add requests to the {project} service's requirements and reinstall.",
            success=True,
            project=project,
        )
        for project in ("alpha", "beta")
    }
    failed = {}
    for project in ("alpha", "beta", ""):
        episode_id = (
            await call(client, "start_episode", task=f"Ship the {project or 'shared'} client", project=project)
        )["episode_id"]
        await call(
            client,
            "record_event",
            episode_id=episode_id,
            event_type="test_run",
            agent_role="QA",
            data={"error": message},
        )
        await call(client, "end_episode", episode_id=episode_id, success=False)
        failed[project] = episode_id

    alpha = await call(client, "analyze_failures", project="alpha")
    everywhere = await call(client, "analyze_failures", project="*")

    assert alpha["failed_episodes"] == 2 and set(alpha["clusters"][0]["episode_ids"]) == {failed["alpha"], failed[""]}
    assert [fix["memory_id"] for fix in alpha["clusters"][0]["known_fixes"]] == [fixes["alpha"]["id"]]
    assert everywhere["failed_episodes"] == 3
    assert {fix["memory_id"] for fix in everywhere["clusters"][0]["known_fixes"]} == {f["id"] for f in fixes.values()}
    nothing = await call(client, "analyze_failures", project="gamma-without-failures-of-its-own")
    assert nothing["failed_episodes"] == 1  # the global one
