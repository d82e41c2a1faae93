"""Conversations, their messages, context and limits (``/api/v0/user/…``,
``/api/v0/conversation…``).

Every route reads or changes Redis DB 1 through ``ConversationStore``. With Redis unreachable
they answer 503 (the old service answered 200 with empty data).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from pydantic import BeforeValidator
from quart import Blueprint, Response
from quart_schema import document_request, validate_querystring

from citu import inputs
from citu import responses as r
from citu.apidoc import RequestModel, responds
from citu.apidoc import conversation as docs
from citu.errors import REDIS_DOWN, BadRequest
from citu.security import require_admin
from citu.services import services
from citu.stores.conversations import conversation_title
from citu.web.bodies import json_object
from citu.web.failures import fails_with

log = logging.getLogger("citu.conversation")
bp = Blueprint("conversation", __name__)

REDIS_DOWN_TEXT = "Redis服务不可用，对话与缓存数据暂时无法访问，请稍后重试"
BODY_FORMAT_TEXT = "请求格式错误：需要JSON格式的数据"
CLEANUP_MODES = [
    "user_id",
    "conversation_id",
    "thread_id",
    "clear_all_agent_data",
    "cleanup_invalid_refs",
]
VALID_MODES = [
    "user_id (删除指定用户)",
    "conversation_id 或 thread_id (删除指定对话，两参数等同)",
    "clear_all_agent_data (清空所有数据)",
    "cleanup_invalid_refs (清理无效引用)",
]


# Werkzeug's ``type=int`` leniency, but a number out of range is a 400 (never a Redis error).
LenientInt = Annotated[int | None, BeforeValidator(inputs.lenient_query_int)]


class LimitQuery(RequestModel):
    limit: LenientInt = None
    """How many to return (newest first); absent or not a number: the route's default."""


class FullConversationsQuery(RequestModel):
    conversation_limit: LenientInt = None
    """How many conversations, newest first; absent: CITU_USER_MAX_CONVERSATIONS."""
    message_limit: LenientInt = None
    """How many of each conversation's newest messages; absent: all kept."""


class ContextQuery(RequestModel):
    count: LenientInt = None
    """How many recent exchanges; absent: CITU_CONVERSATION_CONTEXT_COUNT."""


class CleanupBody(RequestModel):
    """Exactly one mode: ``user_id`` | ``conversation_id``/``thread_id`` | a flag set to true."""

    user_id: str | None = None
    """Delete all of this user's conversations."""
    conversation_id: str | None = None
    """Delete this one conversation."""
    thread_id: str | None = None
    """Same as conversation_id (the ReAct name)."""
    clear_all_agent_data: bool = False
    """Delete every conversation of every user."""
    cleanup_invalid_refs: bool = False
    """Only drop list entries that point at conversations already gone."""


class LimitEnforcementBody(RequestModel):
    """``dry_run`` absent, null or empty counts only; ``false`` is needed to delete."""

    user_id: str | None = None
    """Only this user; absent: every user."""
    user_max_conversations: int | None = None
    """Conversations kept per user; absent: CITU_USER_MAX_CONVERSATIONS."""
    conversation_max_length: int | None = None
    """Messages kept per conversation; absent: CITU_CONVERSATION_MAX_LENGTH."""
    dry_run: bool | None = None
    """Only count what would go; must be false to delete."""


async def redis_unavailable(error: Exception) -> Response:
    """Redis is down: this family's own 503 text (the cache routes share it)."""
    log.warning("Redis unavailable: %s", error)
    return r.reply(r.service_unavailable_response(REDIS_DOWN_TEXT), 503)


def answer_redis_outages(blueprint: Blueprint) -> None:
    """Redis down on ``blueprint``'s routes: ``redis_unavailable``, not the app's generic 503."""
    for kind in REDIS_DOWN:
        blueprint.register_error_handler(kind, redis_unavailable)


answer_redis_outages(bp)


