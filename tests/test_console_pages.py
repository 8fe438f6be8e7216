"""The web console's pages over a real store, driven through Starlette's TestClient: what a person sees."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import anyio
import pytest
from starlette.testclient import TestClient

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.console.app import build_console
from mcp_memory.console.local import LocalData
from mcp_memory.memory.drafts import error_draft, pattern_draft, solution_draft
from mcp_memory.storage.embeddings import Embedder

HOSTILE = '<script>alert("pwned")</script><img src=x onerror="alert(1)">'
TOKEN = "console-token-5d8e1f7a"


@dataclass
class Sample:
    """Ids of what ``fill_sample_store`` stored."""

    retry_pattern: str
    hostile_pattern: str
    fastapi_fix: str
    solution: str
    succeeded_episode: str
    failed_episodes: list[str]
    open_episode: str


async def _fill(app: MemoryApp) -> Sample:
    remember = app.memory.remember
    retry = await remember(
        pattern_draft(
            "Retry with exponential backoff",
            "async def fetch_with_retry(session, url, attempts=3):\n"
            "    for attempt in range(attempts):\n"
            "        try:\n"
            "            async with session.get(url) as response:\n"
            "                return await response.json()\n"
            "        except TimeoutError:\n"
            "            await asyncio.sleep(2 ** attempt)\n"
            "    raise RuntimeError(f'{url} failed')\n",
            "python",
            "Flaky HTTP APIs that time out now and then.",
            {"success_rate": 1.0},
            ["http", "retry"],
            agent="WORKER_BACKEND",
        )
    )
    hostile = await remember(
        pattern_draft(f"Hostile {HOSTILE}", f"const page = '{HOSTILE}';\n", "javascript", HOSTILE, {}, ["xss"])
    )
    fix = await remember(
        error_draft(
            "ModuleNotFoundError: No module named 'fastapi'",
            "starting the todo API",
            "pip install fastapi uvicorn",
            True,
            "python",
            agent="QA_SENTINEL",
        )
    )
    solution = await remember(
        solution_draft(
            "Paginate a large SQL table without OFFSET",
            "SELECT * FROM items WHERE id > :last_id\nORDER BY id\nLIMIT :page_size;\n",
            "sql",
            "Keyset pagination stays fast on big tables.",
            {"success": True},
            agent="WORKER_BACKEND",
        )
    )
    await app.memory.report_outcome(retry.id, True, "cut flaky test runs to zero", "WORKER_FRONTEND")
    await app.memory.report_outcome(retry.id, False, "did not help with a 500 from the upstream", "QA_SENTINEL")

    episodes = app.episodes
    done = await episodes.start("Add JWT auth to the todo API", {"repo": "acme/todo"}, "ORCHESTRATOR")
    await episodes.record(done.episode_id, "plan", "ORCHESTRATOR", {"text": "middleware, then tests"})
    await episodes.record(done.episode_id, "code_generation", "WORKER_BACKEND", {"files": ["app/auth.py"]})
    await episodes.record(
        done.episode_id, "test_run", "QA_SENTINEL", {"command": "pytest -q", "returncode": 0, "output": HOSTILE}
    )
    await episodes.end(done.episode_id, True, {"tests_passed": 12}, "JWT middleware with refresh tokens.")

    failed = []
    for task, module in (("Start the todo API in CI", "fastapi"), ("Start the billing API in CI", "fastapi")):
        started = await episodes.start(task, {}, "ORCHESTRATOR")
        await episodes.record(started.episode_id, "plan", "ORCHESTRATOR", {"text": "run the service"})
        await episodes.record(
            started.episode_id,
            "test_run",
            "QA_SENTINEL",
            {"command": "pytest", "returncode": 1, "error": f"ModuleNotFoundError: No module named '{module}'"},
        )
        await episodes.end(started.episode_id, False, {}, "Could not import the framework.")
        failed.append(started.episode_id)
    still_open = await episodes.start(f"Refactor the queue worker {HOSTILE}", {}, "ORCHESTRATOR")
    await episodes.record(still_open.episode_id, "plan", "ORCHESTRATOR", {"text": HOSTILE})
    return Sample(retry.id, hostile.id, fix.id, solution.id, done.episode_id, failed, still_open.episode_id)


def fill_sample_store(app: MemoryApp) -> Sample:
    """The seeded knowledge, plus patterns, an error fix, a solution, outcomes and episodes (some hostile text)."""
    app.start_blocking()
    app.knowledge.seed_blocking()
    with ThreadPoolExecutor(1) as worker:  # its own thread: a caller may be running an event loop already
        return worker.submit(anyio.run, _fill, app).result()


@pytest.fixture(scope="module")
def console_store(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[MemoryApp, Sample]]:
    data_dir = Path(tmp_path_factory.mktemp("console")) / "data"
    settings = Settings(data_dir=data_dir, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    app = MemoryApp(settings, embedder=embedder)
    yield app, fill_sample_store(app)
    app.database.close()


@pytest.fixture(scope="module")
def open_console(console_store: tuple[MemoryApp, Sample]) -> Iterator[TestClient]:
    """The console without tokens (open, like /mcp on loopback)."""
    app, _ = console_store
    with TestClient(build_console(LocalData(app), app.settings), base_url="http://127.0.0.1:8765") as client:
        yield client


@pytest.fixture(scope="module")
def sample(console_store: tuple[MemoryApp, Sample]) -> Sample:
    return console_store[1]


def text_of(html: str) -> str:
    """What a person reads: the page without tags, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_search_finds_the_pattern_and_marks_the_query_words(open_console: TestClient, sample: Sample) -> None:
    page = open_console.get("/", params={"q": "retry flaky http requests"})

    assert page.status_code == 200
    assert f'href="/memories/{sample.retry_pattern}"' in page.text
    assert "<mark>Retry</mark> with exponential backoff" in page.text
    assert 'class="code" data-language="python"' in page.text  # syntax-highlighted code


