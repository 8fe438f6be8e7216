"""The MCP edge: tools, resources and prompts that call the memory services and translate their errors."""


import hmac
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from mcp_memory import __version__
from mcp_memory.app import MemoryApp
from mcp_memory.auth import AgentTokens, RateLimiter
from mcp_memory.config import Settings
from mcp_memory.drafts import error_draft, pattern_draft, solution_draft
from mcp_memory.errors import MemoryStoreError, NotFound
from mcp_memory.knowledge import render_knowledge_index, render_knowledge_markdown
from mcp_memory.models import (
    MEMORY_TYPES,
    DeleteResult,
    KnowledgeType,
    MemoryRecord,
    MemoryStats,
    MemoryType,
    OutcomeReport,
    RecallResult,
    SeedCounts,
    StoreResult,
)
from mcp_memory.validation import FILTER_EXAMPLE, normalize_language, require_json_object, require_text

logger = logging.getLogger(__name__)

INSTRUCTIONS = """\
A shared, persistent memory for coding agents. Before a task: recall_similar_patterns, recall_solutions and
recall_error_solutions (or search_memory across everything). After a task: store what worked
(store_code_pattern, store_solution) and every error you fixed or failed to fix (store_error_resolution).
Storing the same thing twice is safe: it counts the reuse instead of duplicating. Seeded knowledge is
readable at memory://knowledge."""

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


class AgentTokenVerifier:
    """Bearer tokens that name agents (MCP_MEMORY_TOKENS / MCP_MEMORY_TOKENS_FILE)."""

    def __init__(self, tokens: AgentTokens) -> None:
        self.tokens = tokens

    async def verify_token(self, token: str) -> AccessToken | None:
        agent = self.tokens.agent_for(token)
        return AccessToken(token=token, client_id=agent, scopes=[]) if agent else None