async def json_body(*, force: bool = False) -> dict[str, Any]:
    """The JSON object body; ``null``/``[]``/empty JSON values count as ``{}``. ``force`` reads
    any Content-Type and an empty body as ``{}`` (the old ``get_json(force=True)`` routes)."""
    return await json_object(
        other_types="parse" if force else "refuse",
        empty_body=force,
        as_empty="falsy",
        not_json=BODY_FORMAT_TEXT,
        not_object=BODY_FORMAT_TEXT,
    )


# --- conversations ------------------------------------------------------------------------------


@bp.get("/api/v0/user/<user_id>/conversations")
@responds(docs.UserConversationsData, errors=(503,))
@validate_querystring(LimitQuery)
@fails_with("获取对话列表失败，请稍后重试")
async def list_user_conversations(user_id: str, query_args: LimitQuery):
    """A user's conversations, newest first, each titled by its first retained question."""
    conversations = []
    for item in await services().conversations.get_conversations(user_id, query_args.limit):
        meta = item["meta"]
        conversations.append({**meta, "conversation_title": conversation_title(item["messages"])})
    data = {"user_id": user_id, "conversations": conversations, "total_count": len(conversations)}
    return r.reply(r.success_response("获取用户对话列表成功", data))


@bp.get("/api/v0/user/<user_id>/conversations/full")
@responds(docs.UserConversationsFullData, errors=(503,))
@validate_querystring(FullConversationsQuery)
@fails_with("获取用户对话数据失败，请稍后重试")
async def list_user_conversations_full(user_id: str, query_args: FullConversationsQuery):
    """A user's conversations with their messages (newest ``message_limit`` of each)."""
    items = await services().conversations.get_conversations(
        user_id, query_args.conversation_limit, query_args.message_limit
    )
    conversations = [
        {
            **item["meta"],
            "message_count": len(item["messages"]),
            "meta": item["meta"],
            "messages": item["messages"],
        }
        for item in items
    ]
    data = {
        "user_id": user_id,
        "conversations": conversations,
        "total_conversations": len(conversations),
        "total_messages": sum(len(item["messages"]) for item in items),
        "conversation_limit_applied": query_args.conversation_limit,
        "message_limit_applied": query_args.message_limit,
        "query_time": r.now_iso(),
    }
    return r.reply(r.success_response("获取用户完整对话数据成功", data))


@bp.get("/api/v0/conversation/<conversation_id>/messages")
@responds(docs.ConversationMessagesData, errors=(503,))
@validate_querystring(LimitQuery)
@fails_with("获取对话消息失败")
async def get_conversation_messages(conversation_id: str, query_args: LimitQuery):
    """A conversation's meta and messages (chronological; ``limit`` keeps the newest)."""
    meta, messages = await services().conversations.read_conversation(
        conversation_id, query_args.limit
    )
    data = {
        "conversation_id": conversation_id,
        "conversation_meta": meta,
        "messages": messages,
        "message_count": len(messages),
    }
    return r.reply(r.success_response("获取对话消息成功", data))


@bp.get("/api/v0/conversation/<conversation_id>/context")
@responds(docs.ConversationContextData, errors=(503,))
@validate_querystring(ContextQuery)
@fails_with("获取对话上下文失败")
async def get_conversation_context(conversation_id: str, query_args: ContextQuery):
    """The context the agent would see: the last ``count`` exchanges as ``User:``/``Assistant:``."""
    conversations = services().conversations
    count = query_args.count
    if count is None:
        count = conversations.settings.conversation_context_count
    context = await conversations.get_context_for_display(conversation_id, count)
    data = {"conversation_id": conversation_id, "context": context, "context_message_count": count}
    return r.reply(r.success_response("获取对话上下文成功", data))


@bp.get("/api/v0/conversation_stats")
@responds(docs.ConversationStatsData, errors=(503,))
@fails_with("获取统计信息失败，请稍后重试")
async def conversation_stats():
    """Counts of users, conversations and cached answers, and Redis memory and clients."""
    return r.reply(r.success_response("获取统计信息成功", await services().conversations.stats()))


