"""ReAct agent routes: ask (plain and SSE), thread status and checkpoints.

The conversation reads are in ``react_conversations.py``. The agent and its memory are built
once at start (``services().react``); handlers only validate, call it and shape replies.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from psycopg import OperationalError
from quart import Blueprint, Response, request
from quart_schema import document_querystring, document_request

from citu import failures, inputs
from citu import responses as r
from citu.agents.react import schemas
from citu.agents.react.agent import AgentUnavailable, ThreadBusy, new_thread_id
from citu.apidoc import document_stream, responds
from citu.apidoc import react as docs
from citu.errors import BadRequest, BodyNotJson, BodyNotObject
from citu.security import require_admin
from citu.services import services
from citu.web.answers import react_turn_frames
from citu.web.bodies import json_object
from citu.web.sse import sse_refusal, sse_response

bp = Blueprint("react", __name__)
log = logging.getLogger("citu.agents.react.routes")

MAX_USER_ID_CHARS = 50

# The ReAct routes answer failures in their own shapes (documented as they are).
_REACT_FAILURES = {status: docs.ReactFailure for status in (400, 409, 500, 503)}
_STATUS_FAILURES = {status: docs.PlainFailure for status in (404, 500)}


def failure_text(error: BaseException) -> str:
    """citu's own text for an unexpected failure; the detail (redacted) goes to the log."""
    log.error("ReAct route failed: %s", error, exc_info=error)
    return failures.public_text(error)


# ---- request validation ----------------------------------------------


def validate_chat(fields: dict[str, Any]) -> tuple[str, str, str | None, list[str]]:
    """``(question, user_id, thread_id, errors)`` from a body or query string."""
    errors: list[str] = []
    question = fields.get("question")
    if not isinstance(question, str) or not question.strip():
        errors.append("问题不能为空")
        question = ""
    elif len(question) > inputs.max_question_chars():
        errors.append(f"问题长度不能超过{inputs.max_question_chars()}字符")
    thread_id = fields.get("thread_id") or fields.get("conversation_id") or None
    if thread_id is not None and not isinstance(thread_id, str):
        thread_id = str(thread_id)
    user_id = fields.get("user_id")
    if not user_id:
        user_id = thread_id.split(":", 1)[0] if thread_id and ":" in thread_id else "guest"
    user_id = str(user_id)
    if len(user_id) > MAX_USER_ID_CHARS:
        errors.append(f"用户ID长度不能超过{MAX_USER_ID_CHARS}字符")
    if ":" in user_id:
        errors.append("用户ID不能包含冒号")
    if thread_id is not None:
        if ":" not in thread_id:
            errors.append("会话ID格式无效，期望格式为 user_id:timestamp")
        elif thread_id.split(":", 1)[0] != user_id:
            errors.append(f"会话归属验证失败：会话ID [{thread_id}] 不属于当前用户 [{user_id}]")
    return question.strip(), user_id, thread_id, errors


@bp.errorhandler(BadRequest)
async def _plain_bad_request(error: BadRequest) -> Response:
    """``ask_react_agent`` keeps its own 400 shape (``error``, not ``data.response``) for the
    app-wide input checks (ids, question length, body) too."""
    if request.endpoint == "react.ask_react_agent":
        return _plain_error(400, "参数验证失败", str(error))
    return r.reply(error.body(), error.status)


def _chat_failure(
    code: int,
    message: str,
    error: str,
    retry: bool,
    thread_id: str,
    user_id: str,
    error_type: str = failures.INTERNAL_ERROR,
) -> Response:
    data = {"conversation_id": thread_id, "user_id": user_id, "timestamp": r.now_iso()}
    body = {
        "code": code,
        "message": message,
        "success": False,
        "error": error,
        "retry_suggested": retry,
        "data": {**data, "error_type": error_type},
    }
    return r.reply(body)


def _plain_error(code: int, message: str, error: str, **extra: Any) -> Response:
    return r.reply({"code": code, "message": message, "success": False, "error": error, **extra})


# ---- ask ---------------------------------------------------------------------------------


