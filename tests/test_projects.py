"""Projects: every memory and episode belongs to one; a client's project comes from its roots (or the tool's
argument, or MCP_MEMORY_PROJECT); recall sees the caller's project and global memories, "*" every project."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import ListRootsResult, Root

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.edge.projects import project_of_folder, project_of_roots, repository_name
from mcp_memory.edge.server import build_server
from mcp_memory.memory.records import content_hash, memory_id
from mcp_memory.storage.embeddings import Embedder
from tests.conftest import call, call_error

pytestmark = pytest.mark.anyio

FIX = {
    "error_message": "ModuleNotFoundError: No module named 'yaml'",
    "context": "loading the deploy config",
    "resolution": "pip install pyyaml (the import name differs from the package name)",
    "success": True,
}
RETRY = "def retry(call, attempts=3):\n    for n in range(attempts):\n        try:\n            return call()\n        except OSError:\n            if n == attempts - 1:\n                raise\n"  # noqa: E501


def plain_folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


def git_checkout(tmp_path: Path, name: str, origin: str) -> Path:
    """A folder that is a git checkout with an ``origin`` remote, as ``git clone`` leaves it."""
    folder = tmp_path / name
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "config").write_text(
        "[core]\n\trepositoryformatversion = 0\n\tbare = false\n"
        f'[remote "origin"]\n\turl = {origin}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n'
        '[branch "main"]\n\tremote = origin\n\tmerge = refs/heads/main\n'
    )
    return folder


class Roots:
    """A client's roots, changeable, counting how often the server asked for them."""

    def __init__(self, *folders: Path) -> None:
        self.folders = list(folders)
        self.asked = 0

    async def __call__(self, context: Any) -> ListRootsResult:
        self.asked += 1
        return ListRootsResult(roots=[Root(uri=folder.as_uri(), name=folder.name) for folder in self.folders])


@asynccontextmanager
async def connect(server: Any, roots: Roots | None = None, mode: str = "legacy") -> AsyncIterator[Any]:
    """A client of ``server`` that declares roots when given them (``mode``: the protocol era)."""
    async with Client(server, list_roots_callback=roots, mode=mode) as client:  # type: ignore[arg-type]
        yield client


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """Two projects: a plain folder "alpha", and a checkout of acme/beta-service in a folder named otherwise."""
    return plain_folder(tmp_path, "alpha"), git_checkout(tmp_path, "work-copy", "git@github.com:acme/beta-service.git")


def ids(result: dict[str, Any]) -> list[str]:
    return [hit["id"] for hit in result["results"]]


# -- naming a project ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("git@github.com:acme/api.git", "api"),
        ("https://github.com/acme/api", "api"),
        ("https://gitlab.example.com/group/sub/api.git/", "api"),
        ("ssh://git@host:2222/acme/api.git", "api"),
        ("/srv/git/api.git", "api"),
        ("file:///srv/git/api", "api"),
    ],
)
def test_a_repository_is_named_by_the_last_part_of_its_url(url: str, name: str) -> None:
    assert repository_name(url) == name


def test_a_checkout_with_an_origin_is_named_after_its_repository_and_a_plain_folder_after_itself(
    folders: tuple[Path, Path], tmp_path: Path
) -> None:
    alpha, checkout = folders
    assert project_of_folder(checkout) == "beta-service"
    assert project_of_folder(alpha) is None
    assert project_of_roots([Root(uri=alpha.as_uri())]) == "alpha"
    assert project_of_roots([Root(uri=checkout.as_uri()), Root(uri=alpha.as_uri())]) == "beta-service"
    # A folder this machine does not have (a client elsewhere) is named by its path.
    assert project_of_roots([Root(uri="file:///home/someone/projects/gamma/")]) == "gamma"


def test_a_worktree_reads_the_origin_of_the_repository_it_belongs_to(tmp_path: Path) -> None:
    main = git_checkout(tmp_path, "main-checkout", "https://github.com/acme/delta.git")
    (main / ".git" / "worktrees" / "feature").mkdir(parents=True)
    (main / ".git" / "worktrees" / "feature" / "commondir").write_text("../..\n")
    worktree = tmp_path / "feature-worktree"
    worktree.mkdir()
    (worktree / ".git").write_text(f"gitdir: {main / '.git' / 'worktrees' / 'feature'}\n")
    assert project_of_folder(worktree) == "delta"


