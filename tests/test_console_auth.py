"""Who may read the web console: the HTTP server's tokens, a login page, a session cookie, bearer headers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.console.app import build_console
from mcp_memory.console.local import LocalData
from mcp_memory.storage.embeddings import Embedder

ALICE = "alice-token-3f9c2e71"
BOB = "bob-token-8a1d44c0"
BASE = "http://127.0.0.1:8765"
PAGES = [
    "/",
    "/?q=retry",
    "/memories/pat_123",
    "/episodes",
    "/episodes/ep_1",
    "/episodes/ep_1/similar",
    "/failures",
    "/stats",
]


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.txt"
    path.write_text(f"alice:{ALICE}\nbob:{BOB}\n")
    return path


@pytest.fixture
def guarded_app(tmp_path: Path, embedder: Embedder, tokens_file: Path) -> MemoryApp:
    settings = Settings(
        data_dir=tmp_path / "data",
        seed_on_start=False,
        tokens_file=tokens_file,
        _env_file=None,  # type: ignore[call-arg]
    )
    return MemoryApp(settings, embedder=embedder)


@pytest.fixture
def console(guarded_app: MemoryApp) -> Iterator[TestClient]:
    app = build_console(LocalData(guarded_app), guarded_app.settings)
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        yield client


def log_in(client: TestClient, token: str, next_page: str = "/") -> object:
    return client.post("/login", data={"token": token, "next": next_page}, headers={"Origin": BASE})


@pytest.mark.parametrize("path", PAGES)
def test_without_a_token_a_page_redirects_to_the_login_page(console: TestClient, path: str) -> None:
    page = console.get(path)

    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=")
    assert console.cookies.get("mcp_memory_console_8765") is None


@pytest.mark.parametrize("path", PAGES)
def test_without_a_token_a_script_gets_401(console: TestClient, path: str) -> None:
    page = console.get(path, headers={"Accept": "application/json"})

    assert page.status_code == 401
    assert page.headers["www-authenticate"].startswith("Bearer")
    assert page.json()["error"] == "unauthorized"


def test_the_login_page_and_static_files_are_served_without_a_token(console: TestClient) -> None:
    login = console.get("/login", params={"next": "/stats"})

    assert login.status_code == 200
    assert 'name="token" type="password"' in login.text and 'value="/stats"' in login.text
    assert console.get("/static/console.css").status_code == 200


def test_logging_in_sets_an_httponly_strict_session_cookie_that_opens_every_page(console: TestClient) -> None:
    response = log_in(console, ALICE, "/episodes?outcome=failed")

    assert response.status_code == 303
    assert response.headers["location"] == "/episodes?outcome=failed"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("mcp_memory_console_8765=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback: a Secure cookie would never be sent back
    assert ALICE not in cookie  # the cookie names a session, never the token itself
    page = console.get("/episodes")
    assert page.status_code == 200
    assert "alice" in page.text and 'action="/logout"' in page.text


def test_over_https_the_session_cookie_is_secure(guarded_app: MemoryApp) -> None:
    app = build_console(LocalData(guarded_app), guarded_app.settings)
    with TestClient(app, base_url="https://127.0.0.1:8765", follow_redirects=False) as client:
        response = client.post("/login", data={"token": ALICE}, headers={"Origin": "https://127.0.0.1:8765"})

    assert "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize("token", ["", "wrong-token-123456", ALICE[:-1]])
def test_a_wrong_token_gets_the_login_page_again_and_no_cookie(console: TestClient, token: str) -> None:
    response = log_in(console, token)

    assert response.status_code == 401
    assert "That token is not valid." in response.text
    assert "set-cookie" not in response.headers
    assert console.get("/stats").status_code == 303


def test_a_bearer_header_opens_pages_for_scripts_and_a_wrong_one_gets_401(console: TestClient) -> None:
    good = console.get("/episodes", headers={"Authorization": f"Bearer {BOB}"}, params={"format": "json"})
    html = console.get("/episodes", headers={"Authorization": f"Bearer {BOB}"})
    bad = console.get("/episodes", headers={"Authorization": "Bearer not-a-token-at-all"})

    assert good.status_code == 200 and good.json()["total"] == 0
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert bad.status_code == 401


def test_removing_a_token_from_the_tokens_file_ends_its_sessions(console: TestClient, tokens_file: Path) -> None:
    log_in(console, ALICE)
    assert console.get("/episodes").status_code == 200

    tokens_file.write_text(f"bob:{BOB}\n")

    assert console.get("/episodes").status_code == 303


def test_logging_out_ends_the_session(console: TestClient) -> None:
    log_in(console, ALICE)
    session = console.cookies.get("mcp_memory_console_8765")

    response = console.post("/logout", headers={"Origin": BASE})

    assert response.status_code == 303 and response.headers["location"] == "/login"
    console.cookies.set("mcp_memory_console_8765", session or "")
    assert console.get("/episodes").status_code == 303  # the old cookie no longer opens anything


def restarted_console(app: MemoryApp, session: str) -> TestClient:
    """The console of a new server process on the same data dir, asked by a browser holding ``session``."""
    restarted = MemoryApp(app.settings, embedder=app.embedder)
    client = TestClient(build_console(LocalData(restarted), app.settings), base_url=BASE, follow_redirects=False)
    client.cookies.set("mcp_memory_console_8765", session)
    return client


def test_a_session_outlives_a_restart_and_the_database_holds_no_secret(
    console: TestClient, guarded_app: MemoryApp, tokens_file: Path
) -> None:
    log_in(console, ALICE)
    session = console.cookies.get("mcp_memory_console_8765") or ""
    with sqlite3.connect(guarded_app.settings.data_dir / "memory.sqlite3") as conn:
        stored = conn.execute("SELECT session_hash, token_hash, port FROM console_sessions").fetchall()
    assert len(stored) == 1 and stored[0][2] == 8765
    assert not {ALICE, session} & {stored[0][0], stored[0][1]}

    with restarted_console(guarded_app, session) as after_restart:
        assert after_restart.get("/episodes").status_code == 200
        tokens_file.write_text(f"bob:{BOB}\n")  # revoked while the server was down
    with restarted_console(guarded_app, session) as revoked:
        assert revoked.get("/episodes").status_code == 303


def test_a_session_ended_by_logging_out_stays_ended_after_a_restart(
    console: TestClient, guarded_app: MemoryApp
) -> None:
    log_in(console, ALICE)
    session = console.cookies.get("mcp_memory_console_8765") or ""
    console.post("/logout", headers={"Origin": BASE})
    with restarted_console(guarded_app, session) as after_restart:
        assert after_restart.get("/episodes").status_code == 303


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_after_login_the_redirect_never_leaves_the_site(console: TestClient, target: str) -> None:
    response = log_in(console, ALICE, target)

    assert response.headers["location"] == "/"


def test_a_login_form_posted_from_another_site_is_refused(console: TestClient) -> None:
    response = console.post("/login", data={"token": ALICE}, headers={"Origin": "https://evil.example"})

    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_a_link_followed_from_another_site_is_opened_again_from_this_site(console: TestClient) -> None:
    """A SameSite=Strict cookie is not sent on a cross-site navigation; the same address opened from here is."""
    response = console.get("/episodes/ep_1?after=5", headers={"Sec-Fetch-Site": "cross-site"})

    assert response.status_code == 200
    assert '<meta http-equiv="refresh" content="0;url=/episodes/ep_1?after=5">' in response.text
    assert console.get("/episodes/ep_1", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 303


def test_guessing_tokens_quickly_is_slowed_down(console: TestClient) -> None:
    statuses = [log_in(console, f"guess-{i:08d}").status_code for i in range(40)]

    assert statuses[:10] == [401] * 10
    assert 429 in statuses[10:]  # at most one guess a second after the first ten


def test_without_tokens_configured_the_console_is_open(app: MemoryApp) -> None:
    with TestClient(build_console(LocalData(app), app.settings), base_url=BASE, follow_redirects=False) as client:
        page = client.get("/episodes")
        login = client.get("/login")

    assert page.status_code == 200 and 'action="/logout"' not in page.text
    assert login.status_code == 303 and login.headers["location"] == "/"
