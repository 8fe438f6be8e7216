"""Writes a data dir with release 0.1 (text and counters in Chroma, episodes in episodes.sqlite3); see README.md."""
import asyncio, sys, json
from pathlib import Path
from mcp_memory.config import Settings
from mcp_memory.app import MemoryApp
from mcp_memory.memory.drafts import error_draft

async def main(target: Path) -> None:
    settings = Settings(data_dir=target, seed_on_start=True, _env_file=None)
    app = MemoryApp(settings)
    app.start_blocking()
    from mcp import Client
    from mcp_memory.edge.server import build_server
    async with Client(build_server(app)) as c:
        async def t(name, **a):
            r = await c.call_tool(name, a)
            assert not r.is_error, r.content
            return r.structured_content
        p = await t("store_code_pattern", pattern_name="Retry with backoff", code="def retry(f):\n    for i in range(3):\n        try:\n            return f()\n        except OSError:\n            time.sleep(2 ** i)", language="python", context="flaky network calls", tags=["retry", "network"])
        await t("store_code_pattern", pattern_name="Retry with backoff", code="def retry(f):\n    for i in range(3):\n        try:\n            return f()\n        except OSError:\n            time.sleep(2 ** i)", language="python", context="flaky network calls")
        s = await t("store_solution", problem="Parse ISO dates in JavaScript", solution="new Date(Date.parse(s))", language="javascript", context="browser")
        e = await t("store_error_resolution", error_message="ModuleNotFoundError: No module named 'yaml'", context="fresh venv", resolution="pip install pyyaml", success=True)
        f = await t("store_error_resolution", error_message="KeyError: 'user_id'", context="parsing a webhook", resolution="use payload.get('user_id')", success=False)
        await t("report_outcome", memory_id=e["id"], success=True, note="worked in CI")
        await t("report_outcome", memory_id=e["id"], success=False, note="wrong package name on alpine")
        await t("report_outcome", memory_id=s["id"], success=True)
        k = await t("add_custom_knowledge", title="Never log tokens", content="Redact bearer tokens before logging.", knowledge_type="best_practice", metadata={"team": "platform", "severity": 2})
        ep = await t("start_episode", task="Add rate limiting to the API", agent_role="ORCHESTRATOR")
        for kind, role, data in [("plan", "ORCHESTRATOR", {"steps": ["middleware"]}), ("test_run", "QA", {"returncode": 1, "error": "KeyError: 'X-RateLimit'"}), ("code_generation", "WORKER", {"files": ["api/limits.py"]})]:
            await t("record_event", episode_id=ep["episode_id"], event_type=kind, agent_role=role, data=data)
        await t("end_episode", episode_id=ep["episode_id"], success=True, metrics={"duration_s": 42}, summary="Token bucket per API key")
        op = await t("start_episode", task="Open episode still running", agent_role="PLANNER")
        await t("record_event", episode_id=op["episode_id"], event_type="plan", agent_role="PLANNER", data={"step": 1})
        expected = {}
        for mid in (p["id"], s["id"], e["id"], f["id"], k["id"]):
            expected[mid] = await t("get_memory", id=mid)
        stats = await t("memory_stats")
        replay = await t("get_episode", episode_id=ep["episode_id"])
        (target / "expected.json").write_text(json.dumps({"memories": expected, "total": stats["total"], "episode": ep["episode_id"], "open_episode": op["episode_id"], "events": [ev for ev in replay["events"]]}, indent=1, default=str))

asyncio.run(main(Path(sys.argv[1])))
