"""QA feedback routes (``/api/v0/qa_feedback/...``): record, review and promote answers.

Timestamps in records are naive local time written as
``YYYY-MM-DDTHH:MM:SS.ffffff`` (always with microseconds; see docs/compatibility.md).
"""

from __future__ import annotations

import logging
import math
import re
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import Field
from quart import Blueprint
from quart_schema import validate_request

from citu.apidoc import RequestModel, responds
from citu.apidoc import feedback as docs
from citu.errors import BadRequest, NotFound
from citu.responses import reply, success_response
from citu.security import require_admin
from citu.services import services
from citu.stores.feedback import (
    DEFAULT_SORT,
    SORT_COLUMNS,
    UPDATABLE_FIELDS,
    FeedbackFilter,
    FeedbackStore,
    InvalidTimestamp,
)
from citu.web.failures import fails_with

log = logging.getLogger("citu.feedback")

bp = Blueprint("feedback", __name__)

MAX_PAGE_SIZE = 100
MAX_OFFSET = 2**63 - 1  # OFFSET is a bigint
_INTEGER = re.compile(r"[+-]?[0-9]+")


class FeedbackQueryIn(RequestModel):
    page: int = 1
    """Page number, from 1."""
    page_size: int = 20
    """Records per page, 1..100."""
    is_thumb_up: bool | None = None
    """Only thumbs-up (true) or thumbs-down (false) records."""
    is_in_training_data: bool | None = None
    """Only records already promoted to training data (true) or not yet (false)."""
    create_time_start: str | None = Field(
        None, description="any text PostgreSQL reads as a timestamp"
    )
    create_time_end: str | None = Field(
        None, description="inclusive; a bare date means its midnight"
    )
    sort_by: str | None = Field(
        DEFAULT_SORT, description="id | create_time | update_time | user_id"
    )
    sort_order: str | None = Field("desc", description="asc | desc")


class FeedbackIn(RequestModel):
    documented_required = ("question", "sql", "is_thumb_up")

    question: str | None = None
    """The question that was asked."""
    sql: str | None = None
    """The SQL the agent answered with."""
    is_thumb_up: bool | None = None
    """true: the SQL was right; false: it was wrong."""
    user_id: str = Field("guest", max_length=64)
    """Who gave the feedback."""


class FeedbackIdsIn(RequestModel):
    documented_required = ("feedback_ids",)

    # Any: a missing, empty or non-list value gets the route's own 400 text, not a schema error.
    feedback_ids: Any = Field(
        None,
        description="non-empty list of feedback ids",
        json_schema_extra={"type": "array", "items": {"type": "integer"}, "minItems": 1},
    )


class FeedbackUpdateIn(RequestModel):
    question: str | None = None
    """New question text."""
    sql: str | None = None
    """New SQL."""
    is_thumb_up: bool | None = None
    """New verdict."""
    user_id: str | None = Field(None, max_length=64)
    """New owner."""
    is_in_training_data: bool | None = None
    """Mark as promoted to training data, or not."""


