"""Episode tools: start, record, end, replay, list and recall episodes; failure analysis; the task prompt."""

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS
from pydantic import Field

from mcp_memory.edge.tool_inputs import (
    NO_EPISODE_METRICS,
    EndedSince,
    EndedUntil,
    EpisodeMetrics,
    ProjectSearched,
    ProjectStored,
)
from mcp_memory.edge.tools.context import APPENDS, READ_ONLY, ToolContext, resource_errors, tool_errors
from mcp_memory.episodes import task_prompt
from mcp_memory.episodes.views import replay_document
from mcp_memory.errors import MemoryStoreError
from mcp_memory.models import (
    EpisodeEnded,
    EpisodeList,
    EpisodeReplay,
    EpisodeStarted,
    EventRecorded,
    FailureAnalysis,
    SimilarEpisodes,
)

ROLES = ["ORCHESTRATOR", "WORKER_BACKEND", "WORKER_FRONTEND", "QA_SENTINEL", "CONSENSUS_JUDGE", "SECURITY_AUDITOR"]


def register(mcp: MCPServer, ctx: ToolContext) -> None:
    record_event_description = f"""\
Record one event of an episode; returns its sequence number. Call it for every step (plan, code, command, test,
review, decision, error). The event is on disk when this returns: an agent that crashes loses nothing it recorded.
Many agents may record into one episode at once; order is by the returned seq, not by clock.

`data` is a JSON object; put errors under "error" (the traceback or message), files under "files", commands
under "command" with "returncode" — failure analysis and recall read these keys. Oversized `data` (more than
{ctx.settings.max_event_data_chars:,} characters as JSON, MCP_MEMORY_MAX_EVENT_DATA_CHARS) is REJECTED with an error
naming `data`, not truncated: nothing is recorded and the episode keeps all its other events; record an excerpt
or a path to the full log instead. Recording into an unknown or ended episode is an error.
Example: {{"episode_id": "ep_…", "event_type": "test_run", "agent_role": "QA_SENTINEL",
"data": {{"command": "pytest -q", "returncode": 1, "error": "ModuleNotFoundError: No module named 'fastapi'"}}}}."""

    @mcp.tool(annotations=APPENDS)
    async def start_episode(
        task: Annotated[str, Field(description="The task the swarm is about to work on, as it was given.")],
        context: Annotated[
            dict[str, Any], Field(description='What frames the task, e.g. {"repo": "acme/api", "priority": "high"}.')
        ] = {},
        agent_role: Annotated[str | None, Field(description="Who starts it.", examples=ROLES)] = None,
        project: ProjectStored = None,
    ) -> EpisodeStarted:
        """Start an episode: a durable, replayable record of one task. Share its id with every agent on the task.

        Example: {"task": "Add JWT auth to the todo API", "context": {"repo": "acme/todo"},
        "agent_role": "ORCHESTRATOR"}. It belongs to your project (leave `project` out) unless you name another.
        """
        with tool_errors():
            ctx.admit(writes=True)
            in_project = await ctx.project(project, stores=True)
            return await ctx.app.episodes.start(task, context, agent_role, ctx.caller().agent, in_project)

    @mcp.tool(annotations=APPENDS, description=record_event_description)
    async def record_event(
        episode_id: Annotated[str, Field(description="The id start_episode returned.")],
        event_type: Annotated[
            str, Field(description="What happened.", examples=["plan", "code_generation", "test_run", "error"])
        ],
        agent_role: Annotated[
            str, Field(description="Who did it; free text, well-known roles in examples.", examples=ROLES)
        ],
        data: Annotated[
            dict[str, Any],
            Field(description=f"The event as a JSON object, at most {ctx.settings.max_event_data_chars:,} characters."),
        ],
    ) -> EventRecorded:
        with tool_errors():
            ctx.admit(writes=True)
            return await ctx.app.episodes.record(episode_id, event_type, agent_role, data, ctx.caller().agent)

    @mcp.tool(annotations=APPENDS)
    async def end_episode(
        episode_id: Annotated[str, Field(description="The id start_episode returned.")],
        success: Annotated[bool, Field(description="Did the task succeed?", strict=True)],
        metrics: Annotated[
            EpisodeMetrics, Field(description='e.g. {"tests_passed": 12, "duration_s": 340}.')
        ] = NO_EPISODE_METRICS,
        summary: Annotated[str, Field(description="What was done and what was learned, in a few sentences.")] = "",
    ) -> EpisodeEnded:
        """End an episode with its outcome; it then takes no more events and similar tasks can recall it.

        Episodes never ended stay listed as open (list_episodes status='open') and can be ended any time later.
        """
        with tool_errors():
            ctx.admit(writes=True)
            caller = ctx.caller()
            return await ctx.app.episodes.end(
                episode_id, success, metrics.as_dict(), summary, by=None if caller.admin else caller.agent
            )

    @mcp.tool(annotations=READ_ONLY)
    async def get_episode(
        episode_id: Annotated[str, Field(description="An id from start_episode or list_episodes.")],
        after_seq: Annotated[int, Field(description="Only events after this sequence number.", ge=0)] = 0,
        max_events: Annotated[int, Field(description="At most this many events.", ge=1, le=10_000)] = 1000,
    ) -> EpisodeReplay:
        """Replay an episode: its facts, a markdown timeline and every event in sequence order."""
        with tool_errors():
            ctx.admit()
            return await ctx.app.episodes.get(episode_id, after_seq, max_events)

    @mcp.tool(annotations=READ_ONLY)
    async def list_episodes(
        status: Annotated[Literal["open", "ended"] | None, Field(description="open, ended, or both (null).")] = None,
        success: Annotated[
            bool | None, Field(description="Only succeeded (true) or failed (false) ones.", strict=True)
        ] = None,
        limit: Annotated[int, Field(description="How many, newest first.", ge=1, le=1000)] = 20,
        project: ProjectSearched = None,
    ) -> EpisodeList:
        """List episodes, newest first; status='open' finds the ones never ended.

        Lists your project's episodes and global ones; project="*" lists every project's.
        """
        with tool_errors():
            ctx.admit()
            return await ctx.app.episodes.list_episodes(status, success, limit, await ctx.project(project))

    @mcp.tool(annotations=READ_ONLY)
    async def recall_similar_episodes(
        task_description: Annotated[str, Field(description="The task you are about to start.")],
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=ctx.max_results)] = 3,
        success_only: Annotated[bool, Field(description="Only episodes that succeeded.", strict=True)] = False,
        project: ProjectSearched = None,
        since: EndedSince = None,
        until: EndedUntil = None,
    ) -> SimilarEpisodes:
        """Past episodes like this task (by its words, summary and salient events): how each ended and why similar.

        Searches your project's episodes and global ones; project="*" searches every project's. Each result says
        its project and when it ended ("3 days ago"); since/until keep the episodes that ended in a time window.
        Example: {"task_description": "Add rate limiting to the FastAPI todo service", "n_results": 3, "since": "30d"}.
        """
        with tool_errors():
            await ctx.begin()
            in_scope = await ctx.project(project)
            return await ctx.app.episodes.recall_similar(
                task_description, n_results, success_only, in_scope, since=since, until=until
            )

    @mcp.tool(annotations=READ_ONLY)
    async def analyze_failures(
        limit: Annotated[int, Field(description="How many failure clusters to return.", ge=1, le=100)] = 10,
        project: ProjectSearched = None,
    ) -> FailureAnalysis:
        """Failed episodes grouped by cause (error signature, failing step, role), each with a known fix if stored.

        Each cluster counts its episodes, shows the events before the failure and says what to do next. Looks at
        your project's failed episodes and global ones (fixes likewise); project="*" looks at every project's.
        """
        with tool_errors():
            await ctx.begin()
            return await ctx.app.failures.analyze(limit, await ctx.project(project))

    @mcp.resource("memory://episodes/{episode_id}", name="episode", mime_type="text/markdown")
    async def episode_resource(episode_id: str) -> str:
        """An episode replayed: a markdown timeline, then its events as JSON."""
        with resource_errors():
            ctx.admit()
            return replay_document(await ctx.app.episodes.get(episode_id))

    @mcp.prompt()
    async def memory_informed_task(task_description: str, language: str = "", project: str | None = None) -> str:
        """The task with what memory knows about it: patterns, error fixes, best practices, past episodes — of your
        project (or the one named; "*" for every project) and global ones."""
        try:
            await ctx.begin()
            in_scope = await ctx.project(project)
            return await task_prompt.memory_informed_task(
                ctx.app.memory, ctx.app.episodes, task_description, language, in_scope
            )
        except MemoryStoreError as exc:
            raise MCPError(INVALID_PARAMS, str(exc)) from exc