# -- what each project sees ------------------------------------------------------------------------


async def test_what_one_project_stores_the_other_does_not_recall_unless_it_asks_for_every_project(
    app: MemoryApp, folders: tuple[Path, Path]
) -> None:
    server = build_server(app)
    alpha_roots, beta_roots = Roots(folders[0]), Roots(folders[1])
    async with connect(server, alpha_roots) as alpha, connect(server, beta_roots) as beta:
        stored = await call(alpha, "store_error_resolution", **FIX)

        mine = await call(alpha, "recall_error_solutions", error_message="No module named 'yaml'")
        theirs = await call(beta, "recall_error_solutions", error_message="No module named 'yaml'")
        everywhere = await call(beta, "recall_error_solutions", error_message="No module named 'yaml'", project="*")

        assert ids(mine) == [stored["id"]]
        assert mine["project"] == "alpha" and mine["results"][0]["project"] == "alpha"
        assert theirs["results"] == [] and theirs["project"] == "beta-service"
        assert 'project="*"' in theirs["note"]
        assert ids(everywhere) == [stored["id"]] and everywhere["results"][0]["project"] == "alpha"

        record = await call(beta, "get_memory", id=stored["id"])  # an id reads the same from anywhere
        assert record["project"] == "alpha"
        for tool, query in (("search_memory", "query"), ("recall_solutions", "problem")):
            found = await call(beta, tool, **{query: "No module named yaml"})
            assert stored["id"] not in ids(found)
    assert alpha_roots.asked == 1 and beta_roots.asked == 1  # asked once per session, then kept


async def test_seeds_and_global_knowledge_reach_every_project(app: MemoryApp, folders: tuple[Path, Path]) -> None:
    server = build_server(app)
    async with connect(server, Roots(folders[0])) as alpha, connect(server, Roots(folders[1])) as beta:
        await call(alpha, "seed_initial_knowledge")
        shared = await call(
            beta,
            "add_custom_knowledge",
            title="Retry budget",
            content="Retry at most 3 times.",
            knowledge_type="pattern",
        )
        own = await call(
            alpha,
            "add_custom_knowledge",
            title="Alpha deploy rule",
            content="Deploy alpha on Tuesdays only.",
            knowledge_type="best_practice",
            project="alpha",
        )
        for client in (alpha, beta):
            found = await call(client, "search_memory", query="singleton pattern one instance", n_results=3)
            assert found["results"][0]["source"] == "seed" and found["results"][0]["project"] == ""
            budget = await call(client, "search_memory", query="how many times to retry", n_results=3)
            assert shared["id"] in ids(budget)
        in_alpha = await call(alpha, "search_memory", query="when to deploy", n_results=10)
        in_beta = await call(beta, "search_memory", query="when to deploy", n_results=10)
        assert own["id"] in ids(in_alpha) and own["id"] not in ids(in_beta)


async def test_the_project_argument_overrides_the_roots(app: MemoryApp, folders: tuple[Path, Path]) -> None:
    server = build_server(app)
    async with connect(server, Roots(folders[0])) as alpha:
        stored = await call(alpha, "store_error_resolution", **FIX, project="gamma")
        assert (await call(alpha, "get_memory", id=stored["id"]))["project"] == "gamma"
        assert ids(await call(alpha, "recall_error_solutions", error_message=FIX["error_message"])) == []
        found = await call(alpha, "recall_error_solutions", error_message=FIX["error_message"], project="gamma")
        assert ids(found) == [stored["id"]] and found["project"] == "gamma"
        only_global = await call(alpha, "recall_error_solutions", error_message=FIX["error_message"], project="")
        assert only_global["results"] == [] and only_global["project"] == ""


