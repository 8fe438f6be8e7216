"""Take the README's screenshots of the web console: the search page and an episode replay.

Builds the test suite's sample store (plus one longer episode) in a temporary data dir, serves the console,
and photographs it with Debian's chromium through Playwright. Run from the repository root:

    .venv/bin/python scripts/console_screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcp_memory.edge.auth import AgentTokens

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.console.app import build_console
from mcp_memory.console.local import LocalData
from tests.test_console_browser import CHROMIUM, CHROMIUM_ARGS, TOKEN, ThreadedServer
from tests.test_console_pages import fill_sample_store

RATE_LIMIT_EPISODE = [
    ("plan", "ORCHESTRATOR", {"text": "Token bucket per API key in Redis; 429 with Retry-After; tests first."}),
    ("task_assignment", "ORCHESTRATOR", {"to": "WORKER_BACKEND", "text": "middleware + Redis script"}),
    ("code_generation", "WORKER_BACKEND", {"files": ["app/ratelimit.py", "app/main.py"], "lines_added": 84}),
    (
        "test_run",
        "QA_SENTINEL",
        {
            "command": "pytest tests/test_ratelimit.py -q",
            "returncode": 1,
            "error": "ModuleNotFoundError: No module named 'redis'",
        },
    ),
    (
        "memory_recall",
        "WORKER_BACKEND",
        {"query": "No module named redis", "used": "err_9c1f…", "resolution": "pip install redis"},
    ),
    ("command", "WORKER_BACKEND", {"command": "pip install 'redis>=5'", "returncode": 0}),
    ("test_run", "QA_SENTINEL", {"command": "pytest tests/test_ratelimit.py -q", "returncode": 0, "passed": 9}),
    ("review", "SECURITY_AUDITOR", {"verdict": "approve", "notes": "keys hashed; no PII in Redis keys"}),
    ("consensus", "CONSENSUS_JUDGE", {"winner": "WORKER_BACKEND", "votes": 3, "candidates": 3, "score": 0.91}),
    ("decision", "ORCHESTRATOR", {"text": "merge; document the limits in README"}),
]


def fill_showcase(app: MemoryApp) -> str:
    """An episode with several roles, an error and its recovery: what a replay is for."""
    import anyio

    async def fill() -> str:
        started = await app.episodes.start(
            "Add per-key rate limiting to the todo API", {"repo": "acme/todo", "ticket": "API-231"}, "ORCHESTRATOR"
        )
        for event_type, role, data in RATE_LIMIT_EPISODE:
            await app.episodes.record(started.episode_id, event_type, role, data)
        await app.episodes.end(
            started.episode_id,
            True,
            {"tests_passed": 9, "duration_s": 412, "files_changed": 3},
            "Token-bucket rate limiting per API key in Redis, 429 with Retry-After. The first test run failed on a "
            "missing redis package; the stored fix was applied.",
        )
        return started.episode_id

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as worker:
        return worker.submit(anyio.run, fill).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="mcp-memory-shots-") as work:
        settings = Settings(data_dir=Path(work) / "data", seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
        app = MemoryApp(settings)
        fill_sample_store(app)
        episode_id = fill_showcase(app)
        console = build_console(LocalData(app), settings, tokens=AgentTokens(f"ops:{TOKEN}", None))
        with ThreadedServer(console) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
            page.goto(f"{server.url}/login")
            page.fill("input[name=token]", TOKEN)
            page.click("button[type=submit]")
            page.goto(f"{server.url}/?q=retry+flaky+http+requests")
            page.screenshot(path=str(out / "search.png"))
            page.goto(f"{server.url}/episodes/{episode_id}")
            page.locator(".timeline > .event").nth(3).locator("summary").click()
            page.screenshot(path=str(out / "episode.png"), full_page=True)
            browser.close()
    print(f"wrote {out / 'search.png'} and {out / 'episode.png'}")


if __name__ == "__main__":
    main()
