"""Memory tools: store and recall patterns, solutions and errors; search, read, delete, restore; outcomes."""

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from mcp_memory.edge.tool_inputs import (
    NO_SUCCESS_METRICS,
    ProjectSearched,
    ProjectStored,
    Since,
    SuccessMetrics,
    Until,
)
from mcp_memory.edge.tools.context import (
    APPENDS,
    DESTRUCTIVE,
    READ_ONLY,
    WRITES,
    ToolContext,
    tool_errors,
)
from mcp_memory.memory.drafts import error_draft, pattern_draft, solution_draft
from mcp_memory.memory.validation import FILTER_EXAMPLE, normalize_language
from mcp_memory.models import (
    MEMORY_TYPES,
    DeletedMemories,
    DeleteResult,
    MemoryStats,
    MemoryType,
    MemoryWithLinks,
    OutcomeReport,
    RecallResult,
    StoreResult,
)

SEARCH_DESCRIPTION = f"""\
Search all memory types at once (patterns, solutions, errors, best practices, episodes), best first.

By default it searches your own project (found from your workspace) plus global memories; project="*" searches
every project. since/until keep what was stored in a time window: an age ("36h", "7d", "2w") or an ISO date.
Filter with `where` on metadata: language, source (agent | seed | knowledge | consensus), agent, usage_count,
success_count, failure_count, created_at (unix seconds), or any scalar metadata key you stored.
{FILTER_EXAMPLE}
Example call: {{"query": "retry HTTP requests", "memory_types": ["pattern", "solution"],
"where": {{"language": "python"}}, "since": "30d", "n_results": 5}}."""
RECALL_WINDOW = """
By default it recalls from your own project (found from your workspace) plus global memories; pass
project="*" to look at every project. since/until narrow it to when memories were stored, e.g. {"since": "7d"}
(the last week) or {"until": "2026-01-31"}. Each result carries its project and its age ("3 days ago")."""