async def test_mcp_memory_project_is_the_project_of_a_client_without_roots(
    tmp_path: Path, embedder: Embedder, folders: tuple[Path, Path]
) -> None:
    settings = Settings(data_dir=tmp_path / "data", seed_on_start=False, project="delta", _env_file=None)  # type: ignore[call-arg]
    server = build_server(MemoryApp(settings, embedder=embedder))
    async with connect(server) as rootless, connect(server, Roots(folders[0])) as alpha:
        stored = await call(rootless, "store_error_resolution", **FIX)
        assert (await call(rootless, "get_memory", id=stored["id"]))["project"] == "delta"
        assert ids(await call(rootless, "recall_error_solutions", error_message=FIX["error_message"])) == [stored["id"]]
        assert ids(await call(alpha, "recall_error_solutions", error_message=FIX["error_message"])) == []


def test_mcp_memory_project_names_one_project(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MCP_MEMORY_PROJECT", " acme-api ")
    assert Settings(data_dir=tmp_path, _env_file=None).project == "acme-api"  # type: ignore[call-arg]
    monkeypatch.setenv("MCP_MEMORY_PROJECT", "*")
    with pytest.raises(ValueError, match="one project"):
        Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]


async def test_when_the_roots_change_the_client_is_in_its_new_project(
    app: MemoryApp, folders: tuple[Path, Path]
) -> None:
    roots = Roots(folders[0])
    async with connect(build_server(app), roots) as client:
        stored = await call(client, "store_error_resolution", **FIX)
        assert ids(await call(client, "recall_error_solutions", error_message=FIX["error_message"])) == [stored["id"]]

        roots.folders = [folders[1]]
        with warnings.catch_warnings():  # roots are deprecated from the 2026-07-28 protocol on; this is the one before
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await client.send_roots_list_changed()
        with anyio.fail_after(5):  # the notification and the next request travel separately
            while (await call(client, "recall_error_solutions", error_message="yaml"))["project"] != "beta-service":
                await anyio.sleep(0.02)
        assert ids(await call(client, "recall_error_solutions", error_message=FIX["error_message"])) == []
        moved = await call(client, "store_error_resolution", **FIX)
        assert (await call(client, "get_memory", id=moved["id"]))["project"] == "beta-service"
    assert roots.asked == 2


async def test_a_client_of_the_2026_protocol_is_asked_for_its_roots_with_the_call(
    app: MemoryApp, folders: tuple[Path, Path]
) -> None:
    roots = Roots(folders[1])
    async with connect(build_server(app), roots, mode="auto") as client:
        assert client.protocol_version == "2026-07-28"
        stored = await call(client, "store_error_resolution", **FIX)
        found = await call(client, "recall_error_solutions", error_message=FIX["error_message"])
        assert found["project"] == "beta-service" and ids(found) == [stored["id"]]
        named = await call(client, "recall_error_solutions", error_message=FIX["error_message"], project="alpha")
        assert named["results"] == []
    assert roots.asked == 2  # no session to keep them in: asked with each call that needs them


# -- identity --------------------------------------------------------------------------------------


async def test_the_same_content_in_two_projects_is_two_memories_and_a_global_one_keeps_its_old_id(
    app: MemoryApp, folders: tuple[Path, Path]
) -> None:
    server = build_server(app)
    async with connect(server, Roots(folders[0])) as alpha, connect(server, Roots(folders[1])) as beta:
        first = await call(alpha, "store_code_pattern", pattern_name="retry", code=RETRY, language="python", context="")
        again = await call(alpha, "store_code_pattern", pattern_name="retry", code=RETRY, language="python", context="")
        other = await call(beta, "store_code_pattern", pattern_name="retry", code=RETRY, language="python", context="")
        shared = await call(
            beta, "store_code_pattern", pattern_name="retry", code=RETRY, language="python", context="", project=""
        )
    assert again["id"] == first["id"] and again["duplicate"] and again["usage_count"] == 2
    assert other["id"] != first["id"] and not other["duplicate"]
    # A global memory's id is the one every release gave that content: stores written before projects keep theirs.
    assert shared["id"] == memory_id("pattern", content_hash("pattern", f"python\n{RETRY.strip()}"))
    assert len({first["id"], other["id"], shared["id"]}) == 3


# -- everything else that reads by project ---------------------------------------------------------