async def _chat_body() -> dict[str, Any] | Response:
    """The ask's JSON body, or the 400 the old route gave for a broken or empty one."""
    try:
        body = await json_object(empty_body=False, as_empty="nothing")
    except BodyNotJson as error:
        return _plain_error(
            400,
            "请求格式错误",
            "无效的JSON格式，请检查请求体中是否存在语法错误（如多余的逗号、引号不匹配等）",
            details=error.detail,
        )
    except BodyNotObject:
        body = {}
    if not body:
        return _plain_error(400, "请求参数错误", "请求体不能为空")
    return body


@bp.post("/api/v0/ask_react_agent")
@responds(docs.ReactAnswerData, other=_REACT_FAILURES)
@document_request(schemas.ReactChatIn)
async def ask_react_agent():
    """Ask the ReAct agent; the thread's history is kept in the PostgreSQL checkpointer."""
    body = await _chat_body()
    if isinstance(body, Response):
        return body
    question, user_id, thread_id, errors = validate_chat(body)
    if errors:
        return _plain_error(400, "参数验证失败", "; ".join(errors))
    thread_id = thread_id or new_thread_id(user_id)
    try:
        events = await services().react.start_turn(question, user_id, thread_id)
    except AgentUnavailable:
        return _plain_error(503, "服务未就绪", "React Agent 初始化失败")
    except OperationalError:
        return _chat_failure(
            503,
            "服务暂时不可用，请稍后重试",
            "数据库连接失败",
            True,
            thread_id,
            user_id,
            failures.DATABASE_UNAVAILABLE,
        )
    except ThreadBusy:
        return _chat_failure(
            409,
            "会话正在处理中",
            "该会话已有请求正在处理，请等待完成后再提问",
            True,
            thread_id,
            user_id,
        )
    return await _turn_reply(events, thread_id, user_id)


async def _turn_reply(
    events: AsyncIterator[dict[str, Any]], thread_id: str, user_id: str
) -> Response:
    """The answer envelope of a turn's ``completed`` event, or the failure of its ``error``."""
    async for event in events:
        if event["type"] == "completed":
            data = {
                **event["api_data"],
                "conversation_id": thread_id,
                "user_id": user_id,
                "timestamp": r.now_iso(),
            }
            return r.reply({"code": 200, "message": "处理成功", "success": True, "data": data})
        if event["type"] == "error":
            retry = event["retry_suggested"]
            return _chat_failure(
                503 if retry else 500,
                "服务暂时不可用，请稍后重试" if retry else "处理失败",
                event["error"],
                retry,
                thread_id,
                user_id,
                event.get("error_type", failures.INTERNAL_ERROR),
            )
    return _chat_failure(
        500, "处理失败", "处理失败：未获取到有效的执行结果", False, thread_id, user_id
    )


@bp.get("/api/v0/ask_react_agent_stream")
@document_stream(
    "text/event-stream",
    "Server-Sent Events: progress frames, then one completed (or error) frame.",
)
@document_querystring(schemas.ReactChatIn)
async def ask_react_agent_stream():
    """The same turn as ``ask_react_agent``, as Server-Sent Events (progress per graph node)."""
    fields = request.args.to_dict()
    if not fields.get("question"):
        return sse_refusal("缺少必需参数：question", failures.INVALID_REQUEST)
    question, user_id, thread_id, errors = validate_chat(fields)
    if errors:
        return sse_refusal(f"参数验证失败: {'; '.join(errors)}", failures.INVALID_REQUEST)
    thread_id = thread_id or new_thread_id(user_id)
    try:
        events = await services().react.start_turn(question, user_id, thread_id)
    except AgentUnavailable:
        return sse_refusal("流式 React Agent 初始化失败", failures.AGENT_UNAVAILABLE)
    except OperationalError:
        return sse_refusal("服务暂时不可用，请稍后重试", failures.DATABASE_UNAVAILABLE)
    except ThreadBusy:
        return sse_refusal("该会话已有请求正在处理，请等待完成后再提问", failures.CONFLICT)
    return sse_response(react_turn_frames(events, thread_id, user_id))


# ---- status --------------------------------------------------------------------------------


async def _status(thread_id: str) -> Response:
    agent = services().react
    try:
        status = await agent.views.status(thread_id)
    except Exception as error:  # noqa: BLE001 - the old route reported every failure so
        return r.reply(r.failed(f"获取状态失败: {failure_text(error)}", 500))
    if status is None:
        return r.reply(r.failed("未找到执行线程", 404))
    return r.reply(r.success({**status, "timestamp": r.now_iso()}, "获取状态成功"))