class ForwardedAgentVerifier:
    """Tokens ``<secret>.<agent>`` from server processes that forward to the store's owner."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    async def verify_token(self, token: str) -> AccessToken | None:
        secret, _, agent = token.partition(".")
        if not hmac.compare_digest(secret.encode(), self.secret.encode()):
            return None
        return AccessToken(token=token, client_id=agent, scopes=[])


def _auth_settings(settings: Settings) -> AuthSettings:
    base_url = f"http://{settings.host}:{settings.port}"
    return AuthSettings(issuer_url=base_url, resource_server_url=f"{base_url}/mcp", validate_token_resource=False)


def user_auth(settings: Settings) -> dict[str, Any]:
    """Bearer-token auth for agents when tokens are configured (keyword arguments for the SDK)."""
    tokens = AgentTokens(settings.tokens, settings.tokens_file)
    if not tokens.configured:
        return {}
    return {"token_verifier": AgentTokenVerifier(tokens), "auth": _auth_settings(settings)}


def forwarded_auth(secret: str) -> dict[str, Any]:
    verifier = ForwardedAgentVerifier(secret)
    return {"token_verifier": verifier, "auth": _auth_settings(Settings(host="localhost", port=0))}


def current_agent() -> str | None:
    """The agent named by the bearer token of the current HTTP request, if any."""
    token = get_access_token()
    return (token.client_id or None) if token else None


@contextmanager
def tool_errors() -> Iterator[None]:
    """Our expected failures become tool errors whose text the agent reads."""
    try:
        yield
    except MemoryStoreError as exc:
        raise ToolError(str(exc)) from exc


def build_server(app: MemoryApp, *, forwarded_secret: str | None = None) -> MCPServer:
    """The MCP server over ``app``; nothing heavy happens until the first tool call or ``app.start_*``.

    With ``forwarded_secret`` it is the owner's socket server: callers are other server processes that
    present the secret and the name of the agent they forward for.
    """
    settings = app.settings
    max_n = settings.max_results

    @asynccontextmanager
    async def warm_up(_: MCPServer) -> AsyncIterator[dict[str, Any]]:
        # Runs once the transport is up (stdout already claimed in stdio mode): load while the client lists tools.
        app.start_in_background()
        yield {}

    limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    auth_options = forwarded_auth(forwarded_secret) if forwarded_secret else user_auth(settings)

    async def begin(agent_role: str | None = None) -> str | None:
        """Rate-limit the caller, wait until the store is ready, and say who is writing."""
        agent = current_agent()
        if agent:  # limits apply to agents named by a token; anonymous local use is not throttled
            limiter.check(agent)
        await app.ready()
        return agent or agent_role

    mcp = MCPServer(
        "mcp-memory",
        lifespan=warm_up,
        **auth_options,
        title="mcp-memory",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level=settings.log_level,
    )

    def text(field: str, value: str) -> str:
        return require_text(field, value, settings.max_text_chars)

    def optional_text(field: str, value: str) -> str:
        return require_text(field, value, settings.max_text_chars, allow_empty=True)

    def json_object(field: str, value: dict[str, Any]) -> dict[str, Any]:
        return require_json_object(field, value, settings.max_text_chars)

    # -- patterns ----------------------------------------------------------------------------------

    @mcp.tool(annotations=WRITES)
    async def store_code_pattern(
        pattern_name: Annotated[str, Field(description="Short name, e.g. 'JWT authentication middleware'.")],
        code: Annotated[str, Field(description="The code of the pattern, as it should be reused.")],
        language: Annotated[str, Field(description="Programming language, e.g. 'python', 'typescript'.")],
        context: Annotated[str, Field(description="When and why to use it; what problem it solved.")],
        success_metrics: Annotated[
            dict[str, Any], Field(description='How well it worked, e.g. {"success_rate": 1.0, "tests_passed": 12}.')
        ] = {},
        tags: Annotated[list[str], Field(description="Keywords, e.g. ['auth', 'fastapi'].", max_length=50)] = [],
        agent_role: Annotated[str | None, Field(description="Who stores it, e.g. 'WORKER_BACKEND'.")] = None,
    ) -> StoreResult:
        """Store a reusable code pattern that worked, so later tasks can recall it.

        Example: {"pattern_name": "Retry with backoff", "code": "async def retry(...): ...",
        "language": "python", "context": "Flaky HTTP calls", "success_metrics": {"success_rate": 1.0}}.
        Storing the same code again counts a reuse instead of creating a copy.
        """
        with tool_errors():
            agent = await begin(agent_role)
            draft = pattern_draft(
                text("pattern_name", pattern_name),
                text("code", code),
                text("language", language),
                optional_text("context", context),
                json_object("success_metrics", success_metrics),
                [text("tags", t) for t in tags],
                agent=agent,
            )
            return await app.memory.remember(draft)

    @mcp.tool(annotations=READ_ONLY)
    async def recall_similar_patterns(
        description: Annotated[str, Field(description="What you are about to build, in words.")],
        language: Annotated[str | None, Field(description="Only patterns in this language.")] = None,
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=max_n)] = 3,
    ) -> RecallResult:
        """Recall stored code patterns relevant to a task, best first. Call before writing code.

        Example: {"description": "implement user authentication with JWT", "language": "python"}.
        """
        with tool_errors():
            await begin()
            return await app.memory.recall(
                description, ["pattern"], n_results, language=normalize_language(language), query_field="description"
            )

    # -- solutions ---------------------------------------------------------------------------------

    @mcp.tool(annotations=WRITES)
    async def store_solution(
        problem: Annotated[str, Field(description="The problem, as a task would describe it.")],
        solution: Annotated[str, Field(description="The complete solution (code and/or steps).")],
        language: Annotated[str | None, Field(description="Programming language, if any.")] = None,
        context: Annotated[str, Field(description="Constraints, environment, caveats.")] = "",
        success_metrics: Annotated[dict[str, Any], Field(description='e.g. {"success_rate": 1.0}.')] = {},
        agent_role: Annotated[str | None, Field(description="Who stores it.")] = None,
    ) -> StoreResult:
        """Store a complete solution to a problem, so the next agent with the same problem can reuse it."""
        with tool_errors():
            agent = await begin(agent_role)
            draft = solution_draft(
                text("problem", problem),
                text("solution", solution),
                language,
                optional_text("context", context),
                json_object("success_metrics", success_metrics),
                agent=agent,
            )
            return await app.memory.remember(draft)

    @mcp.tool(annotations=READ_ONLY)
    async def recall_solutions(
        problem: Annotated[str, Field(description="The problem you face, in words.")],
        language: Annotated[str | None, Field(description="Only solutions in this language.")] = None,
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=max_n)] = 3,
    ) -> RecallResult:
        """Recall stored solutions to similar problems, best first."""
        with tool_errors():
            await begin()
            return await app.memory.recall(
                problem, ["solution"], n_results, language=normalize_language(language), query_field="problem"
            )

    # -- errors ------------------------------------------------------------------------------------

    @mcp.tool(annotations=WRITES)
    async def store_error_resolution(
        error_message: Annotated[str, Field(description="The error as printed, e.g. the last traceback line.")],
        context: Annotated[str, Field(description="What you were doing when it happened.")],
        resolution: Annotated[str, Field(description="What you did about it: commands, code changes.")],
        success: Annotated[bool, Field(description="True if the resolution fixed the error; False if it did not.")],
        agent_role: Annotated[str | None, Field(description="Who stores it.")] = None,
    ) -> StoreResult:
        """Store how an error was resolved — or that an attempt failed, so nobody repeats it.

        Example: {"error_message": "ModuleNotFoundError: No module named 'fastapi'", "context": "starting the API",
        "resolution": "pip install fastapi uvicorn", "success": true}.
        """
        with tool_errors():
            agent = await begin(agent_role)
            draft = error_draft(
                text("error_message", error_message),
                optional_text("context", context),
                text("resolution", resolution),
                success,
                agent=agent,
            )
            return await app.memory.remember(draft)

    @mcp.tool(annotations=READ_ONLY)
    async def recall_error_solutions(
        error_message: Annotated[str, Field(description="The error you see, or a description of it.")],
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=max_n)] = 3,
    ) -> RecallResult:
        """Recall how similar errors were resolved, best first.

        Each result has an outcome: 'worked' is a fix that worked; 'failed' is an attempt that did NOT work
        (do not repeat it); 'mixed' worked sometimes. Counts are in success_count and failure_count.
        """
        with tool_errors():
            await begin()
            return await app.memory.recall(error_message, ["error"], n_results, query_field="error_message")

    # -- everything --------------------------------------------------------------------------------

    @mcp.tool(annotations=READ_ONLY, description=SEARCH_DESCRIPTION)
    async def search_memory(
        query: Annotated[str, Field(description="What to look for, in words or code.")],
        memory_types: Annotated[
            list[MemoryType] | None,
            Field(description=f"Types to search (default all): {', '.join(MEMORY_TYPES)}."),
        ] = None,
        where: Annotated[
            dict[str, Any] | None, Field(description=f"Metadata filter. {FILTER_EXAMPLE}")
        ] = None,
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=max_n)] = 5,
    ) -> RecallResult:
        with tool_errors():
            await begin()
            types = list(dict.fromkeys(memory_types)) if memory_types else list(MEMORY_TYPES)
            return await app.memory.recall(query, types, n_results, where=where)

    @mcp.tool(annotations=READ_ONLY)
    async def get_memory(
        id: Annotated[str, Field(description="A memory id from a store or recall result.")],
    ) -> MemoryRecord:
        """Read one memory in full by its id."""
        with tool_errors():
            await begin()
            return await app.memory.get(id)

    @mcp.tool(annotations=DESTRUCTIVE)
    async def delete_memory(
        id: Annotated[str, Field(description="The id of the memory to delete.")],
    ) -> DeleteResult:
        """Delete one memory for good (e.g. a wrong or harmful fix). Seeded knowledge returns on the next seeding."""
        with tool_errors():
            await begin()
            return await app.memory.delete(id)

    @mcp.tool(annotations=READ_ONLY)
    async def memory_stats() -> MemoryStats:
        """Counts per memory type and language, where the data lives, its size on disk and the embedding model."""
        with tool_errors():
            await begin()
            return await app.memory.stats()

    # -- knowledge ---------------------------------------------------------------------------------

    @mcp.tool(annotations=WRITES)
    async def add_custom_knowledge(
        title: Annotated[str, Field(description="e.g. 'OAuth2 implementation pattern'.")],
        content: Annotated[str, Field(description="The knowledge itself: markdown, code or both.")],
        knowledge_type: Annotated[KnowledgeType, Field(description="pattern, best_practice, error or solution.")],
        metadata: Annotated[
            dict[str, Any], Field(description='e.g. {"language": "python", "framework": "fastapi", "tags": ["auth"]}.')
        ] = {},
    ) -> StoreResult:
        """Add team or domain knowledge to the knowledge base; recall and search find it like any memory."""
        with tool_errors():
            title, content = text("title", title), text("content", content)
            metadata = json_object("metadata", metadata)
            await begin()
            return await app.knowledge.add(title, content, knowledge_type, metadata)

    @mcp.tool(annotations=WRITES)
    async def seed_initial_knowledge() -> SeedCounts:
        """Seed the built-in design patterns, best practices and common errors. Safe to repeat: no duplicates."""
        with tool_errors():
            await begin()
            return await app.knowledge.seed()

    # -- resources ---------------------------------------------------------------------------------

    @mcp.resource("memory://knowledge", name="knowledge-index", mime_type="text/markdown")
    async def knowledge_index() -> str:
        """Index of the knowledge base: seeded and custom patterns, best practices and errors."""
        with resource_errors():
            await begin()
            return render_knowledge_index(await app.knowledge.index())

    @mcp.resource("memory://knowledge/{kind}/{slug}", name="knowledge-item", mime_type="text/markdown")
    async def knowledge_item(kind: str, slug: str) -> str:
        """One knowledge item as markdown; kind is pattern, best_practice, error or solution."""
        with resource_errors():
            await begin()
            return render_knowledge_markdown(await app.knowledge.item(kind, slug))

    @mcp.resource("memory://stats", name="stats", mime_type="application/json")
    async def stats_resource() -> str:
        """The same figures as the memory_stats tool."""
        with resource_errors():
            await begin()
            return json.dumps((await app.memory.stats()).model_dump(), indent=2)

    # -- episodes ----------------------------------------------------------------------------------

    from typing import Literal

    from mcp.shared.exceptions import MCPError
    from mcp.types import INVALID_PARAMS

    from mcp_memory import task_prompt
    from mcp_memory.episode_views import replay_document
    from mcp_memory.models import (
        EpisodeEnded,
        EpisodeList,
        EpisodeReplay,
        EpisodeStarted,
        EventRecorded,
        FailureAnalysis,
        SimilarEpisodes,
    )

    appends = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
    roles = ["ORCHESTRATOR", "WORKER_BACKEND", "WORKER_FRONTEND", "QA_SENTINEL", "CONSENSUS_JUDGE", "SECURITY_AUDITOR"]

    record_event_description = f"""\