def test_search_shows_type_score_success_record_and_a_link_for_each_result(
    open_console: TestClient, sample: Sample
) -> None:
    page = open_console.get("/", params={"q": "No module named fastapi"})

    assert page.status_code == 200
    first = page.text.index('class="result"')
    result = page.text[first : page.text.index("</li>", first)]
    assert f'href="/memories/{sample.fastapi_fix}"' in result
    assert 'type-error">error fix</span>' in result
    assert "worked · 1✓ 0✗" in text_of(result)
    assert re.search(r'class="score"[^>]*>\d\.\d\d<', result)
    assert "Fix that worked:" in text_of(result)


@pytest.mark.parametrize(
    ("params", "present", "absent"),
    [
        ({"type": "solution"}, "solution", "pattern"),
        ({"language": "sql"}, "solution", "pattern"),
        ({"agent": "QA_SENTINEL"}, "error_fix", "solution"),
    ],
)
def test_search_filters_by_type_language_and_agent(
    open_console: TestClient, sample: Sample, params: dict[str, str], present: str, absent: str
) -> None:
    ids = {"solution": sample.solution, "pattern": sample.retry_pattern, "error_fix": sample.fastapi_fix}

    found = open_console.get("/", params={"q": "paginate retry install fastapi", "format": "json", **params}).json()

    returned = {hit["id"] for hit in found["results"]}
    assert ids[present] in returned
    assert ids[absent] not in returned


def test_search_results_come_in_pages_of_ten_with_links_between_them(open_console: TestClient) -> None:
    first = open_console.get("/", params={"q": "python code pattern error"})
    second = open_console.get("/", params={"q": "python code pattern error", "page": "2"})

    assert first.text.count('class="result"') == 10
    assert 'rel="next" href="/?q=python+code+pattern+error&amp;page=2"' in first.text
    assert 'start="11"' in second.text
    assert 'rel="prev"' in second.text
    assert set(re.findall(r'href="(/memories/[^"]+)" data-open', first.text)).isdisjoint(
        re.findall(r'href="(/memories/[^"]+)" data-open', second.text)
    )


def test_the_search_page_without_a_query_shows_counts_recent_episodes_and_reused_patterns(
    open_console: TestClient, sample: Sample
) -> None:
    page = open_console.get("/")

    assert page.status_code == 200
    assert "autofocus" in page.text and "data-search" in page.text
    assert f'href="/episodes/{sample.succeeded_episode}"' in page.text
    assert f'href="/memories/{sample.retry_pattern}"' in page.text  # the most reused pattern


def test_a_memory_page_shows_content_provenance_outcome_history_and_similar_memories(
    open_console: TestClient, sample: Sample
) -> None:
    page = open_console.get(f"/memories/{sample.retry_pattern}")

    assert page.status_code == 200
    shown = text_of(page.text)
    assert 'data-language="python"' in page.text and "fetch_with_retry" in shown
    assert "Flaky HTTP APIs that time out now and then." in shown
    assert "Source agent Agent WORKER_BACKEND" in shown
    assert "did not work · QA_SENTINEL" in shown and "did not help with a 500 from the upstream" in shown
    assert "worked · WORKER_FRONTEND" in shown and "cut flaky test runs to zero" in shown
    assert "3× (stored or confirmed)" in shown and "2 worked · 1 failed" in shown
    assert "Similar patterns" in shown and page.text.count('class="item" data-item') >= 3


