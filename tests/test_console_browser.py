"""The web console in a real browser: headless Chromium (Debian's) driven by Playwright, against a real server.

The browser is Debian's ``chromium`` package at /usr/bin/chromium (Playwright's own browser download is not
used). When it is missing, the session installs it with apt-get if it can (root, apt-get present); only when
that is impossible are these tests skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import pytest

from mcp_memory.access.tokens import AgentTokens
from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.console.app import build_console
from mcp_memory.console.local import LocalData
from mcp_memory.storage.embeddings import Embedder
from tests.helpers import free_port
from tests.test_console_pages import Sample, fill_sample_store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "browser-token-6b2d9e14"


def install_chromium() -> str | None:
    """Debian's chromium at /usr/bin/chromium, installed if missing; the reason it cannot be, or None."""
    if CHROMIUM.exists():
        return None
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get): apt-get install chromium"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)
        if done.returncode != 0:
            return f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-500:]}"
    return None if CHROMIUM.exists() else f"apt-get installed chromium, yet {CHROMIUM} does not exist"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for this module only: Playwright's sync API runs an event loop in this thread until it stops."""
    reason = install_chromium()
    if reason:
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is in the dev extra")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class ThreadedServer:
    """uvicorn serving an ASGI app on a free loopback port from a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="console-test-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.thread.start()
        started = threading.Event()
        while not self.server.started and self.thread.is_alive():
            started.wait(0.05)
        assert self.server.started, "the console server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[str, Sample]]:
    """The sample store's console behind a token, on a real port."""
    root = Path(tmp_path_factory.mktemp("console-browser"))
    settings = Settings(data_dir=root / "data", seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    app = MemoryApp(settings, embedder=embedder)
    sample = fill_sample_store(app)
    console = build_console(LocalData(app), settings, tokens=AgentTokens(f"ops:{TOKEN}", None))
    with ThreadedServer(console) as server:
        yield server.url, sample
    app.database.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser profile (no cookies) at laptop width; fails the test on script errors or dialogs."""
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    refused = "the server responded with a status of 401"  # a wrong token, answered as it should be

    def console_error(message: Any) -> None:
        if message.type == "error" and refused not in message.text:
            problems.append(message.text)  # e.g. a script or style the security policy blocked

    tab.on("console", console_error)
    tab.on("dialog", lambda dialog: (problems.append(f"a dialog opened: {dialog.message}"), dialog.dismiss()))
    yield tab
    context.close()
    assert problems == []


def log_in(page: Any, base: str, target: str = "/") -> None:
    page.goto(f"{base}{target}")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_without_a_token_only_the_login_page_is_served(page: Any, served: tuple[str, Sample]) -> None:
    base, sample = served

    for path in ("/", "/stats", f"/episodes/{sample.succeeded_episode}", f"/memories/{sample.retry_pattern}"):
        page.goto(f"{base}{path}")
        assert page.url.startswith(f"{base}/login?next=")
        assert page.locator("input[name=token]").is_visible()
        assert page.locator("main").inner_text().count("Retry with exponential backoff") == 0
    page.fill("input[name=token]", "not-the-token-000")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "That token is not valid. Use one of the server's agent tokens."


def test_log_in_search_and_open_a_result(page: Any, served: tuple[str, Sample]) -> None:
    base, sample = served

    log_in(page, base, "/")
    assert page.url == f"{base}/"
    page.locator("body").click()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.type("retry flaky http requests")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=retry+flaky+http+requests")  # empty filters are left out of the address
    first = page.locator(".result").first
    assert first.locator(".result-title").inner_text() == "Retry with exponential backoff"
    assert first.locator("mark").first.inner_text() == "Retry"
    assert first.locator("pre.code").is_visible()
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/memories/{sample.retry_pattern}")
    assert page.locator("h1").inner_text() == "Retry with exponential backoff"
    assert "fetch_with_retry" in page.locator("pre.code").first.inner_text()
    assert page.locator(".note-bad").inner_text().startswith("did not work")


def test_open_an_episode_replay_and_expand_an_event(page: Any, served: tuple[str, Sample]) -> None:
    base, sample = served

    log_in(page, base, "/episodes")
    page.get_by_role("link", name="succeeded Add JWT auth to the todo API").click()
    page.wait_for_url(f"**/episodes/{sample.succeeded_episode}")
    events = page.locator(".timeline > .event")
    assert events.count() == 3
    assert page.locator(".legend").inner_text().split() == ["ORCHESTRATOR", "WORKER_BACKEND", "QA_SENTINEL"]
    test_run = events.nth(2)
    data = test_run.locator(".event-data")
    assert not data.is_visible()
    test_run.locator("summary").click()
    assert data.is_visible()
    shown = data.inner_text()
    assert '"returncode": 0' in shown and "<script>alert" in shown  # hostile output shown as text
    assert page.locator(".end-result h2").inner_text() == "Succeeded"
    page.get_by_role("link", name="Similar episodes →").click()
    page.wait_for_url(f"**/episodes/{sample.succeeded_episode}/similar")


def test_see_a_failure_cluster_and_open_one_of_its_episodes(page: Any, served: tuple[str, Sample]) -> None:
    base, sample = served

    log_in(page, base, "/failures")
    cluster = page.locator(".cluster").first
    assert cluster.locator(".signature").inner_text() == "ModuleNotFoundError: No module named <name>"
    assert cluster.locator(".cluster-count").inner_text() == "2"
    assert "pip install fastapi uvicorn" in cluster.locator(".fixes").inner_text()
    cluster.locator(".episode-links a").first.click()
    page.wait_for_url("**/episodes/ep_*")
    assert page.url.rsplit("/", 1)[1] in sample.failed_episodes
    assert page.locator(".event.is-error").count() == 1


def test_the_stats_page_draws_its_charts(page: Any, served: tuple[str, Sample]) -> None:
    base, _ = served

    log_in(page, base, "/stats")
    page.wait_for_function("window.Chart && Object.keys(window.Chart.instances).length === 4")
    box = page.locator("#chart-added-by-type").bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 150


@pytest.mark.parametrize("path", ["/", "/episodes", "/stats"])
def test_on_a_390_px_phone_the_top_bar_fits_and_shows_who_is_signed_in(
    browser: Any, served: tuple[str, Sample], path: str
) -> None:
    base, _ = served
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        phone = context.new_page()
        log_in(phone, base, path)
        boxes = [link.bounding_box() for link in phone.locator(".nav a").all()]
        assert len(boxes) == 4
        assert all(box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390 for box in boxes), boxes
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        assert phone.locator(".who-name").inner_text() == "ops"
        log_out = phone.get_by_role("button", name="Log out")
        box = log_out.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390
        log_out.click()
        phone.wait_for_url("**/login")
    finally:
        context.close()