def register(mcp: MCPServer, ctx: ToolContext) -> None:
    # -- patterns ----------------------------------------------------------------------------------

    @mcp.tool(annotations=WRITES)
    async def store_code_pattern(
        pattern_name: Annotated[str, Field(description="Short name, e.g. 'JWT authentication middleware'.")],
        code: Annotated[str, Field(description="The code of the pattern, as it should be reused.")],
        language: Annotated[str, Field(description="Programming language, e.g. 'python', 'typescript'.")],
        context: Annotated[str, Field(description="When and why to use it; what problem it solved.")],
        success_metrics: Annotated[
            SuccessMetrics, Field(description='How well it worked, e.g. {"success_rate": 1.0, "tests_passed": 12}.')
        ] = NO_SUCCESS_METRICS,
        tags: Annotated[list[str], Field(description="Keywords, e.g. ['auth', 'fastapi'].", max_length=50)] = [],
        agent_role: Annotated[str | None, Field(description="Who stores it, e.g. 'WORKER_BACKEND'.")] = None,
        project: ProjectStored = None,
    ) -> StoreResult:
        """Store a reusable code pattern that worked, so later tasks can recall it.

        Example: {"pattern_name": "Retry with backoff", "code": "async def retry(...): ...",
        "language": "python", "context": "Flaky HTTP calls", "success_metrics": {"success_rate": 1.0}}.
        Storing the same code again counts a reuse instead of creating a copy. It is stored in your project
        (leave `project` out) unless you name another, or "" for global.
        """
        with tool_errors():
            caller = await ctx.begin(agent_role, writes=True)
            in_project = await ctx.project(project, stores=True)
            draft = pattern_draft(
                ctx.text("pattern_name", pattern_name),
                ctx.text("code", code),
                ctx.text("language", language),
                ctx.optional_text("context", context),
                ctx.json_object("success_metrics", success_metrics),
                [ctx.text("tags", t) for t in tags],
            )
            return await ctx.app.memory.remember(caller.stamped(draft, in_project))

    @mcp.tool(
        annotations=READ_ONLY,
        description="Recall stored code patterns relevant to a task, best first. Call before writing code.\n"
        + RECALL_WINDOW
        + '\nExample: {"description": "implement user authentication with JWT", "language": "python"}.',
    )
    async def recall_similar_patterns(
        description: Annotated[str, Field(description="What you are about to build, in words.")],
        language: Annotated[str | None, Field(description="Only patterns in this language.")] = None,
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=ctx.max_results)] = 3,
        project: ProjectSearched = None,
        since: Since = None,
        until: Until = None,
    ) -> RecallResult:
        with tool_errors():
            await ctx.begin()
            return await ctx.app.memory.recall(
                description,
                ["pattern"],
                n_results,
                language=normalize_language(language),
                query_field="description",
                project=await ctx.project(project),
                since=since,
                until=until,
            )

    # -- solutions ---------------------------------------------------------------------------------

    @mcp.tool(annotations=WRITES)
    async def store_solution(
        problem: Annotated[str, Field(description="The problem, as a task would describe it.")],
        solution: Annotated[str, Field(description="The complete solution (code and/or steps).")],
        language: Annotated[str | None, Field(description="Programming language, if any.")] = None,
        context: Annotated[str, Field(description="Constraints, environment, caveats.")] = "",
        success_metrics: Annotated[
            SuccessMetrics, Field(description='e.g. {"success_rate": 1.0}.')
        ] = NO_SUCCESS_METRICS,
        agent_role: Annotated[str | None, Field(description="Who stores it.")] = None,
        project: ProjectStored = None,
    ) -> StoreResult:
        """Store a complete solution to a problem, so the next agent with the same problem can reuse it.

        It is stored in your project (leave `project` out) unless you name another, or "" for global.
        """
        with tool_errors():
            caller = await ctx.begin(agent_role, writes=True)
            in_project = await ctx.project(project, stores=True)
            draft = solution_draft(
                ctx.text("problem", problem),
                ctx.text("solution", solution),
                language,
                ctx.optional_text("context", context),
                ctx.json_object("success_metrics", success_metrics),
            )
            return await ctx.app.memory.remember(caller.stamped(draft, in_project))

    @mcp.tool(
        annotations=READ_ONLY,
        description="Recall stored solutions to similar problems, best first.\n"
        + RECALL_WINDOW
        + '\nExample: {"problem": "paginate a SQLAlchemy query", "since": "30d"}.',
    )
    async def recall_solutions(
        problem: Annotated[str, Field(description="The problem you face, in words.")],
        language: Annotated[str | None, Field(description="Only solutions in this language.")] = None,
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=ctx.max_results)] = 3,
        project: ProjectSearched = None,
        since: Since = None,
        until: Until = None,
    ) -> RecallResult:
        with tool_errors():
            await ctx.begin()
            return await ctx.app.memory.recall(
                problem,
                ["solution"],
                n_results,
                language=normalize_language(language),
                query_field="problem",
                project=await ctx.project(project),
                since=since,
                until=until,
            )

    # -- errors ------------------------------------------------------------------------------------

    @mcp.tool(annotations=WRITES)
    async def store_error_resolution(
        error_message: Annotated[str, Field(description="The error as printed, e.g. the last traceback line.")],
        context: Annotated[str, Field(description="What you were doing when it happened.")],
        resolution: Annotated[str, Field(description="What you did about it: commands, code changes.")],
        success: Annotated[
            bool, Field(description="True if the resolution fixed the error; False if it did not.", strict=True)
        ],
        agent_role: Annotated[str | None, Field(description="Who stores it.")] = None,
        project: ProjectStored = None,
        episode_id: Annotated[
            str | None, Field(description="The episode you hit the error in: the fix is linked to it.")
        ] = None,
    ) -> StoreResult:
        """Store how an error was resolved — or that an attempt failed, so nobody repeats it.

        With the episode_id of the task you are on, the fix is linked to that episode (learned_from) and recorded
        in it as an event. Example: {"error_message": "ModuleNotFoundError: No module named 'fastapi'",
        "context": "starting the API", "resolution": "pip install fastapi uvicorn", "success": true}. It is stored
        in your project (leave `project` out) unless you name another, or "" for global (a fix that holds in any
        project).
        """
        with tool_errors():
            caller = await ctx.begin(agent_role, writes=True)
            in_project = await ctx.project(project, stores=True)
            draft = error_draft(
                ctx.text("error_message", error_message),
                ctx.optional_text("context", context),
                ctx.text("resolution", resolution),
                success,
            )
            if episode_id is not None:
                ctx.text("episode_id", episode_id)
            stored = await ctx.app.memory.remember(caller.stamped(draft, in_project))
            if episode_id is None:
                return stored
            note = await ctx.app.episodes.learned_fix(
                episode_id, stored.id, error_message, resolution, success, caller.agent, caller.role
            )
            return stored.model_copy(update={"message": f"{stored.message} {note}"})

    @mcp.tool(
        annotations=READ_ONLY,
        description="Recall how similar errors were resolved, best first.\n\n"
        "Each result has an outcome: 'worked' is a fix that worked; 'failed' is an attempt that did NOT work "
        "(do not repeat it); 'mixed' worked sometimes. Counts are in success_count and failure_count.\n"
        + RECALL_WINDOW
        + '\nExample: {"error_message": "ModuleNotFoundError: No module named \'fastapi\'", "project": "*"}.',
    )
    async def recall_error_solutions(
        error_message: Annotated[str, Field(description="The error you see, or a description of it.")],
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=ctx.max_results)] = 3,
        project: ProjectSearched = None,
        since: Since = None,
        until: Until = None,
    ) -> RecallResult:
        with tool_errors():
            await ctx.begin()
            return await ctx.app.memory.recall(
                error_message,
                ["error"],
                n_results,
                query_field="error_message",
                project=await ctx.project(project),
                since=since,
                until=until,
            )

    # -- everything --------------------------------------------------------------------------------

    @mcp.tool(annotations=READ_ONLY, description=SEARCH_DESCRIPTION)
    async def search_memory(
        query: Annotated[str, Field(description="What to look for, in words or code.")],
        memory_types: Annotated[
            list[MemoryType] | None,
            Field(description=f"Types to search (default all): {', '.join(MEMORY_TYPES)}."),
        ] = None,
        where: Annotated[dict[str, Any] | None, Field(description=f"Metadata filter. {FILTER_EXAMPLE}")] = None,
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=ctx.max_results)] = 5,
        project: ProjectSearched = None,
        since: Since = None,
        until: Until = None,
    ) -> RecallResult:
        with tool_errors():
            await ctx.begin()
            types = list(dict.fromkeys(memory_types)) if memory_types else list(MEMORY_TYPES)
            in_scope = await ctx.project(project)
            return await ctx.app.memory.recall(
                query, types, n_results, where=where, project=in_scope, since=since, until=until
            )

    @mcp.tool(annotations=READ_ONLY)
    async def get_memory(
        id: Annotated[str, Field(description="A memory id from a store or recall result.")],
    ) -> MemoryWithLinks:
        """Read one memory in full by its id, with every link from and to it and whether recall returns it
        (status active; or superseded, merged, archived: readable here but not recalled, with superseded_by or
        merged_into naming the memory to use instead)."""
        with tool_errors():
            await ctx.begin()
            return await ctx.app.memory.links.get(id)

    @mcp.tool(annotations=DESTRUCTIVE)
    async def delete_memory(
        id: Annotated[str, Field(description="The id of the memory to delete.")],
        reason: Annotated[str, Field(description="Why, e.g. 'wrong fix: the package is pyyaml'.")] = "",
    ) -> DeleteResult:
        """Delete a memory you wrote (e.g. a wrong fix); an admin may delete any. It leaves recall at once but is
        kept as a tombstone (who, when, why) that an admin can restore. For another agent's memory that did not
        work, call report_outcome instead."""
        with tool_errors():
            caller = await ctx.begin(writes=True)
            return await ctx.app.memory.delete(id, caller.agent, reason, any_writer=caller.admin)

    @mcp.tool(annotations=WRITES)
    async def restore_memory(
        id: Annotated[
            str,
            Field(description="The id of a deleted, archived or merged memory (list_deleted_memories, list_archived)."),
        ],
    ) -> MemoryWithLinks:
        """Admin: bring a memory back into recall, with its counts: a deleted one (from its tombstone), an archived
        one, or a near-duplicate consolidation merged (the memory it was merged into gives back its counts). A
        superseded memory comes back by unlink_memories instead."""
        with tool_errors():
            caller = await ctx.begin()
            caller.require_admin("restore memories")
            return await ctx.app.memory.restore(ctx.text("id", id))

    @mcp.tool(annotations=READ_ONLY)
    async def list_deleted_memories(
        agent: Annotated[str | None, Field(description="Only memories this agent wrote.")] = None,
        limit: Annotated[int, Field(description="How many, newest deletion first.", ge=1, le=1000)] = 20,
    ) -> DeletedMemories:
        """Admin: deleted memories (tombstones) with who deleted them, when and why."""
        with tool_errors():
            caller = await ctx.begin()
            caller.require_admin("list deleted memories")
            return DeletedMemories(memories=await ctx.app.memory.deleted(agent, limit))

    @mcp.tool(annotations=READ_ONLY)
    async def memory_stats(project: ProjectSearched = None) -> MemoryStats:
        """Counts per memory type and language (of your project and global memories; project="*" for all), per
        project in the whole store, where the data lives, its size on disk and the embedding model."""
        with tool_errors():
            await ctx.begin()
            return await ctx.app.memory.stats(await ctx.project(project))

    # -- outcomes ----------------------------------------------------------------------------------

    @mcp.tool(annotations=APPENDS)
    async def report_outcome(
        memory_id: Annotated[str, Field(description="The id of a memory you recalled and used.")],
        success: Annotated[bool, Field(description="True if it worked for you; False if it did not.", strict=True)],
        note: Annotated[str, Field(description="What happened, e.g. 'needed --upgrade too'. Optional.")] = "",
        agent_role: Annotated[str | None, Field(description="Who reports it.")] = None,
    ) -> OutcomeReport:
        """Report whether a recalled memory (fix, pattern, solution) worked when you used it. Call it after trying one.

        Recall ranks by the smoothed success rate (s + 1) / (s + f + 2): proven memories rise, and one that keeps
        failing sinks and is flagged. Example: {"memory_id": "err_3f2a...", "success": false,
        "note": "pip install fixed the import but uvicorn was missing too"}.
        """
        with tool_errors():
            caller = await ctx.begin(agent_role, writes=True)
            return await ctx.app.memory.report_outcome(ctx.text("memory_id", memory_id), success, note, caller.voter)
