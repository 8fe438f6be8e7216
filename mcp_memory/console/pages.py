"""The console's pages: read the data, decide what to show, render a template (or JSON for scripts)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from mcp_memory.access.tokens import RateLimited
from mcp_memory.config import Settings
from mcp_memory.console import present
from mcp_memory.console.auth import ConsoleAuth, safe_next, same_origin
from mcp_memory.console.data import ConsoleData
from mcp_memory.console.models import HomePage
from mcp_memory.console.render import query_terms
from mcp_memory.episodes.views import episode_duration
from mcp_memory.errors import InvalidInput, MemoryStoreError, NotFound
from mcp_memory.models import MEMORY_TYPES, MemoryType

SEARCH_PER_PAGE = 10
RECENT_EPISODES = 6
EPISODES_PER_PAGE = 25
EVENTS_PER_PAGE = 200
FAILURES_PER_PAGE = 10
MAX_FAILURE_CLUSTERS = 100
SIMILAR_EPISODES = 8
OUTCOMES = ("open", "succeeded", "failed")
SECTIONS = {
    "search.html": "search",
    "memory.html": "search",
    "episodes.html": "episodes",
    "episode.html": "episodes",
    "similar_episodes.html": "episodes",
    "failures.html": "failures",
    "stats.html": "stats",
}


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter, clamped to [low, high]; anything unreadable is the default."""
    try:
        value = int(request.query_params.get(name, default))
    except ValueError:
        return default
    return max(low, min(high, value))


def text_param(request: Request, name: str, limit: int = 500) -> str:
    return request.query_params.get(name, "").strip()[:limit]