def test_an_unknown_memory_or_episode_is_a_404_page_that_says_so(open_console: TestClient) -> None:
    memory = open_console.get("/memories/pat_0000000000000000000000")
    episode = open_console.get("/episodes/ep_nope")

    assert memory.status_code == 404 and "No memory with id" in memory.text
    assert episode.status_code == 404 and "Episode &#39;ep_nope&#39; not found" in episode.text


def test_the_episode_list_shows_status_task_agents_and_duration_and_filters(
    open_console: TestClient, sample: Sample
) -> None:
    everything = open_console.get("/episodes")
    failed = open_console.get("/episodes", params={"outcome": "failed", "format": "json"}).json()
    backend = open_console.get("/episodes", params={"role": "WORKER_BACKEND", "format": "json"}).json()
    billing = open_console.get("/episodes", params={"q": "BILLING", "format": "json"}).json()

    shown = text_of(everything.text)
    assert "Episodes 4" in shown
    assert "succeeded Add JWT auth to the todo API ORCHESTRATOR, WORKER_BACKEND, QA_SENTINEL 3 events" in shown
    assert "open Refactor the queue worker" in shown
    assert {row["info"]["episode_id"] for row in failed["episodes"]} == set(sample.failed_episodes)
    assert [row["info"]["episode_id"] for row in backend["episodes"]] == [sample.succeeded_episode]
    assert [row["info"]["task"] for row in billing["episodes"]] == ["Start the billing API in CI"]
    assert backend["roles"] == ["ORCHESTRATOR", "QA_SENTINEL", "WORKER_BACKEND"]


def test_an_episode_replay_shows_each_event_in_its_role_lane_with_its_data_and_the_end_result(
    open_console: TestClient, sample: Sample
) -> None:
    page = open_console.get(f"/episodes/{sample.succeeded_episode}")

    assert page.status_code == 200
    events = re.findall(r'<li class="event color-(\d)[^"]*" data-item id="event-(\d+)"', page.text)
    assert events == [("0", "1"), ("1", "2"), ("2", "3")]  # one lane (and colour) per role, in order
    assert page.text.count('class="lane on') == 3
    shown = text_of(page.text)
    assert "ORCHESTRATOR WORKER_BACKEND QA_SENTINEL" in shown  # the lane legend
    assert "plan ORCHESTRATOR text: middleware, then tests" in shown
    assert '<details class="event-card">' in page.text and '"returncode"' in shown  # expandable data
    assert "Succeeded" in shown and "JWT middleware with refresh tokens." in shown
    assert re.search(r'"tests_passed" ?: ?12', shown)
    assert f'href="/episodes/{sample.succeeded_episode}/similar"' in page.text


def test_an_error_event_is_marked_in_the_replay(open_console: TestClient, sample: Sample) -> None:
    page = open_console.get(f"/episodes/{sample.failed_episodes[0]}")

    assert re.search(r'class="event color-\d is-error" data-item id="event-2"', page.text)
    assert "Failed" in text_of(page.text)


def test_similar_episodes_are_linked_from_a_replay(open_console: TestClient, sample: Sample) -> None:
    page = open_console.get(f"/episodes/{sample.failed_episodes[0]}/similar")

    assert page.status_code == 200
    assert f'href="/episodes/{sample.failed_episodes[1]}"' in page.text
    assert f'href="/episodes/{sample.failed_episodes[0]}"' not in page.text.split("<h1>")[1]


def test_the_failures_page_shows_the_cluster_with_its_episodes_and_the_known_fix(
    open_console: TestClient, sample: Sample
) -> None:
    page = open_console.get("/failures")

    assert page.status_code == 200
    shown = text_of(page.text)
    assert "Failures 2 failed episodes" in shown
    assert "2 ModuleNotFoundError: No module named <name>" in shown
    for episode_id in sample.failed_episodes:
        assert f'href="/episodes/{episode_id}"' in page.text
    assert f'href="/memories/{sample.fastapi_fix}"' in page.text
    assert "pip install fastapi uvicorn" in shown