@bp.post("/api/v0/conversation_cleanup")
@responds(docs.CleanupConversationsData, errors=(503,))
@require_admin
@document_request(CleanupBody)
@fails_with("对话清理失败，请稍后重试")
async def cleanup_conversations():
    """Delete a user's or one conversation's data, everything, or dangling list entries."""
    body = await json_body()
    provided = _cleanup_modes(body)
    if "conversation_id" in provided and "thread_id" in provided:
        raise BadRequest("参数冲突：conversation_id 和 thread_id 不能同时提供")
    if len(provided) > 1:
        text = f"参数冲突：不能同时提供多个操作模式参数，检测到: {', '.join(provided)}"
        data = {"conflicting_params": provided, "valid_modes": list(VALID_MODES)}
        return _bad_request_with(text, data)
    if not provided:
        hint = "请提供以下参数组合之一: user_id | conversation_id/thread_id | clear_all_agent_data | cleanup_invalid_refs"
        return _bad_request_with("参数错误：必须指定操作模式", {"error": hint})
    conversations = services().conversations
    mode = provided[0]
    if mode == "user_id":
        result = await conversations.delete_user_conversations(body["user_id"])
        text, result["operation_mode"] = "用户对话数据删除完成", "delete_user"
    elif mode in ("conversation_id", "thread_id"):
        result = await conversations.delete_conversation(body[mode])
        text, result["operation_mode"] = "对话删除完成", "delete_conversation"
    elif mode == "clear_all_agent_data":
        result = await conversations.clear_all_agent_data()
        text, result["operation_mode"] = "所有agent对话数据清空完成", "clear_all_agent_data"
    else:
        result = await conversations.cleanup_invalid_refs()
        text, result["operation_mode"] = "无效引用清理完成", "cleanup_invalid_refs"
    return r.reply(r.success_response(text, result))


def _cleanup_modes(body: dict[str, Any]) -> list[str]:
    """The mode parameters given, in ``CLEANUP_MODES`` order; wrong types are a 400."""
    provided = []
    for name in CLEANUP_MODES:
        value = body.get(name)
        if value is None or value is False or value == "":
            continue
        if name in ("clear_all_agent_data", "cleanup_invalid_refs"):
            if value is not True:
                raise BadRequest(f"{name} 必须是布尔值", invalid_params=[name])
        elif not isinstance(value, str):
            raise BadRequest(f"{name} 必须是字符串", invalid_params=[name])
        provided.append(name)
    return provided


def _bad_request_with(text: str, data: dict[str, Any]) -> Response:
    body = r.error_response(
        text, r.ErrorType.MISSING_REQUIRED_PARAMS, r.Msg.BAD_REQUEST, code=400, data=data
    )
    return r.reply(body)


@bp.post("/api/v0/conversation_limit_enforcement")
@responds(docs.EnforceLimitsData, errors=(503,))
@require_admin
@document_request(LimitEnforcementBody)
@fails_with("对话限额执行失败，请稍后重试")
async def enforce_conversation_limits():
    """Trim users to ``user_max_conversations`` and conversations to ``conversation_max_length``."""
    body = await json_body()
    user_id = body.get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        raise BadRequest("user_id 必须是字符串", invalid_params=["user_id"])
    limits = {}
    for name in ("user_max_conversations", "conversation_max_length"):
        value = body.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise BadRequest(f"{name} 必须是大于0的整数", invalid_params=[name])
        limits[name] = value
    dry_run = body.get("dry_run")
    if dry_run is None or dry_run == "":
        dry_run = True  # only an explicit false deletes: the old `{}` or null deleted at once
    elif not isinstance(dry_run, bool):
        raise BadRequest("dry_run 必须是布尔值", invalid_params=["dry_run"])
    result = await services().conversations.enforce_limits(
        user_id=user_id or None,
        max_conversations=limits["user_max_conversations"],
        max_length=limits["conversation_max_length"],
        dry_run=dry_run,
    )
    return r.reply(r.success_response("限额执行完成", result))