async def test_episodes_suggestions_and_stats_are_per_project(app: MemoryApp, folders: tuple[Path, Path]) -> None:
    server = build_server(app)
    async with connect(server, Roots(folders[0])) as alpha, connect(server, Roots(folders[1])) as beta:
        started = await call(alpha, "start_episode", task="Add JWT authentication to the alpha API")
        assert started["project"] == "alpha"
        await call(alpha, "end_episode", episode_id=started["episode_id"], success=True, summary="JWT auth added")
        await call(alpha, "store_code_pattern", pattern_name="retry", code=RETRY, language="python", context="")

        task = "JWT authentication for the API"
        mine = await call(alpha, "recall_similar_episodes", task_description=task)
        theirs = await call(beta, "recall_similar_episodes", task_description=task)
        everywhere = await call(beta, "recall_similar_episodes", task_description=task, project="*")
        assert [e["episode_id"] for e in mine["results"]] == [started["episode_id"]]
        assert mine["results"][0]["project"] == "alpha" and mine["results"][0]["ended_ago"] == "just now"
        assert theirs["results"] == [] and 'project="*"' in theirs["note"]
        assert [e["episode_id"] for e in everywhere["results"]] == [started["episode_id"]]
        assert (await call(beta, "list_episodes"))["total"] == 0
        assert (await call(alpha, "list_episodes"))["episodes"][0]["project"] == "alpha"

        suggested = await call(alpha, "suggest_patterns", task_description="retry a flaky call")
        assert suggested["results"][0]["project"] == "alpha"
        assert (await call(beta, "suggest_patterns", task_description="retry a flaky call"))["results"] == []

        stats = await call(beta, "memory_stats")
        assert stats["project"] == "beta-service" and stats["total"] == 0
        assert stats["by_project"] == {"alpha": 2}  # the pattern and the ended episode
        assert (await call(alpha, "memory_stats"))["total"] == 2
        assert (await call(beta, "memory_stats", project="*"))["total"] == 2


async def test_the_task_prompt_and_resources_use_the_callers_project(
    app: MemoryApp, folders: tuple[Path, Path]
) -> None:
    server = build_server(app)
    async with connect(server, Roots(folders[0])) as alpha, connect(server, Roots(folders[1])) as beta:
        await call(alpha, "store_code_pattern", pattern_name="retry", code=RETRY, language="python", context="")
        knowledge = await call(
            alpha,
            "add_custom_knowledge",
            title="Alpha retry rule",
            content="Retry alpha calls 3 times.",
            knowledge_type="pattern",
            project="alpha",
        )

        async def prompt(client: Any, **extra: str) -> str:
            got = await client.get_prompt("memory_informed_task", {"task_description": "retry a flaky call", **extra})
            return got.messages[0].content.text

        assert "def retry(call" in await prompt(alpha) and "Task in project alpha" in await prompt(alpha)
        assert "def retry(call" not in await prompt(beta)
        assert "def retry(call" in await prompt(beta, project="alpha")

        index_alpha = (await alpha.read_resource("memory://knowledge")).contents[0].text
        index_beta = (await beta.read_resource("memory://knowledge")).contents[0].text
        assert knowledge["id"] in index_alpha and knowledge["id"] not in index_beta
        stats = json.loads((await beta.read_resource("memory://stats")).contents[0].text)
        assert stats["project"] == "beta-service" and stats["by_project"]["alpha"] == 2


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"project": "x" * 201}, "project"),
        ({"project": "two\nlines"}, "project"),
    ],
)
async def test_a_bad_project_is_a_tool_error_naming_it(client: Any, arguments: dict[str, Any], field: str) -> None:
    text = await call_error(client, "recall_error_solutions", error_message="boom", **arguments)
    assert f"Invalid '{field}'" in text


async def test_a_memory_is_not_stored_in_every_project(client: Any) -> None:
    text = await call_error(client, "store_error_resolution", **FIX, project="*")
    assert "Invalid 'project'" in text and "stored in one" in text


# -- export ----------------------------------------------------------------------------------------


