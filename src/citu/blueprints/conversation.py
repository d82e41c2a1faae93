"""Conversations, messages, limits and the Redis caches (spec: conversation.md).

Every route reads or changes Redis DB 1 through ``ConversationStore`` and the cache classes.
With Redis unreachable they answer 503 (the old service answered 200 with empty data).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from pydantic import BeforeValidator
from quart import Blueprint, Response, request
from quart_schema import document_request, validate_querystring
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException

from citu import inputs
from citu import responses as r
from citu.apidoc import RequestModel, responds
from citu.apidoc import conversation as docs
from citu.errors import ApiError, BadRequest
from citu.security import require_admin
from citu.services import services
from citu.stores import cache_views
from citu.stores.caches import EmbeddingCacheAdmin
from citu.stores.conversations import conversation_title

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


class TimeConditionBody(RequestModel):
    """The first non-zero of the three fields is used."""

    older_than_hours: float | None = None
    """Entries cached more than this many hours ago."""
    older_than_days: float | None = None
    """Entries cached more than this many days ago."""
    before_timestamp: str | None = None
    """Entries cached before this ISO 8601 time."""


@bp.errorhandler(RedisConnectionError)
@bp.errorhandler(RedisTimeoutError)
async def redis_unavailable(error: Exception) -> Response:
    log.warning("Redis unavailable: %s", error)
    return r.reply(r.service_unavailable_response(REDIS_DOWN_TEXT), 503)


def on_failure(text: str) -> Callable:
    """Answer an unexpected error with the route's own 500 text (Redis outages stay 503)."""

    def decorate(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(handler)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await handler(*args, **kwargs)
            except (ApiError, HTTPException, RedisConnectionError, RedisTimeoutError):
                raise
            except Exception:
                log.exception("%s failed", handler.__name__)
                return r.reply(r.internal_error_response(text))

        return wrapper

    return decorate


async def json_object(force: bool = False) -> dict[str, Any]:
    """The JSON object body; ``null``/``[]``/empty count as ``{}``, anything else is a 400."""
    if not (force or request.is_json):
        raise BadRequest(BODY_FORMAT_TEXT)
    try:
        text = await request.get_data(as_text=True)
    except UnicodeDecodeError:
        raise BadRequest(BODY_FORMAT_TEXT) from None
    if not text.strip():
        if force:
            return {}
        raise BadRequest(BODY_FORMAT_TEXT)
    try:
        body = await inputs.aloads(text)
    except ValueError:
        raise BadRequest(BODY_FORMAT_TEXT) from None
    if not body:
        return {}
    if not isinstance(body, dict):
        raise BadRequest(BODY_FORMAT_TEXT)
    return body


# --- conversations ------------------------------------------------------------------------------


@bp.get("/api/v0/user/<user_id>/conversations")
@responds(docs.UserConversationsData, errors=(503,))
@validate_querystring(LimitQuery)
@on_failure("获取对话列表失败，请稍后重试")
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
@on_failure("获取用户对话数据失败，请稍后重试")
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
@on_failure("获取对话消息失败")
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
@on_failure("获取对话上下文失败")
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
@on_failure("获取统计信息失败，请稍后重试")
async def conversation_stats():
    """Counts of users, conversations and cached answers, and Redis memory and clients."""
    return r.reply(r.success_response("获取统计信息成功", await services().conversations.stats()))


@bp.post("/api/v0/conversation_cleanup")
@responds(docs.CleanupConversationsData, errors=(503,))
@require_admin
@document_request(CleanupBody)
@on_failure("对话清理失败，请稍后重试")
async def cleanup_conversations():
    """Delete a user's or one conversation's data, everything, or dangling list entries."""
    body = await json_object()
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
    """The mode parameters given, in the spec's order; wrong types are a 400."""
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
@on_failure("对话限额执行失败，请稍后重试")
async def enforce_conversation_limits():
    """Trim users to ``user_max_conversations`` and conversations to ``conversation_max_length``."""
    body = await json_object()
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
        dry_run = True  # only an explicit false deletes (spec §6 defect 8)
    elif not isinstance(dry_run, bool):
        raise BadRequest("dry_run 必须是布尔值", invalid_params=["dry_run"])
    result = await services().conversations.enforce_limits(
        user_id=user_id or None,
        max_conversations=limits["user_max_conversations"],
        max_length=limits["conversation_max_length"],
        dry_run=dry_run,
    )
    return r.reply(r.success_response("限额执行完成", result))


# --- embedding cache ----------------------------------------------------------------------------


def embedding_cache() -> EmbeddingCacheAdmin:
    svc = services()
    return EmbeddingCacheAdmin(svc.require_redis(), svc.settings)


@bp.get("/api/v0/embedding_cache_stats")
@responds(docs.EmbeddingCacheStatsData, errors=(503,))
@on_failure("获取embedding缓存统计失败，请稍后重试")
async def embedding_cache_stats():
    """Number and estimated size of the cached question embeddings."""
    return r.reply(r.success_response("获取embedding缓存统计成功", await embedding_cache().stats()))


@bp.post("/api/v0/embedding_cache_cleanup")
@responds(docs.CacheClearedData, errors=(503,))
@require_admin
@on_failure("清空embedding缓存失败，请稍后重试")
async def embedding_cache_cleanup():
    """Delete every cached question embedding."""
    cache = embedding_cache()
    if not cache.enabled:
        # HTTP 400 with an internal-error body, as the old service answered.
        return r.reply(r.internal_error_response("Embedding缓存功能未启用或不可用"), 400)
    await cache.clear()
    return r.reply(r.success_response("所有embedding缓存已清空", {"cleared": True}))


# --- question-answer cache ----------------------------------------------------------------------


@bp.get("/api/v0/qa_cache_stats")
@responds(docs.QaCacheStatsData, errors=(503,))
@on_failure("获取问答缓存统计失败，请稍后重试")
async def qa_cache_stats():
    """Whether the answer cache is on, its size and TTL."""
    return r.reply(
        r.success_response("获取问答缓存统计成功", await services().conversations.qa_cache.stats())
    )


@bp.get("/api/v0/qa_cache_list")
@responds(docs.QaCacheListData, errors=(503,))
@validate_querystring(LimitQuery)
@on_failure("获取问答缓存列表失败，请稍后重试")
async def qa_cache_list(query_args: LimitQuery):
    """The newest cached answers (``limit`` 1..500, default 50); empty while the cache is off."""
    limit = query_args.limit
    limit = 50 if limit is None or limit <= 0 else min(limit, 500)
    items = await services().conversations.qa_cache.listing(limit)
    data = {
        "cache_list": items,
        "total_returned": len(items),
        "limit_applied": limit,
        "note": "按缓存时间倒序排列，最新的在前面",
    }
    return r.reply(r.success_response("获取问答缓存列表成功", data))


@bp.post("/api/v0/qa_cache_cleanup")
@responds(docs.QaCacheCleanupData, errors=(503,))
@require_admin
@on_failure("清空问答缓存失败，请稍后重试")
async def qa_cache_cleanup():
    """Delete every cached answer (also while the cache is off)."""
    deleted = await services().conversations.qa_cache.clear()
    data = {"deleted_count": deleted, "cleared": deleted > 0, "cleanup_time": r.now_iso()}
    return r.reply(r.success_response("问答缓存清理完成", data))


# --- the old in-process cache routes, now over the answer cache ----------------------------------


async def qa_entries() -> tuple[list, int]:
    conversations = services().conversations
    return await conversations.qa_cache.entries(), conversations.settings.question_answer_ttl


@bp.get("/api/v0/cache_overview")
@responds(docs.CacheOverviewData, errors=(503,))
@on_failure("获取缓存概览失败，请稍后重试")
async def cache_overview():
    """The answer cache's size and its 10 newest entries."""
    entries, ttl = await qa_entries()
    return r.reply(r.success_response("缓存概览查询完成", cache_views.overview(entries, ttl)))


@bp.get("/api/v0/cache_overview_full")
@responds(docs.CacheOverviewFullData, errors=(503,))
@on_failure("获取缓存概览失败，请稍后重试")
async def cache_overview_full():
    """Answer cache, embedding cache and conversation statistics in one answer."""
    conversations = services().conversations
    keys = await conversations.qa_cache.keys()
    data = {
        "conversation_aware_cache": {
            "enabled": conversations.qa_cache.enabled,
            "total_items": len(keys),
            "sessions": sorted(keys),
            "cache_type": cache_views.CACHE_TYPE,
        },
        "question_answer_cache": await conversations.qa_cache.stats(),
        "embedding_cache": await embedding_cache().stats(),
        "redis_conversation_stats": await conversations.stats(),
    }
    return r.reply(r.success_response("获取综合缓存概览成功", data))


@bp.get("/api/v0/cache_stats")
@responds(docs.CacheStatsData, errors=(503,))
@on_failure("获取缓存统计失败，请稍后重试")
async def cache_stats():
    """Age distribution and time range of the cached answers."""
    entries, ttl = await qa_entries()
    return r.reply(r.success_response("缓存统计信息查询完成", cache_views.statistics(entries, ttl)))


@bp.get("/api/v0/cache_export")
@responds(docs.CacheExportData, errors=(503,))
@on_failure("导出缓存失败，请稍后重试")
async def cache_export():
    """Every cached answer with its fields described (includes cached query results)."""
    entries, ttl = await qa_entries()
    return r.reply(r.success_response("缓存数据导出完成", cache_views.export(entries, ttl)))


@bp.post("/api/v0/cache_preview_cleanup")
@responds(docs.CachePreviewCleanupData, errors=(422, 503))
@document_request(TimeConditionBody)
@on_failure("预览清理操作失败，请稍后重试")
async def cache_preview_cleanup():
    """Which cached answers a ``cache_cleanup`` with this time condition would delete."""
    condition, cutoff = cache_views.parse_time_condition(await json_object(force=True))
    entries, ttl = await qa_entries()
    older, kept = cache_views.split_by_cutoff(entries, cutoff, ttl)
    data = cache_views.preview(condition, cutoff, older, kept, ttl)
    text = f"清理预览完成，将删除 0 个会话和 {len(older)} 个对话"
    return r.reply(r.success_response(text, data))


@bp.post("/api/v0/cache_cleanup")
@responds(docs.CacheCleanupData, errors=(422, 503))
@require_admin
@document_request(TimeConditionBody)
@on_failure("缓存清理失败，请稍后重试")
async def cache_cleanup():
    """Delete the cached answers older than the time condition."""
    condition, cutoff = cache_views.parse_time_condition(await json_object(force=True))
    conversations = services().conversations
    ttl = conversations.settings.question_answer_ttl
    data = await cache_views.cleanup(conversations.qa_cache, condition, cutoff, ttl)
    text = f"缓存清理完成，删除了 0 个会话和 {data['conversations_removed']} 个对话"
    return r.reply(r.success_response(text, data))