def format_timestamp(value: datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") if value is not None else None


def record_json(row: asyncpg.Record) -> dict[str, Any]:
    record = dict(row)
    record["create_time"] = format_timestamp(record["create_time"])
    record["update_time"] = format_timestamp(record["update_time"])
    return record


def parse_feedback_ids(raw: Any) -> list[int]:
    """Integers, or strings of digits (the old service's SQL accepted both)."""
    if not isinstance(raw, list) or not raw:
        raise BadRequest("缺少有效的反馈ID列表", missing_params=["feedback_ids"])
    ids = []
    for value in raw:
        if isinstance(value, int) and not isinstance(value, bool):
            ids.append(value)
        elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            ids.append(int(value))
        else:
            raise BadRequest(f"反馈ID必须是整数：{value!r}", invalid_params=["feedback_ids"])
    return ids


async def _timestamp(store: FeedbackStore, field: str, text: str | None) -> datetime | None:
    if not text:  # the old filter ignored empty values
        return None
    try:
        return await store.parse_timestamp(text)
    except InvalidTimestamp:
        raise BadRequest(f"时间格式无效：{field}", invalid_params=[field]) from None


@bp.post("/api/v0/qa_feedback/query")
@responds(docs.FeedbackQueryData)
@validate_request(FeedbackQueryIn)
@fails_with("查询反馈记录失败，请稍后重试")
async def query_feedback(data: FeedbackQueryIn):
    """List feedback records, filtered, sorted and paginated."""
    if data.page < 1:
        raise BadRequest("页码必须大于0", invalid_params=["page"])
    if not 1 <= data.page_size <= MAX_PAGE_SIZE:
        raise BadRequest("每页大小必须在1-100之间", invalid_params=["page_size"])
    if (data.page - 1) * data.page_size > MAX_OFFSET:
        raise BadRequest("页码超出范围", invalid_params=["page"])
    store = services().feedback
    filters = FeedbackFilter(
        is_thumb_up=data.is_thumb_up,
        is_in_training_data=data.is_in_training_data,
        create_time_start=await _timestamp(store, "create_time_start", data.create_time_start),
        create_time_end=await _timestamp(store, "create_time_end", data.create_time_end),
    )
    # Unknown sort values fall back silently, as before (the frontend may rely on it).
    sort_by = data.sort_by if data.sort_by in SORT_COLUMNS else DEFAULT_SORT
    sort_order = "asc" if (data.sort_order or "").lower() == "asc" else "desc"
    rows, total = await store.query(
        filters, page=data.page, page_size=data.page_size, sort_by=sort_by, sort_order=sort_order
    )
    total_pages = math.ceil(total / data.page_size)
    pagination = {
        "page": data.page,
        "page_size": data.page_size,
        "total": total,
        "total_pages": total_pages,
        "has_next": data.page < total_pages,
        "has_prev": data.page > 1,
    }
    return reply(
        success_response(
            f"查询成功，共找到 {total} 条记录",
            {"records": [record_json(row) for row in rows], "pagination": pagination},
        )
    )


@bp.post("/api/v0/qa_feedback/add")
@responds(docs.FeedbackAddedData)
@validate_request(FeedbackIn)
@fails_with("创建反馈记录失败，请稍后重试")
async def add_feedback(data: FeedbackIn):
    """Record a thumbs-up or thumbs-down on a question and its SQL."""
    for name in ("question", "sql"):
        if not getattr(data, name):
            raise BadRequest(f"缺少必需参数：{name}", missing_params=[name])
    if data.is_thumb_up is None:
        raise BadRequest("缺少必需参数：is_thumb_up", missing_params=["is_thumb_up"])
    feedback_id = await services().feedback.add(
        data.question, data.sql, data.is_thumb_up, data.user_id
    )
    return reply(success_response("反馈记录创建成功", {"feedback_id": feedback_id}))


@bp.delete("/api/v0/qa_feedback/delete/<int:feedback_id>")
@responds(docs.FeedbackDeletedData)
@require_admin
@fails_with("删除反馈记录失败，请稍后重试")
async def delete_feedback(feedback_id: int):
    """Delete one feedback record (vectors already trained from it stay)."""
    if not await services().feedback.delete(feedback_id):
        raise NotFound(f"反馈记录不存在 (ID: {feedback_id})")
    return reply(success_response("反馈记录删除成功", {"deleted_id": feedback_id}))


@bp.put("/api/v0/qa_feedback/update/<int:feedback_id>")
@responds(docs.FeedbackUpdatedData)
@validate_request(FeedbackUpdateIn)
@fails_with("更新反馈记录失败，请稍后重试")
async def update_feedback(feedback_id: int, data: FeedbackUpdateIn):
    """Change any of question, sql, is_thumb_up, user_id, is_in_training_data."""
    fields = {
        name: getattr(data, name) for name in UPDATABLE_FIELDS if name in data.model_fields_set
    }
    if not fields:
        raise BadRequest("没有提供有效的更新字段", missing_params=list(UPDATABLE_FIELDS))
    # Every column is NOT NULL in practice; question/sql must stay usable as training data.
    invalid = [
        name
        for name, value in fields.items()
        if value is None or (name in ("question", "sql") and not value)
    ]
    if invalid:
        raise BadRequest(f"字段值不能为空：{', '.join(invalid)}", invalid_params=invalid)
    if not await services().feedback.update(feedback_id, fields):
        raise NotFound(f"反馈记录不存在或无变化 (ID: {feedback_id})")
    return reply(
        success_response(
            "反馈记录更新成功", {"updated_id": feedback_id, "updated_fields": list(fields)}
        )
    )


@bp.post("/api/v0/qa_feedback/add_to_training")
@responds(docs.AddToTrainingData, errors=(404, 503))
@require_admin
@validate_request(FeedbackIdsIn)
@fails_with("添加训练数据失败，请稍后重试")
async def add_to_training(data: FeedbackIdsIn):
    """Promote feedback into the vector store (up → sql, down → error_sql) and mark it trained."""
    ids = parse_feedback_ids(data.feedback_ids)
    promotion = await services().feedback.promote_to_training(ids, services().training)
    if not promotion.found:
        raise NotFound("未找到任何有效的反馈记录")
    positive, negative = len(promotion.positive), len(promotion.negative)
    summary = {
        "total_requested": len(ids),
        "total_processed": positive
        + negative
        + len(promotion.already_trained)
        + len(promotion.errors),
        "positive_trained": positive,
        "negative_trained": negative,
        "already_trained": len(promotion.already_trained),
        "errors": len(promotion.errors),
    }
    data = {
        "summary": summary,
        "successfully_trained_ids": promotion.trained_ids,
        "training_details": {"sql_training_count": positive, "error_sql_training_count": negative},
    }
    return reply(success_response(f"训练数据添加完成，成功处理 {positive + negative} 条记录", data))


@bp.get("/api/v0/qa_feedback/stats")
@responds(docs.FeedbackStatsData)
@fails_with("获取统计信息失败，请稍后重试")
async def feedback_stats():
    """Counts of all, positive, negative, trained and untrained feedback, with rates."""
    stats = await services().feedback.stats()
    denominator = max(stats.total, 1)
    data = {
        "total_feedback": stats.total,
        "positive_feedback": stats.positive,
        "negative_feedback": stats.negative,
        "trained_feedback": stats.trained,
        "untrained_feedback": stats.untrained,
        "positive_rate": round(stats.positive / denominator * 100, 2),
        "training_rate": round(stats.trained / denominator * 100, 2),
    }
    return reply(success_response("统计信息获取成功", data))