async def test_export_of_one_project_holds_its_memories_and_episodes_only(
    app: MemoryApp, folders: tuple[Path, Path], tmp_path: Path
) -> None:
    from mcp_memory.cli import main as cli

    server = build_server(app)
    async with connect(server, Roots(folders[0])) as alpha, connect(server, Roots(folders[1])) as beta:
        mine = await call(alpha, "store_error_resolution", **FIX)
        episode = await call(alpha, "start_episode", task="alpha task")
        await call(beta, "store_error_resolution", **FIX)
        await call(beta, "start_episode", task="beta task")
        await call(alpha, "store_error_resolution", **FIX, project="")

    target = tmp_path / "alpha.jsonl"
    data_dir = str(app.settings.data_dir)
    await anyio.to_thread.run_sync(cli.main, ["export", str(target), "--project", "alpha", "--data-dir", data_dir])
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["kind"] for line in lines] == ["header", "memory", "episode"]
    assert lines[1]["id"] == mine["id"] and lines[1]["metadata"]["project"] == "alpha"
    assert lines[2]["id"] == episode["episode_id"] and lines[2]["project"] == "alpha"

    whole = tmp_path / "all.jsonl"
    await anyio.to_thread.run_sync(cli.main, ["export", str(whole), "--data-dir", data_dir])
    assert len(whole.read_text().splitlines()) == 1 + 3 + 2

    restored_dir = tmp_path / "restored"
    await anyio.to_thread.run_sync(cli.main, ["import", str(whole), "--data-dir", str(restored_dir)])
    again = tmp_path / "again.jsonl"
    await anyio.to_thread.run_sync(cli.main, ["export", str(again), "--data-dir", str(restored_dir)])
    assert again.read_text() == whole.read_text()  # projects travel with their memories and episodes


# -- a process that forwards to the store's owner ----------------------------------------------------


@asynccontextmanager
async def stdio_with_roots(data_dir: Path, roots: Roots | None, mode: str = "legacy", **env: str) -> AsyncIterator[Any]:
    from mcp import StdioServerParameters

    from tests.processes import serve_env

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_memory", "serve", "--data-dir", str(data_dir)],
        env=serve_env(**env),
    )
    async with Client(params, read_timeout_seconds=120, list_roots_callback=roots, mode=mode) as client:  # type: ignore[arg-type]
        yield client


@pytest.mark.slow
async def test_a_forwarding_process_keeps_its_clients_project(tmp_path: Path, folders: tuple[Path, Path]) -> None:
    data_dir = tmp_path / "shared"
    with anyio.fail_after(240):
        async with stdio_with_roots(data_dir, Roots(folders[0])) as owner_client:
            stored_in_alpha = await call(owner_client, "store_error_resolution", **FIX)  # this process owns the store
            async with (
                stdio_with_roots(data_dir, Roots(folders[1])) as forwarded,
                stdio_with_roots(data_dir, Roots(folders[1]), mode="auto") as forwarded_2026,
                stdio_with_roots(data_dir, None, MCP_MEMORY_PROJECT="delta") as rootless,
            ):
                in_beta = await call(forwarded, "store_error_resolution", **FIX)
                assert (await call(forwarded, "get_memory", id=in_beta["id"]))["project"] == "beta-service"
                beta_view = await call(forwarded, "recall_error_solutions", error_message=FIX["error_message"])
                assert beta_view["project"] == "beta-service" and ids(beta_view) == [in_beta["id"]]
                again = await call(forwarded_2026, "recall_error_solutions", error_message=FIX["error_message"])
                assert again["project"] == "beta-service" and ids(again) == [in_beta["id"]]

                in_delta = await call(rootless, "store_error_resolution", **FIX)  # the forwarding process's setting
                assert (await call(rootless, "get_memory", id=in_delta["id"]))["project"] == "delta"

                alpha_view = await call(owner_client, "recall_error_solutions", error_message=FIX["error_message"])
                assert ids(alpha_view) == [stored_in_alpha["id"]]
                every = await call(
                    forwarded, "recall_error_solutions", error_message=FIX["error_message"], project="*", n_results=5
                )
                assert {hit["project"] for hit in every["results"]} == {"alpha", "beta-service", "delta"}
                prompt = await forwarded.get_prompt("memory_informed_task", {"task_description": FIX["error_message"]})
                assert "Task in project beta-service" in prompt.messages[0].content.text