Record one event of an episode; returns its sequence number. Call it for every step (plan, code, command, test,
review, decision, error). The event is on disk when this returns: an agent that crashes loses nothing it recorded.
Many agents may record into one episode at once; order is by the returned seq, not by clock.

`data` is a JSON object; put errors under "error" (the traceback or message), files under "files", commands
under "command" with "returncode" — failure analysis and recall read these keys. Oversized `data` (more than
{settings.max_event_data_chars:,} characters as JSON, MCP_MEMORY_MAX_EVENT_DATA_CHARS) is REJECTED with an error
naming `data`, not truncated: nothing is recorded and the episode keeps all its other events; record an excerpt
or a path to the full log instead. Recording into an unknown or ended episode is an error.
Example: {{"episode_id": "ep_…", "event_type": "test_run", "agent_role": "QA_SENTINEL",
"data": {{"command": "pytest -q", "returncode": 1, "error": "ModuleNotFoundError: No module named 'fastapi'"}}}}."""

    def episode_call(agent_role: str | None = None) -> None:
        """Rate-limited like every tool (agents named by a token; a self-declared agent_role is not throttled, as
        anonymous local use is not), but never waits for the model: episode records are SQLite rows."""
        agent = current_agent()
        if agent:
            limiter.check(agent)

    @mcp.tool(annotations=appends)
    async def start_episode(
        task: Annotated[str, Field(description="The task the swarm is about to work on, as it was given.")],
        context: Annotated[
            dict[str, Any], Field(description='What frames the task, e.g. {"repo": "acme/api", "priority": "high"}.')
        ] = {},
        agent_role: Annotated[str | None, Field(description="Who starts it.", examples=roles)] = None,
    ) -> EpisodeStarted:
        """Start an episode: a durable, replayable record of one task. Share its id with every agent on the task.

        Example: {"task": "Add JWT auth to the todo API", "context": {"repo": "acme/todo"}, "agent_role": "ORCHESTRATOR"}.
        """
        with tool_errors():
            episode_call(agent_role)
            return await app.episodes.start(task, context, agent_role)

    @mcp.tool(annotations=appends, description=record_event_description)
    async def record_event(
        episode_id: Annotated[str, Field(description="The id start_episode returned.")],
        event_type: Annotated[
            str, Field(description="What happened.", examples=["plan", "code_generation", "test_run", "error"])
        ],
        agent_role: Annotated[str, Field(description="Who did it; free text, well-known roles in examples.", examples=roles)],
        data: Annotated[
            dict[str, Any],
            Field(description=f"The event as a JSON object, at most {settings.max_event_data_chars:,} characters."),
        ],
    ) -> EventRecorded:
        with tool_errors():
            episode_call(agent_role)
            return await app.episodes.record(episode_id, event_type, agent_role, data)

    @mcp.tool(annotations=appends)
    async def end_episode(
        episode_id: Annotated[str, Field(description="The id start_episode returned.")],
        success: Annotated[bool, Field(description="Did the task succeed?")],
        metrics: Annotated[dict[str, Any], Field(description='e.g. {"tests_passed": 12, "duration_s": 340}.')] = {},
        summary: Annotated[str, Field(description="What was done and what was learned, in a few sentences.")] = "",
    ) -> EpisodeEnded:
        """End an episode with its outcome; it then takes no more events and similar tasks can recall it.

        Episodes never ended stay listed as open (list_episodes status='open') and can be ended any time later.
        """
        with tool_errors():
            episode_call()
            return await app.episodes.end(episode_id, success, metrics, summary)

    @mcp.tool(annotations=READ_ONLY)
    async def get_episode(
        episode_id: Annotated[str, Field(description="An id from start_episode or list_episodes.")],
        after_seq: Annotated[int, Field(description="Only events after this sequence number.", ge=0)] = 0,
        max_events: Annotated[int, Field(description="At most this many events.", ge=1, le=10_000)] = 1000,
    ) -> EpisodeReplay:
        """Replay an episode: its facts, a markdown timeline and every event in sequence order."""
        with tool_errors():
            episode_call()
            return await app.episodes.get(episode_id, after_seq, max_events)

    @mcp.tool(annotations=READ_ONLY)
    async def list_episodes(
        status: Annotated[Literal["open", "ended"] | None, Field(description="open, ended, or both (null).")] = None,
        success: Annotated[bool | None, Field(description="Only succeeded (true) or failed (false) ones.")] = None,
        limit: Annotated[int, Field(description="How many, newest first.", ge=1, le=1000)] = 20,
    ) -> EpisodeList:
        """List episodes, newest first; status='open' finds the ones never ended."""
        with tool_errors():
            episode_call()
            return await app.episodes.list(status, success, limit)

    @mcp.tool(annotations=READ_ONLY)
    async def recall_similar_episodes(
        task_description: Annotated[str, Field(description="The task you are about to start.")],
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=max_n)] = 3,
        success_only: Annotated[bool, Field(description="Only episodes that succeeded.")] = False,
    ) -> SimilarEpisodes:
        """Past episodes like this task (by its words, summary and salient events): how each ended and why similar.

        Example: {"task_description": "Add rate limiting to the FastAPI todo service", "n_results": 3}.
        """
        with tool_errors():
            await begin()
            return await app.episodes.recall_similar(task_description, n_results, success_only)

    @mcp.tool(annotations=READ_ONLY)
    async def analyze_failures(
        limit: Annotated[int, Field(description="How many failure clusters to return.", ge=1, le=100)] = 10,
    ) -> FailureAnalysis:
        """Failed episodes grouped by cause (error signature, failing step, role), each with a known fix if stored.

        Each cluster counts its episodes, shows the events before the failure and says what to do next.
        """
        with tool_errors():
            await begin()
            return await app.failures.analyze(limit)

    @mcp.resource("memory://episodes/{episode_id}", name="episode", mime_type="text/markdown")
    async def episode_resource(episode_id: str) -> str:
        """An episode replayed: a markdown timeline, then its events as JSON."""
        with resource_errors():
            episode_call()
            return replay_document(await app.episodes.get(episode_id))

    @mcp.prompt()
    async def memory_informed_task(task_description: str, language: str = "") -> str:
        """The task with what memory knows about it: patterns, error fixes, best practices, past episodes."""
        try:
            await begin()
            return await task_prompt.memory_informed_task(app.memory, app.episodes, task_description, language)
        except MemoryStoreError as exc:
            raise MCPError(INVALID_PARAMS, str(exc)) from exc

    # -- learning from consensus -------------------------------------------------------------------

    from mcp_memory.extraction import ExtractionResult
    from mcp_memory.learning_models import ConsensusLearned, PatternSuggestions

    @mcp.tool(annotations=READ_ONLY)
    async def extract_patterns(
        code: Annotated[str, Field(description="The code to analyze: a function, a file, or a half-written snippet.")],
        language: Annotated[
            str, Field(description="python, javascript, typescript (or tsx), go, rust, java; others become one snippet.")
        ],
    ) -> ExtractionResult:
        """Show the reusable patterns in a piece of code — what extract_from_consensus would learn — storing nothing.

        Finds functions, methods and classes, error handling, async code and algorithm-shaped units, each with
        a description, a complexity (low/medium/high) and a structure hash that ignores names and comments.
        Example: {"code": "async def fetch(url): ...", "language": "python"}.
        """
        with tool_errors():
            await begin()
            return await app.learning.extract(code, language)

    @mcp.tool(annotations=WRITES)
    async def extract_from_consensus(
        winner_candidate: Annotated[
            dict[str, Any],
            Field(
                description='The winning candidate: {"code": str, "language": str, "agent_role"?: str, '
                '"score"?: number}. language may come from task_context instead.'
            ),
        ],
        task_context: Annotated[
            dict[str, Any],
            Field(description='The task: {"description": str, "language"?: str, ...any other context}.'),
        ],
        consensus_result: Annotated[
            dict[str, Any],
            Field(
                description='How it won: {"score"?: number, "scores"?: [numbers], "votes"?: int, '
                '"num_candidates"?: int, "consensus_id"?: str, "success"?: bool (default true)}.'
            ),
        ] = {},
        episode_id: Annotated[
            str | None, Field(description="The task's episode; a 'consensus' event is recorded there if it is open.")
        ] = None,
    ) -> ConsensusLearned:
        """Learn from the winner of a consensus vote: store it as a solution and its patterns as code patterns.

        Call it once consensus has picked a winner. Only new knowledge is stored: a pattern already known (same
        structure in the same language, even with renamed variables or other comments) has its usage and
        success counts raised instead. The result lists new and reinforced patterns and the solution id.
        Example: {"winner_candidate": {"code": "def slugify(title): ...", "language": "python",
        "agent_role": "WORKER_BACKEND", "score": 0.92}, "task_context": {"description": "URL slugs for posts"},
        "consensus_result": {"votes": 3, "num_candidates": 4}}.
        """
        with tool_errors():
            role = winner_candidate.get("agent_role") if isinstance(winner_candidate, dict) else None
            agent = await begin(role if isinstance(role, str) else None)
            return await app.learning.learn_from_consensus(
                winner_candidate, task_context, consensus_result, episode_id, agent
            )

    @mcp.tool(annotations=READ_ONLY)
    async def suggest_patterns(
        task_description: Annotated[str, Field(description="The task you are about to work on, in words.")],
        language: Annotated[str | None, Field(description="Only patterns in this language.")] = None,
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=max_n)] = 5,
    ) -> PatternSuggestions:
        """Suggest stored code patterns for a new task, best first, each with why it was suggested.

        Ranked by relevance and success record, as recall ranks outcomes: score = similarity + 0.2 x (rate - 0.5),
        minus 0.15 if it keeps failing, where rate = (s + 1) / (s + f + 2) and s, f are the pattern's successes
        (consensus wins and reported successes) and reported failures.
        Example: {"task_description": "fetch JSON from a flaky HTTP API with retries", "language": "python"}.
        """
        with tool_errors():
            await begin()
            return await app.learning.suggest(task_description, language, n_results)

    # -- outcomes ----------------------------------------------------------------------------------

    @mcp.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False))
    async def report_outcome(
        memory_id: Annotated[str, Field(description="The id of a memory you recalled and used.")],
        success: Annotated[bool, Field(description="True if it worked for you; False if it did not.")],
        note: Annotated[str, Field(description="What happened, e.g. 'needed --upgrade too'. Optional.")] = "",
        agent_role: Annotated[str | None, Field(description="Who reports it.")] = None,
    ) -> OutcomeReport:
        """Report whether a recalled memory (fix, pattern, solution) worked when you used it. Call it after trying one.

        Recall ranks by the smoothed success rate (s + 1) / (s + f + 2): proven memories rise, and one that keeps
        failing sinks and is flagged. Example: {"memory_id": "err_3f2a...", "success": false,
        "note": "pip install fixed the import but uvicorn was missing too"}.
        """
        with tool_errors():
            agent = await begin(agent_role)
            return await app.memory.report_outcome(text("memory_id", memory_id), success, note, agent)

    return mcp


SEARCH_DESCRIPTION = f"""\
Search all memory types at once (patterns, solutions, errors, best practices, episodes), best first.

Filter with `where` on metadata: language, source (agent | seed | knowledge | consensus), agent, usage_count,
success_count, failure_count, created_at (unix seconds), or any scalar metadata key you stored.
{FILTER_EXAMPLE}
Example call: {{"query": "retry HTTP requests", "memory_types": ["pattern", "solution"],
"where": {{"language": "python"}}, "n_results": 5}}."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def http_security(settings: Settings) -> Any:
    """DNS-rebinding protection: the SDK's loopback defaults, or the bound host plus allowed extra names."""
    from mcp.server.transport_security import TransportSecuritySettings

    if is_loopback(settings.host):
        return None
    hosts = [settings.host, "localhost", "127.0.0.1", *settings.allowed_host_list()]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{h}:*" for h in hosts] + hosts,
        allowed_origins=[f"http://{h}:*" for h in hosts] + [f"https://{h}:*" for h in hosts],
    )


@contextmanager
def resource_errors() -> Iterator[None]:
    try:
        yield
    except NotFound as exc:
        raise ResourceNotFoundError(str(exc)) from exc
    except MemoryStoreError as exc:
        raise ResourceError(str(exc)) from exc
