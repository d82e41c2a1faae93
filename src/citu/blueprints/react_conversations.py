"""ReAct conversation reads: a user's threads, one thread's history, detail, compare, summary.

Kept apart from the ask and checkpoint routes in ``react.py``; the views come from the agent's
memory (``services().react.views``) and failures are worded by ``react.failure_text``.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request
from quart_schema import document_querystring

from citu import responses as r
from citu.agents.react import schemas
from citu.apidoc import react as docs
from citu.apidoc import responds
from citu.blueprints.react import failure_text
from citu.services import services

bp = Blueprint("react_conversations", __name__)


def _limit() -> int:
    try:
        value = int(request.args.get("limit", 10))
    except ValueError:
        value = 10
    return min(max(value, 1), 50)


def _include_tools() -> bool:
    return request.args.get("include_tools", "false").lower() == "true"


@bp.get("/api/v0/react/users/<user_id>/conversations")
@responds(docs.ReactUserConversationsData)
@document_querystring(schemas.ConversationListQuery)
async def user_conversations(user_id: str):
    """A user's newest ReAct conversations (threads that hold messages)."""
    limit = _limit()
    try:
        items = await services().react.views.user_conversations(user_id, limit)
    except Exception as error:  # noqa: BLE001 - the old route answered 500 with the reason
        return r.reply(r.internal_error_response(f"获取用户对话列表失败: {failure_text(error)}"))
    data = {"user_id": user_id, "limit": limit, "total_count": len(items), "conversations": items}
    return r.reply(r.success_response("获取用户对话列表成功", data))


@bp.get("/api/v0/react/conversations/<thread_id>")
@responds(docs.ReactHistoryData)
@document_querystring(schemas.HistoryQuery)
async def conversation_history(thread_id: str):
    """The messages of one conversation, from its newest checkpoint."""
    try:
        data = await services().react.views.history(thread_id, _include_tools())
    except Exception as error:  # noqa: BLE001
        return r.reply(r.internal_error_response(f"获取对话详情失败: {failure_text(error)}"))
    if data is None:
        return r.reply(r.not_found_response(f"未找到对话 {thread_id}"))
    return r.reply(r.success_response("获取对话详情成功", data))


@bp.get("/api/v0/react/direct/users/<user_id>/conversations")
@responds(docs.DirectUserConversationsData)
@document_querystring(schemas.ConversationListQuery)
async def direct_user_conversations(user_id: str):
    """A user's newest conversations, lighter items (title, counts, times)."""
    limit = _limit()
    try:
        items = await services().react.views.direct_user_conversations(user_id, limit)
    except Exception as error:  # noqa: BLE001
        return r.reply(r.internal_error_response(f"获取用户对话列表失败: {failure_text(error)}"))
    data = {"user_id": user_id, "conversations": items, "total_count": len(items), "limit": limit}
    return r.reply(r.success_response("获取用户对话列表成功", data))


def _bad_thread_format() -> Response:
    body = {
        "success": False,
        "error": "Invalid thread_id format. Expected format: user_id:timestamp",
        "timestamp": r.now_iso(),
    }
    return r.reply(body, 400)


def _conversation_not_found(thread_id: str) -> Response:
    # The old service sent this 404 with an internal-error body, whose can_retry clients read.
    body = r.not_found_response(f"未找到对话 {thread_id}")
    body["data"]["can_retry"] = True
    return r.reply(body)


def _api_metadata(endpoint: str, **extra: Any) -> dict[str, Any]:
    return {"timestamp": r.now_iso(), "api_version": "v1", "endpoint": endpoint, **extra}


