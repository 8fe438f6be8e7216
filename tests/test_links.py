"""Links between memories through the MCP tools: link and unlink, supersession out of recall and back, links to
episodes, the links the server makes itself (consensus winners, error fixes stored during an episode), and who may
do what (real servers behind tokens)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import BOTH_DATABASES, call, call_error

pytestmark = pytest.mark.anyio

ERROR = "ModuleNotFoundError: No module named 'yaml'"
OLD_FIX = "pip install yaml"
NEW_FIX = "pip install pyyaml (the package is named pyyaml; 'yaml' on PyPI is something else)"


async def store_fix(client: Any, resolution: str, **extra: Any) -> dict[str, Any]:
    return await call(
        client,
        "store_error_resolution",
        error_message=ERROR,
        context="loading the config file",
        resolution=resolution,
        success=True,
        **extra,
    )


async def store_pattern(client: Any, name: str, code: str, context: str = "") -> dict[str, Any]:
    return await call(client, "store_code_pattern", pattern_name=name, code=code, language="python", context=context)


def recalled(result: dict[str, Any]) -> list[str]:
    return [hit["id"] for hit in result["results"]]


@BOTH_DATABASES
async def test_a_link_is_recorded_with_its_agent_and_shown_from_both_ends(client: Any) -> None:
    fix = await store_fix(client, NEW_FIX)
    pattern = await store_pattern(
        client, "Load YAML config", "import yaml\n\ndef load(path):\n    return yaml.safe_load(open(path))"
    )

    linked = await call(
        client, "link_memories", from_id=fix["id"], to_id=pattern["id"], relation="related", note="same config loader"
    )
    again = await call(client, "link_memories", from_id=fix["id"], to_id=pattern["id"], relation="related")

    assert (linked["changed"], again["changed"]) == (True, False)
    assert again["message"] == "That link was already there."
    [out] = (await call(client, "get_memory", id=fix["id"]))["links"]
    [into] = (await call(client, "get_memory", id=pattern["id"]))["links"]
    assert (out["relation"], out["direction"], out["other_id"], out["other_kind"]) == (
        "related",
        "out",
        pattern["id"],
        "memory",
    )
    assert (out["agent"], out["note"], out["other_title"], out["other_status"]) == (
        "local",
        "same config loader",
        "Load YAML config",
        "active",
    )
    assert (into["direction"], into["other_id"], into["note"]) == ("in", fix["id"], "same config loader")
    assert out["created_at"] == into["created_at"]

    removed = await call(client, "unlink_memories", from_id=fix["id"], to_id=pattern["id"], relation="related")
    assert removed["changed"] is True
    assert (await call(client, "get_memory", id=fix["id"]))["links"] == []
    gone = await call_error(client, "unlink_memories", from_id=fix["id"], to_id=pattern["id"], relation="related")
    assert f"No link {fix['id']} related {pattern['id']}" in gone


@BOTH_DATABASES
async def test_a_superseded_memory_leaves_every_recall_and_get_memory_still_reads_it(client: Any) -> None:
    old = await store_fix(client, OLD_FIX)
    new = await store_fix(client, NEW_FIX)
    assert set(recalled(await call(client, "recall_error_solutions", error_message=ERROR, n_results=5))) == {
        old["id"],
        new["id"],
    }

    change = await call(
        client, "link_memories", from_id=new["id"], to_id=old["id"], relation="supersedes", note="wrong package"
    )

    assert change["left_recall"] == [old["id"]]
    assert recalled(await call(client, "recall_error_solutions", error_message=ERROR, n_results=5)) == [new["id"]]
    assert old["id"] not in recalled(await call(client, "search_memory", query=ERROR, n_results=20))
    prompt = await client.get_prompt("memory_informed_task", {"task_description": f"Start the app: {ERROR}"})
    text = prompt.messages[0].content.text
    assert "pyyaml" in text and OLD_FIX + " (" not in text
    shown = await call(client, "get_memory", id=old["id"])
    assert (shown["status"], shown["superseded_by"], shown["fields"]["resolution"]) == (
        "superseded",
        new["id"],
        OLD_FIX,
    )
    assert shown["links"][0]["relation"] == "supersedes" and shown["links"][0]["direction"] == "in"
    assert (await call(client, "get_memory", id=new["id"]))["status"] == "active"
    refused = await call_error(client, "restore_memory", id=old["id"])
    assert f"unlink_memories(from_id='{new['id']}', to_id='{old['id']}', relation='supersedes') brings it" in refused

    back = await call(client, "unlink_memories", from_id=new["id"], to_id=old["id"], relation="supersedes")

    assert back["back_in_recall"] == [old["id"]]
    assert old["id"] in recalled(await call(client, "recall_error_solutions", error_message=ERROR, n_results=5))
    restored = await call(client, "get_memory", id=old["id"])
    assert (restored["status"], restored["superseded_by"], restored["links"]) == ("active", None, [])


async def test_a_superseded_pattern_is_no_longer_suggested(client: Any) -> None:
    task = "parse a retry-after header into seconds"
    old = await store_pattern(client, "Retry-After seconds", "def retry_after(value):\n    return int(value)", task)
    new = await store_pattern(
        client,
        "Retry-After seconds or HTTP date",
        "from email.utils import parsedate_to_datetime\n\ndef retry_after(value):\n    if value.isdigit():\n"
        "        return int(value)\n    return parsedate_to_datetime(value).timestamp()",
        task,
    )
    before = [s["id"] for s in (await call(client, "suggest_patterns", task_description=task))["results"]]
    assert {old["id"], new["id"]} <= set(before)

    await call(client, "link_memories", from_id=new["id"], to_id=old["id"], relation="supersedes")

    after = [s["id"] for s in (await call(client, "suggest_patterns", task_description=task))["results"]]
    assert new["id"] in after and old["id"] not in after


async def test_links_to_episodes_are_allowed_but_an_episode_cannot_be_superseded(client: Any) -> None:
    fix = await store_fix(client, NEW_FIX)
    episode = (await call(client, "start_episode", task="Load the YAML config at start-up"))["episode_id"]

    await call(client, "link_memories", from_id=fix["id"], to_id=episode, relation="fixes")

    [link] = (await call(client, "get_memory", id=fix["id"]))["links"]
    assert (link["relation"], link["other_id"], link["other_kind"], link["other_status"]) == (
        "fixes",
        episode,
        "episode",
        None,
    )
    assert link["other_title"] == "Load the YAML config at start-up"
    refused = await call_error(client, "link_memories", from_id=fix["id"], to_id=episode, relation="supersedes")
    assert "only a memory can be superseded" in refused


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"from_id": "pat_nope", "to_id": "{fix}", "relation": "related"}, "No memory with id 'pat_nope' to link from"),
        ({"from_id": "{fix}", "to_id": "err_nope", "relation": "fixes"}, "No memory or episode with id 'err_nope'"),
        ({"from_id": "{fix}", "to_id": "{fix}", "relation": "related"}, "is from_id itself"),
        ({"from_id": "{fix}", "to_id": "{other}", "relation": "duplicates"}, "Invalid 'relation'"),
        ({"from_id": "", "to_id": "{other}", "relation": "related"}, "Invalid 'from_id'"),
    ],
)
async def test_bad_links_are_refused_with_what_to_do(client: Any, arguments: dict[str, str], expected: str) -> None:
    ids = {"fix": (await store_fix(client, NEW_FIX))["id"], "other": (await store_fix(client, OLD_FIX))["id"]}

    text = await call_error(client, "link_memories", **{k: v.format(**ids) for k, v in arguments.items()})

    assert expected in text


async def test_supersession_cannot_go_round_in_a_circle(client: Any) -> None:
    a, b = await store_fix(client, OLD_FIX), await store_fix(client, NEW_FIX)
    await call(client, "link_memories", from_id=b["id"], to_id=a["id"], relation="supersedes")

    refused = await call_error(client, "link_memories", from_id=a["id"], to_id=b["id"], relation="supersedes")

    assert f"Memory '{a['id']}' is superseded itself, not in recall: it cannot supersede another." in refused


async def test_a_consensus_winner_is_linked_to_the_episode_it_came_from(client: Any) -> None:
    episode = (await call(client, "start_episode", task="Fetch JSON with retries"))["episode_id"]
    code = (
        "import time\n\ndef fetch_json(session, url, tries=3):\n    for attempt in range(tries):\n        try:\n"
        "            return session.get(url).json()\n        except ConnectionError:\n"
        "            time.sleep(2 ** attempt)\n    raise RuntimeError(url)\n"
    )

    learned = await call(
        client,
        "extract_from_consensus",
        winner_candidate={"code": code, "language": "python", "score": 0.9},
        task_context={"description": "Fetch JSON with retries"},
        episode_id=episode,
    )

    assert learned["episode_linked"] is True
    ids = [learned["solution_id"], *(p["id"] for p in learned["new_patterns"])]
    assert len(ids) >= 2
    for memory_id in ids:
        links = (await call(client, "get_memory", id=memory_id))["links"]
        assert [(link["relation"], link["other_id"]) for link in links] == [("learned_from", episode)]


async def test_an_error_fix_stored_during_an_episode_is_linked_and_recorded_there(client: Any) -> None:
    episode = (await call(client, "start_episode", task="Load the YAML config"))["episode_id"]

    fix = await store_fix(client, NEW_FIX, episode_id=episode)
    failed = await call(
        client,
        "store_error_resolution",
        error_message=ERROR,
        context="loading the config file",
        resolution=OLD_FIX,
        success=False,
        episode_id=episode,
    )

    assert f"Linked to episode {episode} and recorded there as event #1 (error_fixed)." in fix["message"]
    assert "event #2 (fix_failed)" in failed["message"]
    for memory_id in (fix["id"], failed["id"]):
        [link] = (await call(client, "get_memory", id=memory_id))["links"]
        assert (link["relation"], link["other_id"], link["other_kind"]) == ("learned_from", episode, "episode")
    events = (await call(client, "get_episode", episode_id=episode))["events"]
    assert [(e["event_type"], e["data"]["memory_id"]) for e in events] == [
        ("error_fixed", fix["id"]),
        ("fix_failed", failed["id"]),
    ]
    unknown = await store_fix(client, "pip install --upgrade pyyaml", episode_id="ep_missing")
    assert "No episode 'ep_missing': the fix is stored, not linked to an episode." in unknown["message"]


async def test_the_console_memory_page_shows_the_links_and_why_it_is_not_recalled(client: Any, app: Any) -> None:
    from starlette.testclient import TestClient

    from mcp_memory.console.app import build_console
    from mcp_memory.console.local import LocalData

    old, new = await store_fix(client, OLD_FIX), await store_fix(client, NEW_FIX)
    episode = (await call(client, "start_episode", task="Load the YAML config at start-up"))["episode_id"]
    await call(client, "link_memories", from_id=new["id"], to_id=old["id"], relation="supersedes", note="wrong name")
    await call(client, "link_memories", from_id=old["id"], to_id=episode, relation="caused_by")

    def page() -> str:
        with TestClient(build_console(LocalData(app), app.settings), base_url="http://127.0.0.1:8765") as console:
            shown = console.get(f"/memories/{old['id']}")
            assert shown.status_code == 200
            return shown.text

    html = await anyio.to_thread.run_sync(page)

    text = " ".join(re.sub(r"<[^>]+>", " ", unescape(html)).split())
    assert f"Not recalled: superseded by {new['id']}" in text
    assert f'href="/memories/{new["id"]}"' in html and f'href="/episodes/{episode}"' in html
    assert "← supersedes" in text and "wrong name" in text
    assert "caused by Load the YAML config at start-up · episode · local" in text


# -- roles, through real servers behind tokens ------------------------------------------------------------

READER, WRITER, OTHER, ADMIN = "reader-5c1e7a90", "writer-2b8d4f61", "writer-9e3a0c27", "admin-7f4b2d18"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.processes import http_server, serve_env

    root = Path(tmp_path_factory.mktemp("link-roles"))
    tokens = root / "tokens.txt"
    tokens.write_text(f"viewer:{READER}:reader\nworker:{WRITER}\nhelper:{OTHER}\nops:{ADMIN}:admin\n")
    with http_server(root / "data", root, env=serve_env(MCP_MEMORY_TOKENS_FILE=str(tokens))) as running:
        yield running


@pytest.mark.slow
async def test_readers_cannot_link_and_writers_supersede_and_unlink_only_their_own(server: Any) -> None:
    from tests.processes import error_text, http_client, tool

    async with (
        http_client(server.url, READER) as viewer,
        http_client(server.url, WRITER) as worker,
        http_client(server.url, OTHER) as helper,
        http_client(server.url, ADMIN) as ops,
    ):
        mine = await tool(worker, "store_solution", problem="Rotate logs", solution="logrotate -f /etc/logrotate.conf")
        theirs = await tool(helper, "store_solution", problem="Rotate logs", solution="use journald and vacuum")

        refused = await viewer.call_tool(
            "link_memories", {"from_id": mine["id"], "to_id": theirs["id"], "relation": "related"}
        )
        assert refused.is_error and "'viewer' is a reader" in error_text(refused)
        assert (await tool(viewer, "get_memory", id=mine["id"]))["links"] == []

        refused = await worker.call_tool(
            "link_memories", {"from_id": mine["id"], "to_id": theirs["id"], "relation": "supersedes"}
        )
        assert refused.is_error and "an agent supersedes only its own memories" in error_text(refused)
        related = await tool(worker, "link_memories", from_id=mine["id"], to_id=theirs["id"], relation="related")
        assert related["changed"] is True
        [link] = (await tool(helper, "get_memory", id=theirs["id"]))["links"]
        assert (link["agent"], link["direction"]) == ("worker", "in")
        refused = await helper.call_tool(
            "unlink_memories", {"from_id": mine["id"], "to_id": theirs["id"], "relation": "related"}
        )
        assert refused.is_error and "an agent removes only its own links" in error_text(refused)

        superseded = await tool(ops, "link_memories", from_id=mine["id"], to_id=theirs["id"], relation="supersedes")
        assert superseded["left_recall"] == [theirs["id"]]
        assert (await tool(worker, "get_memory", id=theirs["id"]))["superseded_by"] == mine["id"]
        assert (await tool(ops, "unlink_memories", from_id=mine["id"], to_id=theirs["id"], relation="supersedes"))[
            "back_in_recall"
        ] == [theirs["id"]]
