"""The Redis caches: question embeddings, cached answers, and the old in-process cache routes
(``cache_overview``, ``cache_stats``, ``cache_export``, ``cache_cleanup``…) now answered over the
answer cache.

With Redis unreachable every route answers the conversation routes' 503.
"""

from __future__ import annotations

from quart import Blueprint
from quart_schema import document_request, validate_querystring

from citu import responses as r
from citu.apidoc import RequestModel, responds
from citu.apidoc import cache as docs
from citu.blueprints.conversation import LimitQuery, answer_redis_outages, json_body
from citu.security import require_admin
from citu.services import services
from citu.stores import cache_views
from citu.stores.caches import EmbeddingCacheAdmin
from citu.web.failures import fails_with

bp = Blueprint("cache", __name__)

answer_redis_outages(bp)


class TimeConditionBody(RequestModel):
    """The first non-zero of the three fields is used."""

    older_than_hours: float | None = None
    """Entries cached more than this many hours ago."""
    older_than_days: float | None = None
    """Entries cached more than this many days ago."""
    before_timestamp: str | None = None
    """Entries cached before this ISO 8601 time."""


# --- embedding cache ----------------------------------------------------------------------------


def embedding_cache() -> EmbeddingCacheAdmin:
    svc = services()
    return EmbeddingCacheAdmin(svc.require_redis(), svc.settings)


@bp.get("/api/v0/embedding_cache_stats")
@responds(docs.EmbeddingCacheStatsData, errors=(503,))
@fails_with("获取embedding缓存统计失败，请稍后重试")
async def embedding_cache_stats():
    """Number and estimated size of the cached question embeddings."""
    return r.reply(r.success_response("获取embedding缓存统计成功", await embedding_cache().stats()))


@bp.post("/api/v0/embedding_cache_cleanup")
@responds(docs.CacheClearedData, errors=(503,))
@require_admin
@fails_with("清空embedding缓存失败，请稍后重试")
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
@fails_with("获取问答缓存统计失败，请稍后重试")
async def qa_cache_stats():
    """Whether the answer cache is on, its size and TTL."""
    return r.reply(
        r.success_response("获取问答缓存统计成功", await services().conversations.qa_cache.stats())
    )


@bp.get("/api/v0/qa_cache_list")
@responds(docs.QaCacheListData, errors=(503,))
@validate_querystring(LimitQuery)
@fails_with("获取问答缓存列表失败，请稍后重试")
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
@fails_with("清空问答缓存失败，请稍后重试")
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
@fails_with("获取缓存概览失败，请稍后重试")
async def cache_overview():
    """The answer cache's size and its 10 newest entries."""
    entries, ttl = await qa_entries()
    return r.reply(r.success_response("缓存概览查询完成", cache_views.overview(entries, ttl)))


@bp.get("/api/v0/cache_overview_full")
@responds(docs.CacheOverviewFullData, errors=(503,))
@fails_with("获取缓存概览失败，请稍后重试")
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
@fails_with("获取缓存统计失败，请稍后重试")
async def cache_stats():
    """Age distribution and time range of the cached answers."""
    entries, ttl = await qa_entries()
    return r.reply(r.success_response("缓存统计信息查询完成", cache_views.statistics(entries, ttl)))


@bp.get("/api/v0/cache_export")
@responds(docs.CacheExportData, errors=(503,))
@fails_with("导出缓存失败，请稍后重试")
async def cache_export():
    """Every cached answer with its fields described (includes cached query results)."""
    entries, ttl = await qa_entries()
    return r.reply(r.success_response("缓存数据导出完成", cache_views.export(entries, ttl)))


@bp.post("/api/v0/cache_preview_cleanup")
@responds(docs.CachePreviewCleanupData, errors=(422, 503))
@document_request(TimeConditionBody)
@fails_with("预览清理操作失败，请稍后重试")
async def cache_preview_cleanup():
    """Which cached answers a ``cache_cleanup`` with this time condition would delete."""
    condition, cutoff = cache_views.parse_time_condition(await json_body(force=True))
    entries, ttl = await qa_entries()
    older, kept = cache_views.split_by_cutoff(entries, cutoff, ttl)
    data = cache_views.preview(condition, cutoff, older, kept, ttl)
    text = f"清理预览完成，将删除 0 个会话和 {len(older)} 个对话"
    return r.reply(r.success_response(text, data))


@bp.post("/api/v0/cache_cleanup")
@responds(docs.CacheCleanupData, errors=(422, 503))
@require_admin
@document_request(TimeConditionBody)
@fails_with("缓存清理失败，请稍后重试")
async def cache_cleanup():
    """Delete the cached answers older than the time condition."""
    condition, cutoff = cache_views.parse_time_condition(await json_body(force=True))
    conversations = services().conversations
    ttl = conversations.settings.question_answer_ttl
    data = await cache_views.cleanup(conversations.qa_cache, condition, cutoff, ttl)
    text = f"缓存清理完成，删除了 0 个会话和 {data['conversations_removed']} 个对话"
    return r.reply(r.success_response(text, data))
