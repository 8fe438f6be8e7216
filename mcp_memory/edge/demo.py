"""``mcp-memory demo``: the complete agent workflow, played against a freshly spawned server over stdio."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import textwrap
from typing import Any

import anyio

WINNER_CODE = '''\
import asyncio
import logging

import httpx

logger = logging.getLogger(__name__)


async def fetch_json(url: str, retries: int = 3, timeout: float = 5.0) -> dict:
    """GET a JSON document, retrying with exponential backoff."""
    for attempt in range(retries):
        try:
            async with httpx.AsyncClient() as client:
                response = await asyncio.wait_for(client.get(url), timeout)
                response.raise_for_status()
                return response.json()
        except (httpx.HTTPError, asyncio.TimeoutError) as exc:
            logger.warning("attempt %d failed: %s", attempt + 1, exc)
            await asyncio.sleep(2 ** attempt)
    raise RuntimeError(f"giving up on {url}")
'''


def _short(value: Any, width: int = 110, all_keys: bool = False) -> Any:
    """Results trimmed for reading: long strings cut, long lists summarized, the telling keys kept."""
    if isinstance(value, str):
        flat = " ".join(value.split())
        return flat if len(flat) <= width else flat[: width - 1] + "…"
    if isinstance(value, list):
        shown = [_short(v, width, all_keys) for v in value[:3]]
        return shown + ([f"… {len(value) - 3} more"] if len(value) > 3 else [])
    if isinstance(value, dict) and all_keys:
        return {k: _short(v, width, all_keys) for k, v in value.items()}
    if isinstance(value, dict):
        keep = (
            "id",
            "type",
            "title",
            "score",
            "outcome",
            "duplicate",
            "message",
            "why",
            "episode_id",
            "sequence",
            "results",
            "patterns",
            "best_practices",
            "common_errors",
            "total",
            "by_type",
            "stored",
            "new",
            "known",
            "status",
            "success",
            "count",
            "clusters",
            "summary",
            "query",
            "note",
        )
        return {k: _short(v, width) for k, v in value.items() if k in keep or len(value) <= 4}
    return value


class DemoRun:
    def __init__(self, client: Any, out: Any) -> None:
        self.client = client
        self.out = out
        self.step = 0

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        self.step += 1
        shown_args = json.dumps(_short(arguments, 60, all_keys=True), ensure_ascii=False)
        self.say(f"\n[{self.step}] → {tool}({shown_args})")
        result = await self.client.call_tool(tool, arguments)
        if result.is_error:
            text = " ".join(getattr(block, "text", "") for block in result.content)
            raise RuntimeError(f"{tool} failed: {text}")
        data = result.structured_content or {}
        body = json.dumps(_short(data), indent=2, ensure_ascii=False)
        self.say(textwrap.indent(body, "    ← " if "\n" not in body else "    "))
        return data


async def play(client: Any, out: Any) -> None:
    demo = DemoRun(client, out)
    tools = {tool.name for tool in (await client.list_tools()).tools}
    demo.say(f"Connected: {len(tools)} tools: {', '.join(sorted(tools))}")

    demo.say("\n# 1. Initialize on startup: seed the knowledge base")
    await demo.call("seed_initial_knowledge")

    episode_id = None
    task = "Fetch JSON from a flaky HTTP API with retries"
    if "start_episode" in tools:
        demo.say("\n# 2. Start task execution: an episode records what happens")
        started = await demo.call("start_episode", task=task, context={"priority": "high"}, agent_role="ORCHESTRATOR")
        episode_id = started.get("episode_id") or started.get("id")

    demo.say("\n# 3. Check memory for relevant patterns, solutions and error fixes")
    await demo.call(
        "store_code_pattern",
        pattern_name="Retry with exponential backoff",
        code=WINNER_CODE,
        language="python",
        context="Calling flaky HTTP APIs",
        success_metrics={"success_rate": 1.0},
        tags=["http", "retry", "asyncio"],
    )
    await demo.call(
        "recall_similar_patterns",
        description="call an unreliable web API and retry on failure",
        language="python",
        n_results=2,
    )
    await demo.call(
        "store_error_resolution",
        error_message="ModuleNotFoundError: No module named 'httpx'",
        context="Running the fetch script in a fresh venv",
        resolution="pip install httpx",
        success=True,
    )
    await demo.call("recall_error_solutions", error_message="Cannot import httpx", n_results=2)

    if episode_id:
        demo.say("\n# 4-5. Generate with memory context and record the consensus")
        await demo.call(
            "record_event",
            episode_id=episode_id,
            event_type="code_generation",
            agent_role="WORKER_BACKEND",
            data={"approach": "retry with backoff", "lines": 20},
        )
        await demo.call(
            "record_event",
            episode_id=episode_id,
            event_type="consensus",
            agent_role="CONSENSUS_JUDGE",
            data={"winner": "candidate-2", "score": 0.92, "votes": 3},
        )
    if "extract_from_consensus" in tools:
        demo.say("\n# 6. Learn from the winner: extract its patterns")
        await demo.call(
            "extract_from_consensus",
            winner_candidate={"code": WINNER_CODE, "language": "python", "agent_role": "WORKER_BACKEND", "score": 0.92},
            task_context={"description": task, "language": "python"},
            consensus_result={"scores": [0.71, 0.92], "votes": 3, "candidates": 2},
            episode_id=episode_id,
        )
    if episode_id:
        demo.say("\n# 7. End the episode")
        await demo.call(
            "end_episode",
            episode_id=episode_id,
            success=True,
            metrics={"duration_s": 42},
            summary="Implemented fetch_json with retries and backoff",
        )

    demo.say("\n# 8. The next task benefits from what was learned")
    await demo.call("search_memory", query="retry an HTTP request that sometimes fails", n_results=3)
    if "recall_similar_episodes" in tools:
        await demo.call("recall_similar_episodes", task_description="download JSON from an unreliable service")
    await demo.call("memory_stats")
    demo.say("\nDone: every call above went through a real MCP client to a spawned mcp-memory server.")


def run_demo(data_dir: str | None = None, verbose: int = 0, out: Any = None) -> int:
    """Spawn ``mcp-memory serve`` over stdio and play the workflow; returns a process exit code."""
    from mcp import Client, StdioServerParameters

    out = out or sys.stdout
    workdir = data_dir or tempfile.mkdtemp(prefix="mcp-memory-demo-")
    args = ["-m", "mcp_memory", "serve", "--data-dir", workdir] + (["-v"] if verbose else [])
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    params = StdioServerParameters(command=sys.executable, args=args, env=env)
    print(f"Spawning: {sys.executable} {' '.join(args)}", file=out, flush=True)

    async def main() -> None:
        async with Client(params, read_timeout_seconds=300) as client:
            await play(client, out)

    try:
        anyio.run(main)
    except RuntimeError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if data_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0
