"""Learning tools: extract patterns from code, learn from a consensus winner, suggest patterns for a task."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from mcp_memory.edge.tool_inputs import (
    NO_CONSENSUS_RESULT,
    ConsensusResult,
    ProjectSearched,
    ProjectStored,
    Since,
    TaskContext,
    Until,
    WinnerCandidate,
)
from mcp_memory.edge.tools.context import READ_ONLY, WRITES, ToolContext, tool_errors
from mcp_memory.extraction import ExtractionResult
from mcp_memory.learning.models import ConsensusLearned, PatternSuggestions


def register(mcp: MCPServer, ctx: ToolContext) -> None:
    @mcp.tool(annotations=READ_ONLY)
    async def extract_patterns(
        code: Annotated[str, Field(description="The code to analyze: a function, a file, or a half-written snippet.")],
        language: Annotated[
            str,
            Field(description="python, javascript, typescript (or tsx), go, rust, java; others become one snippet."),
        ],
    ) -> ExtractionResult:
        """Show the reusable patterns in a piece of code — what extract_from_consensus would learn — storing nothing.

        Finds functions, methods and classes, error handling, async code and algorithm-shaped units, each with
        a description, a complexity (low/medium/high) and a structure hash that ignores names and comments.
        Example: {"code": "async def fetch(url): ...", "language": "python"}.
        """
        with tool_errors():
            await ctx.begin()
            return await ctx.app.learning.extract(code, language)

    @mcp.tool(annotations=WRITES)
    async def extract_from_consensus(
        winner_candidate: Annotated[
            WinnerCandidate, Field(description="The winning candidate; language may come from task_context instead.")
        ],
        task_context: Annotated[TaskContext, Field(description="The task, with any other context you keep.")],
        consensus_result: Annotated[
            ConsensusResult, Field(description="How it won, in your swarm's own shape; other keys are kept too.")
        ] = NO_CONSENSUS_RESULT,
        episode_id: Annotated[
            str | None, Field(description="The task's episode; a 'consensus' event is recorded there if it is open.")
        ] = None,
        project: ProjectStored = None,
    ) -> ConsensusLearned:
        """Learn from the winner of a consensus vote: store it as a solution and its patterns as code patterns.

        Call it once consensus has picked a winner. Only new knowledge is stored: a pattern already known (same
        structure in the same language, even with renamed variables or other comments) has its usage and
        success counts raised instead. The result lists new and reinforced patterns and the solution id.
        Example: {"winner_candidate": {"code": "def slugify(title): ...", "language": "python",
        "agent_role": "WORKER_BACKEND", "score": 0.92}, "task_context": {"description": "URL slugs for posts"},
        "consensus_result": {"votes": [3, 1], "num_candidates": 4}}. What is learned belongs to your project
        (leave `project` out) unless you name another.
        """
        with tool_errors():
            caller = await ctx.begin(winner_candidate.agent_role, writes=True)
            in_project = await ctx.project(project, stores=True)
            return await ctx.app.learning.learn_from_consensus(
                winner_candidate.as_dict(),
                task_context.as_dict(),
                consensus_result.as_dict(),
                episode_id,
                caller.agent,
                in_project,
            )

    @mcp.tool(annotations=READ_ONLY)
    async def suggest_patterns(
        task_description: Annotated[str, Field(description="The task you are about to work on, in words.")],
        language: Annotated[str | None, Field(description="Only patterns in this language.")] = None,
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=ctx.max_results)] = 5,
        project: ProjectSearched = None,
        since: Since = None,
        until: Until = None,
    ) -> PatternSuggestions:
        """Suggest stored code patterns for a new task, best first, each with why it was suggested.

        Ranked by relevance and success record, as recall ranks outcomes: score = similarity + 0.2 x (rate - 0.5),
        minus 0.15 if it keeps failing, where rate = (s + 1) / (s + f + 2) and s, f are the pattern's successes
        (consensus wins and reported successes) and reported failures.
        Suggests from your project's patterns and global ones; project="*" suggests from every project's.
        since/until keep patterns stored in a time window: an age ("7d") or an ISO date.
        Example: {"task_description": "fetch JSON from a flaky HTTP API with retries", "language": "python"}.
        """
        with tool_errors():
            await ctx.begin()
            in_scope = await ctx.project(project)
            return await ctx.app.learning.suggest(task_description, language, n_results, in_scope, since, until)