def page_url(request: Request, **changes: Any) -> str:
    """This page's address with some query parameters changed (None removes one)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    params += [(k, str(v)) for k, v in changes.items() if v is not None]
    return request.url.path + (f"?{urlencode(params)}" if params else "")


def json_requested(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.query_params.get("format") == "json" or ("application/json" in accept and "text/html" not in accept)


class Pages:
    """Route handlers over one data source."""

    def __init__(self, data: ConsoleData, settings: Settings, auth: ConsoleAuth, templates: Jinja2Templates) -> None:
        self.data = data
        self.settings = settings
        self.auth = auth
        self.templates = templates

    def render(
        self, request: Request, name: str, context: dict[str, Any], model: BaseModel | None = None, status: int = 200
    ) -> Response:
        if model is not None and json_requested(request):
            return Response(model.model_dump_json(), status_code=status, media_type="application/json")
        context = {
            # Not "agent": the search page's agent filter has that name.
            "signed_in_agent": request.state.agent,
            "auth_required": self.auth.required,
            "page_url": lambda **changes: page_url(request, **changes),
            "section": SECTIONS.get(name, ""),
            "show_quick_search": name != "search.html",
            **context,
        }
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def problem(self, request: Request, status: int, title: str, message: str) -> Response:
        if json_requested(request):
            return JSONResponse({"error": title, "message": message}, status_code=status)
        return self.render(request, "problem.html", {"title": title, "message": message}, status=status)

    async def guarded(self, request: Request, handler: Callable[[], Awaitable[Response]]) -> Response:
        """Our expected failures as pages that say what happened."""
        try:
            return await handler()
        except NotFound as exc:
            return self.problem(request, 404, "Not found", str(exc))
        except InvalidInput as exc:
            return self.problem(request, 400, "Not a valid request", str(exc))
        except MemoryStoreError as exc:
            return self.problem(request, 503, "The store is not available", str(exc))

    # -- search ------------------------------------------------------------------------------------

    async def search(self, request: Request) -> Response:
        query = text_param(request, "q", self.settings.max_text_chars)
        wanted = request.query_params.getlist("type")
        types: list[MemoryType] = [t for t in MEMORY_TYPES if t in wanted] or list(MEMORY_TYPES)
        language = text_param(request, "language", 40) or None
        agent = text_param(request, "agent", 200) or None
        project = text_param(request, "project", 200) or None
        pages = max(1, math.ceil(self.settings.max_results / SEARCH_PER_PAGE))
        page = int_param(request, "page", 1, 1, pages)
        context: dict[str, Any] = {
            "query": query,
            "types": types,
            "all_types": len(types) == len(MEMORY_TYPES),
            "language": language,
            "agent": agent,
            "project": project,
            "page": page,
            "type_labels": present.TYPE_LABELS,
        }

        async def run() -> Response:
            context["trends"] = await self.data.trends_now()
            if not query:
                recent = await self.data.episodes(None, None, None, 0, RECENT_EPISODES)
                home = HomePage(memories=context["trends"], recent_episodes=recent.episodes)
                return self.render(request, "search.html", {**context, "recent": recent.episodes, "hits": None}, home)
            wanted_n = min(self.settings.max_results, page * SEARCH_PER_PAGE + 1)
            try:
                result = await self.data.search(query, types, language, agent, wanted_n, project)
            except InvalidInput as exc:
                return self.render(request, "search.html", {**context, "hits": [], "error": str(exc)}, status=400)
            terms = query_terms(query)
            shown = result.results[(page - 1) * SEARCH_PER_PAGE : page * SEARCH_PER_PAGE]
            context.update(
                hits=[present.hit_view(hit, terms) for hit in shown],
                has_more=len(result.results) > page * SEARCH_PER_PAGE,
                first_rank=(page - 1) * SEARCH_PER_PAGE + 1,
                note=result.note,
            )
            return self.render(request, "search.html", context, result)

        return await self.guarded(request, run)

    # -- one memory --------------------------------------------------------------------------------

    async def memory(self, request: Request) -> Response:
        memory_id = request.path_params["memory_id"]

        async def run() -> Response:
            detail = await self.data.memory(memory_id)
            record = detail.record
            if record.type == "episode" and not json_requested(request):
                return RedirectResponse(f"/episodes/{record.id}", status_code=303)
            facts, other_metadata = present.provenance(record)
            context = {
                "detail": detail,
                "record": record,
                "sections": present.memory_sections(record),
                "facts": facts,
                "other_metadata": other_metadata,
                "type_labels": present.TYPE_LABELS,
                "memory_url": present.memory_url,
            }
            return self.render(request, "memory.html", context, detail)

        return await self.guarded(request, run)

    # -- episodes ----------------------------------------------------------------------------------

    async def episodes(self, request: Request) -> Response:
        outcome = request.query_params.get("outcome")
        outcome = outcome if outcome in OUTCOMES else None
        role = text_param(request, "role", 100) or None
        text = text_param(request, "q", 500) or None
        project = text_param(request, "project", 200) or None
        page = int_param(request, "page", 1, 1, 1_000_000)

        async def run() -> Response:
            offset = (page - 1) * EPISODES_PER_PAGE
            listed = await self.data.episodes(outcome, role, text, offset, EPISODES_PER_PAGE, project)  # type: ignore[arg-type]
            pages = max(1, math.ceil(listed.total / EPISODES_PER_PAGE))
            context = {"listed": listed, "outcome": outcome, "role": role, "text": text, "page": page, "pages": pages}
            context["project"] = project
            return self.render(request, "episodes.html", context, listed)

        return await self.guarded(request, run)

    async def episode(self, request: Request) -> Response:
        episode_id = request.path_params["episode_id"]
        after = int_param(request, "after", 0, 0, 10**12)

        async def run() -> Response:
            replay = await self.data.episode(episode_id, after, EVENTS_PER_PAGE)
            lane_of = present.lanes(replay.episode.agent_roles)
            events = present.event_views(replay.events, lane_of)
            info = replay.episode
            context = {
                "replay": replay,
                "info": info,
                "events": events,
                "lanes": list(lane_of),
                "lane_colors": present.LANE_COLORS,
                "after": after,
                "duration": episode_duration(info),
                "metrics_html": present.highlight_json(info.metrics) if info.metrics else None,
                "context_html": present.highlight_json(info.context) if info.context else None,
            }
            return self.render(request, "episode.html", context, replay)

        return await self.guarded(request, run)

    async def similar_episodes(self, request: Request) -> Response:
        episode_id = request.path_params["episode_id"]

        async def run() -> Response:
            replay = await self.data.episode(episode_id, 0, 1)
            similar = await self.data.similar_episodes(episode_id, SIMILAR_EPISODES)
            context = {"info": replay.episode, "similar": similar}
            return self.render(request, "similar_episodes.html", context, similar)

        return await self.guarded(request, run)

    # -- failures and stats ------------------------------------------------------------------------

    async def failures(self, request: Request) -> Response:
        pages = MAX_FAILURE_CLUSTERS // FAILURES_PER_PAGE
        page = int_param(request, "page", 1, 1, pages)

        async def run() -> Response:
            analysis = await self.data.failures(min(MAX_FAILURE_CLUSTERS, page * FAILURES_PER_PAGE + 1))
            start = (page - 1) * FAILURES_PER_PAGE
            context = {
                "analysis": analysis,
                "clusters": analysis.clusters[start : start + FAILURES_PER_PAGE],
                "first_rank": start + 1,
                "page": page,
                "has_more": len(analysis.clusters) > page * FAILURES_PER_PAGE and page < pages,
            }
            return self.render(request, "failures.html", context, analysis)

        return await self.guarded(request, run)

    async def stats(self, request: Request) -> Response:
        async def run() -> Response:
            overview = await self.data.overview()
            context = {"overview": overview, "charts": _charts(overview), "type_labels": present.TYPE_LABELS}
            return self.render(request, "stats.html", context, overview)

        return await self.guarded(request, run)

    # -- login -------------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        if not self.auth.required or request.state.agent is not None:
            return RedirectResponse(target, status_code=303)
        if request.method == "GET":
            return self.render(request, "login.html", {"next": target, "error": None})
        if not same_origin(request):
            return self.problem(request, 403, "Forbidden", "A login form was posted from another site.")
        try:
            self.auth.check_login_rate(request.client.host if request.client else "unknown")
        except RateLimited:
            context = {"next": target, "error": "Too many attempts. Wait a few seconds and try again."}
            return self.render(request, "login.html", context, status=429)
        form = await request.form()
        token = str(form.get("token", "")).strip()
        target = safe_next(str(form.get("next", "")) or target)
        if self.auth.agent_for_token(token) is None:
            context = {"next": target, "error": "That token is not valid. Use one of the server's agent tokens."}
            return self.render(request, "login.html", context, status=401)
        response = RedirectResponse(target, status_code=303)
        self.auth.set_cookie(response, request, self.auth.start_session(token))
        return response

    async def logout(self, request: Request) -> Response:
        if not same_origin(request):
            return self.problem(request, 403, "Forbidden", "A logout form was posted from another site.")
        session = request.cookies.get(self.auth.cookie_name)
        if session:
            self.auth.end_session(session)
        response = RedirectResponse("/login", status_code=303)
        self.auth.clear_cookie(response, request)
        return response


def _charts(overview: Any) -> dict[str, Any]:
    """The data the stats page's charts draw (read by static/stats.js)."""
    charts: dict[str, Any] = {}
    memories = overview.memories
    if memories is not None:
        charts["added_by_type"] = {
            "labels": memories.buckets,
            "series": [
                {"label": present.TYPE_LABELS.get(s.label, s.label), "key": s.label, "values": s.values}
                for s in memories.added_by_type
            ],
            "total": memories.cumulative,
        }
        charts["added_by_language"] = {
            "labels": memories.buckets,
            "series": [{"label": s.label, "key": s.label, "values": s.values} for s in memories.added_by_language],
        }
        charts["outcomes"] = {
            "labels": [present.TYPE_LABELS.get(t, t) for t in memories.outcomes_by_type],
            "series": [
                {
                    "label": outcome,
                    "key": outcome,
                    "values": [counts.get(outcome, 0) for counts in memories.outcomes_by_type.values()],
                }
                for outcome in ("worked", "mixed", "failed", "unknown")
            ],
        }
    episodes = overview.episodes
    charts["episodes"] = {
        "labels": episodes.buckets,
        "series": [{"label": s.label, "key": s.label, "values": s.values} for s in episodes.started_by_outcome],
        "rate": episodes.success_rate,
    }
    return charts
