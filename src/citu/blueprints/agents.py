"""The question-answering routes: ``ask_agent`` (+ stream, health) and the direct ask routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from quart import Blueprint, Response, request
from quart_schema import validate_querystring, validate_request

from citu import responses as r
from citu.agents.ask_service import AskRequest
from citu.apidoc import RequestModel, document_stream, envelope, responds
from citu.apidoc import agents as docs
from citu.errors import BadRequest
from citu.security import require_admin_when
from citu.services import services
from citu.web.answers import ask_agent_envelope, ask_stream_frames, direct_envelope
from citu.web.sse import sse_response

bp = Blueprint("agents", __name__)


class AskAgentIn(RequestModel):
    documented_required = ("question",)

    question: str | None = None
    """The question, in Chinese or English."""
    user_id: str | None = None
    """Who asks; default: the conversation id's prefix, else the anonymous user (guest)."""
    conversation_id: str | None = None
    """Continue this conversation (``<user_id>:<YYYYMMDDHHMMSSmmm>``); absent: a new one."""
    continue_conversation: bool = False
    """Without conversation_id: continue the user's latest conversation instead of a new one."""
    routing_mode: str | None = None
    """database_direct | chat_direct | hybrid | llm_only; default CITU_QUESTION_ROUTING_MODE."""


class AskAgentStreamQuery(RequestModel):
    documented_required = ("question",)

    question: str | None = None
    """The question, in Chinese or English."""
    user_id: str | None = None
    """Who asks; default: the conversation id's prefix, else the anonymous user (guest)."""
    conversation_id: str | None = None
    """Continue this conversation; absent: a new one."""
    continue_conversation: str | None = None
    """``true`` continues the user's latest conversation when no conversation_id is given."""
    routing_mode: str | None = None
    """database_direct | chat_direct | hybrid | llm_only; default CITU_QUESTION_ROUTING_MODE."""


class AskIn(RequestModel):
    documented_required = ("question",)

    question: str | None = None
    """The question to turn into SQL."""
    user_id: str | None = None
    """Who asks; default: the anonymous user (guest)."""
    conversation_id: str | None = None
    """Echoed back; a new id is made when absent."""


class RunSqlIn(RequestModel):
    documented_required = ("sql",)

    sql: str | None = None
    """One read-only SELECT; checked, run with a timeout, rows capped."""


def _require_question(question: str | None) -> str:
    if not question:
        raise BadRequest("缺少必需参数：question", missing_params=["question"])
    return question


@bp.post("/api/v0/ask_agent")
@responds(docs.AskAgentData, errors=(503, 504))
@validate_request(AskAgentIn)
async def ask_agent(data: AskAgentIn):
    """Answer a question with the LangGraph agent (database query or chat), in a conversation."""
    outcome = await services().ask.ask(AskRequest(**data.model_dump()))
    return r.reply(ask_agent_envelope(outcome, services().settings))


@bp.get("/api/v0/ask_agent_stream")
@document_stream(
    "text/event-stream",
    "Server-Sent Events: `progress` frames, then one `completed` (or `error`) frame.",
    errors=(503,),
)
@validate_querystring(AskAgentStreamQuery)
async def ask_agent_stream(query_args: AskAgentStreamQuery):
    """Same as ask_agent, as Server-Sent Events: a progress frame per step, then the answer."""
    request = AskRequest(
        question=query_args.question,
        user_id=query_args.user_id,
        conversation_id=query_args.conversation_id,
        continue_conversation=(query_args.continue_conversation or "").lower() == "true",
        routing_mode=query_args.routing_mode,
    )
    return sse_response(ask_stream_frames(services().ask.stream(request), services().settings))


@bp.get("/api/v0/agent_health")
@responds(
    docs.AgentHealthData,
    other={503: envelope(docs.AgentHealthData, "AgentHealthDegradedEnvelope")},
)
async def agent_health():
    """Agent health with a full test question; the result is cached for a few seconds."""
    return r.reply(await services().ask.health())


@bp.post("/api/v0/ask")
@responds(docs.AskData, errors=(422, 503, 504))
@validate_request(AskIn)
async def ask(data: AskIn):
    """Generate SQL for a question, run it read-only and summarise the result (no conversation)."""
    question = _require_question(data.question)
    user_id = data.user_id or services().settings.default_anonymous_user
    return r.reply(
        direct_envelope(
            await services().direct_ask.ask(question, user_id, data.conversation_id),
            services().settings,
        )
    )


@bp.post("/api/v0/ask_cached")
@responds(docs.AskCachedData, errors=(422, 503, 504))
@validate_request(AskIn)
async def ask_cached(data: AskIn):
    """Like /ask, answering a repeated question of the same user from a short-lived cache."""
    question = _require_question(data.question)
    user_id = data.user_id or services().settings.default_anonymous_user
    return r.reply(
        direct_envelope(
            await services().direct_ask.ask_cached(question, user_id), services().settings
        )
    )


def _refuse_oversized_sql(
    handler: Callable[..., Awaitable[Response]],
) -> Callable[..., Awaitable[Response]]:
    """A body too large to carry an acceptable statement is refused unread: reading and
    decoding megabytes of JSON would hold the event loop."""

    @wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Response:
        guard = services().sql_guard
        size = request.content_length
        if size is not None and size > guard.max_body_bytes:
            reason = guard.body_too_large(size)
            return r.reply(r.validation_failed_response(f"SQL安全检查未通过: {reason}"))
        return await handler(*args, **kwargs)

    return wrapper


@bp.post("/api/v0/citu_run_sql")
@responds(docs.RunSqlData, errors=(422, 503))
@require_admin_when("protect_run_sql")
@_refuse_oversized_sql
@validate_request(RunSqlIn)
async def citu_run_sql(data: RunSqlIn):
    """Run one read-only SQL query on the business database (checked, timed out, row-capped)."""
    if not data.sql:
        raise BadRequest("缺少必需参数：sql", missing_params=["sql"])
    return r.reply(
        direct_envelope(await services().direct_ask.run_sql(data.sql), services().settings)
    )