@bp.get("/api/v0/react/direct/conversations/<thread_id>")
@responds(docs.ReactDetailData, other={400: docs.DetailBadRequest})
@document_querystring(schemas.DetailQuery)
async def conversation_detail(thread_id: str):
    """One conversation: every message (``include_tools=true``) or questions and answers."""
    if ":" not in thread_id:
        return _bad_thread_format()
    include_tools = _include_tools()
    owner = request.args.get("user_id") or None
    if owner is not None and thread_id.split(":", 1)[0] != owner:
        return r.reply(
            r.bad_request_response(f"Thread ID {thread_id} does not belong to user {owner}")
        )
    try:
        data = await services().react.views.detail(thread_id, include_tools)
    except Exception as error:  # noqa: BLE001
        return r.reply(r.internal_error_response(f"获取对话详情失败: {failure_text(error)}"))
    if data is None:
        return _conversation_not_found(thread_id)
    data["api_metadata"] = _api_metadata(
        "get_conversation_detail",
        query_params={"include_tools": include_tools, "user_id": owner},
    )
    mode = "完整模式" if include_tools else "简化模式"
    return r.reply(r.success_response(f"获取对话详情成功 ({mode})", data))


@bp.get("/api/v0/react/direct/conversations/<thread_id>/compare")
@responds(
    docs.CompareOut, raw=True, other={404: docs.PlainShapeFailure, 500: docs.PlainShapeFailure}
)
async def conversation_compare(thread_id: str):
    """Full mode against simple mode of one conversation, with the first messages of each."""
    try:
        views = services().react.views
        full = await views.detail(thread_id, True)
        simple = await views.detail(thread_id, False)
    except Exception as error:  # noqa: BLE001
        body = {"success": False, "error": failure_text(error), "timestamp": r.now_iso()}
        return r.reply(body, 500)
    if full is None or simple is None:
        body = {"success": False, "error": "无法获取对话数据进行比较", "timestamp": r.now_iso()}
        return r.reply(body, 404)
    difference = full["message_count"] - simple["message_count"]
    data = {
        "thread_id": thread_id,
        "full_mode": _mode_sample(full),
        "simple_mode": _mode_sample(simple),
        "comparison_summary": {
            "message_count_difference": difference,
            "tools_filtered_out": full["stats"]["tool_messages"],
            "ai_messages_with_tools": full["stats"]["messages_with_tools"],
            "filtering_effectiveness": "有效" if difference > 0 else "无差异",
        },
        "metadata": {
            "timestamp": r.now_iso(),
            "note": "sample_messages 只显示前3条消息作为示例，完整消息请使用相应的详情API",
        },
    }
    return r.reply({"success": True, "data": data, "timestamp": r.now_iso()}, 200)


def _mode_sample(detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "message_count": detail["message_count"],
        "stats": detail["stats"],
        "sample_messages": detail["messages"][:3],
    }


def _preview(text: str | None) -> str | None:
    if text is None:
        return None
    return text[:100] + "..." if len(text) > 100 else text


@bp.get("/api/v0/react/direct/conversations/<thread_id>/summary")
@responds(docs.ReactSummaryData)
@document_querystring(schemas.HistoryQuery)
async def conversation_summary(thread_id: str):
    """Counts and first/last message previews of one conversation."""
    if ":" not in thread_id:
        return r.reply(
            r.bad_request_response("Invalid thread_id format. Expected format: user_id:timestamp")
        )
    include_tools = _include_tools()
    try:
        detail = await services().react.views.detail(thread_id, include_tools)
    except Exception as error:  # noqa: BLE001
        return r.reply(r.internal_error_response(f"获取对话摘要失败: {failure_text(error)}"))
    if detail is None:
        return _conversation_not_found(thread_id)
    messages = detail["messages"]
    first = next((m["content"] for m in messages if m["role"] == "human"), None)
    last = next(
        (m["content"] for m in reversed(messages) if m["role"] == "ai" and m["content"].strip()),
        None,
    )
    data = {
        "thread_id": thread_id,
        "user_id": detail["user_id"],
        "include_tools": include_tools,
        "message_count": detail["message_count"],
        "stats": detail["stats"],
        "metadata": detail["metadata"],
        "first_message_preview": _preview(first),
        "last_message_preview": _preview(last),
        "conversation_preview": _preview(first),
        "api_metadata": _api_metadata("get_conversation_summary"),
    }
    return r.reply(r.success_response("获取对话摘要成功", data))