@bp.get("/api/v0/react/status/<thread_id>")
@responds(docs.ReactStatusData, other=_STATUS_FAILURES)
async def react_status(thread_id: str):
    """What a thread is doing now, judged by its newest checkpoint."""
    return await _status(thread_id)


@bp.get("/api/v0/react/direct/status/<thread_id>")
@responds(docs.ReactStatusData, other=_STATUS_FAILURES)
async def react_direct_status(thread_id: str):
    """Same as ``/api/v0/react/status`` (the old route read Redis directly)."""
    return await _status(thread_id)


# ---- checkpoints ---------------------------------------------------------------------------


def _cleanup_args(body: dict[str, Any]) -> tuple[int, str | None, str | None, bool]:
    """``(keep_count, thread_id, user_id, dry_run)``; raises ValueError with the 400 text."""
    keep = body.get("keep_count", services().settings.checkpoint_keep_count)
    if isinstance(keep, bool) or not isinstance(keep, int):
        raise ValueError("keep_count必须是整数")
    if keep <= 0:
        raise ValueError("keep_count必须大于0")
    thread_id = body.get("thread_id") or None
    user_id = body.get("user_id") or None
    if thread_id is not None and (not isinstance(thread_id, str) or ":" not in thread_id):
        raise ValueError("thread_id格式错误，期望格式: user_id:timestamp")
    if user_id is not None and not isinstance(user_id, str):
        raise ValueError("user_id必须是字符串")
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ValueError("dry_run必须是布尔值")
    return keep, thread_id, user_id, dry_run


@bp.post("/api/v0/checkpoint/direct/cleanup")
@responds(docs.CheckpointCleanupData)
@require_admin
@document_request(schemas.CheckpointCleanupIn)
async def checkpoint_cleanup():
    """Keep the newest ``keep_count`` checkpoints per thread (all, one user's or one thread);
    their blobs and writes go with them. ``dry_run: true`` only counts."""
    try:
        body = await json_object(as_empty="nothing", not_json="请求体不是有效的JSON")
        keep, thread_id, user_id, dry_run = _cleanup_args(body)
    except (BodyNotJson, BodyNotObject, ValueError) as error:
        return r.reply(r.bad_request_response(str(error)))
    try:
        result = await services().react.views.cleanup(
            keep, thread_id=thread_id, user_id=user_id, dry_run=dry_run
        )
    except OperationalError:
        return r.reply(r.internal_error_response("数据库连接失败，请检查PostgreSQL服务状态"))
    except Exception as error:  # noqa: BLE001
        return r.reply(r.internal_error_response(f"Checkpoint清理失败: {failure_text(error)}"))
    if not result["total_processed"]:
        return r.reply(r.success_response("未找到需要清理的checkpoint", result))
    verb = "将删除" if dry_run else "删除了"
    text = f"Checkpoint清理{'预览' if dry_run else '完成'}，{verb}{result['total_deleted']}个checkpoint"
    return r.reply(r.success_response(text, result))


@bp.get("/api/v0/checkpoint/direct/stats")
@responds(docs.CheckpointStatsData, errors=(404,))
@document_querystring(schemas.CheckpointStatsQuery)
async def checkpoint_stats():
    """Checkpoint counts per thread, for one user or for everyone."""
    user_id = request.args.get("user_id") or None
    try:
        data = await services().react.views.stats(user_id)
    except OperationalError:
        return r.reply(r.internal_error_response("数据库连接失败，请检查PostgreSQL服务状态"))
    except Exception as error:  # noqa: BLE001
        return r.reply(r.internal_error_response(f"获取checkpoint统计失败: {failure_text(error)}"))
    if user_id is not None:
        if not data["thread_count"]:
            return r.reply(r.not_found_response(f"用户 {user_id} 没有任何checkpoint"))
        return r.reply(r.success_response(f"获取用户{user_id}统计成功", data))
    if not data["total_checkpoints"]:
        return r.reply(r.success_response("系统中暂无checkpoint数据", data))
    return r.reply(r.success_response("获取系统checkpoint统计成功", data))