def test_the_stats_page_counts_memories_and_episodes_and_carries_the_chart_data(
    open_console: TestClient, sample: Sample
) -> None:
    page = open_console.get("/stats")
    overview = open_console.get("/stats", params={"format": "json"}).json()

    assert page.status_code == 200
    assert '<script type="application/json" id="chart-data">' in page.text
    assert '<canvas id="chart-added-by-type"' in page.text and "/static/chart.umd.min.js" in page.text
    memories = overview["memories"]
    assert memories["by_type"]["pattern"] == 6  # two stored, four seeded
    assert memories["by_type"]["episode"] == 3  # the ended episodes' summaries
    assert memories["most_reused_patterns"][0]["id"] == sample.retry_pattern
    assert overview["episodes"]["total"] == 4 and overview["episodes"]["failed"] == 2
    assert overview["episodes"]["events"] == 3 + 2 + 2 + 1
    assert overview["memory_count"] == memories["total"]


@pytest.mark.parametrize(
    "path",
    [
        "/?q=Hostile+script+alert",
        "/",
        "/episodes",
        "/stats",
        "/failures",
    ],
)
def test_hostile_text_is_shown_escaped_never_as_markup(open_console: TestClient, path: str) -> None:
    page = open_console.get(path)

    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")


def test_hostile_text_is_escaped_on_the_memory_page_and_in_an_episode_replay(
    open_console: TestClient, sample: Sample
) -> None:
    pages = [
        open_console.get(f"/memories/{sample.hostile_pattern}"),
        open_console.get(f"/episodes/{sample.open_episode}"),
        open_console.get(f"/episodes/{sample.succeeded_episode}"),
    ]

    for page in pages:
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert" in page.text or "&lt;/span&gt;" in page.text or "&lt;" in page.text
    assert "alert(&#34;pwned&#34;)" in pages[1].text or "alert(&quot;pwned&quot;)" in pages[1].text


def test_pages_answer_json_for_scripts(open_console: TestClient, sample: Sample) -> None:
    memory = open_console.get(f"/memories/{sample.solution}", headers={"Accept": "application/json"})
    replay = open_console.get(f"/episodes/{sample.succeeded_episode}", params={"format": "json"})

    assert memory.headers["content-type"] == "application/json"
    assert memory.json()["record"]["fields"]["problem"] == "Paginate a large SQL table without OFFSET"
    assert [event["event_type"] for event in replay.json()["events"]] == ["plan", "code_generation", "test_run"]


def test_a_request_for_another_host_name_is_refused(open_console: TestClient) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 cannot read the console."""
    page = open_console.get("/", headers={"Host": "evil.example:8765"})

    assert page.status_code == 400


def test_the_static_files_include_the_charting_library_and_its_license(open_console: TestClient) -> None:
    library = open_console.get("/static/chart.umd.min.js")
    license_text = open_console.get("/static/chart.js.LICENSE.md")

    assert library.status_code == 200 and "Chart.js v4" in library.text[:200]
    assert "MIT License" in license_text.text


def test_a_bad_filter_is_explained_on_the_search_page(open_console: TestClient) -> None:
    page = open_console.get("/", params={"q": "retry", "language": "py<thon>"})

    assert page.status_code == 400
    assert "Invalid &#39;language&#39;: &#39;py&lt;thon&gt;&#39; is not a language name." in page.text


def test_the_home_page_answers_json_by_format_or_accept_and_says_when_it_counted(
    open_console: TestClient, sample: Sample
) -> None:
    open_console.get("/stats")  # a small store is counted at once; the home page shows that count
    by_format = open_console.get("/", params={"format": "json"})
    by_accept = open_console.get("/", headers={"Accept": "application/json"})
    page = text_of(open_console.get("/").text)

    assert by_format.headers["content-type"] == by_accept.headers["content-type"] == "application/json"
    home = by_format.json()
    assert by_accept.json()["memories"]["total"] == home["memories"]["total"] >= 4
    assert sample.succeeded_episode in {row["info"]["episode_id"] for row in home["recent_episodes"]}
    assert re.search(r"counted \d+ s ago", page), page[:600]


def test_an_episode_shows_one_duration_in_the_list_and_the_replay(open_console: TestClient, sample: Sample) -> None:
    from mcp_memory.console.render import duration

    listed = open_console.get("/episodes", params={"format": "json"}).json()
    row = next(row for row in listed["episodes"] if row["info"]["episode_id"] == sample.succeeded_episode)
    shown = duration(row["duration_seconds"])

    assert f"{shown} " in text_of(open_console.get("/episodes").text)
    replay = text_of(open_console.get(f"/episodes/{sample.succeeded_episode}").text)
    assert f"3 events {shown} started" in replay, replay[:400]
