"""Training data routes (``/api/v0/training_data/…``): stats, query, create, delete, update,
and the direct ``citu_train_question_sql`` / ``training_error_question_sql``; upload and combine
are in ``training_bulk``.

Status codes follow the old service where the frontend may rely on them: create/delete answer a
total failure with HTTP 400 and a partial one with HTTP 207 (body ``code`` 500 both times), and
upload/combine always answer HTTP 200 with the outcome in the body.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

from pydantic import ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import validate_request

from citu import responses as r
from citu.apidoc import RequestModel, envelope, responds
from citu.apidoc import training as docs
from citu.errors import BadRequest
from citu.security import require_admin
from citu.services import services
from citu.training.models import KINDS, TrainingItem, parse_item
from citu.training.service import ItemResult
from citu.web.failures import fails_with

log = logging.getLogger("citu.training")
bp = Blueprint("training", __name__)

_PARTIAL = "Some items failed: body code 500, success false, with each item's result."


def _batch_reply(data: dict[str, Any], ok: int, failed: int, what: str) -> Response:
    """The old create/delete outcome: 200, or HTTP 400 / 207 with body code 500."""
    if failed == 0:
        return r.reply(r.success_response(f"训练数据{what}完成", data))
    if ok == 0:
        return r.reply(r.error_response(f"训练数据{what}失败", data=data), 400)
    text = f"训练数据{what}部分成功，成功{ok}条，失败{failed}条"
    return r.reply(r.error_response(text, data=data), 207)


def item_result_json(result: ItemResult, entry: TrainingItem | str, raw: Any) -> dict[str, Any]:
    if result.stored is None:
        kind = result.kind or (raw.get("training_data_type") if isinstance(raw, dict) else None)
        return {
            "index": result.index,
            "success": False,
            "type": kind if isinstance(kind, str) and kind else "unknown",
            "error": result.error,
            "message": "创建失败",
        }
    stored = result.stored
    body = {
        "index": result.index,
        "success": True,
        "training_id": stored.id,
        "type": stored.kind,
        "message": f"{stored.kind}训练数据创建成功"
        if stored.created
        else f"{stored.kind}训练数据已存在，未重复存储",
        "duplicate": not stored.created,
    }
    if isinstance(entry, TrainingItem) and entry.needs_question:
        body["generated_question"] = stored.question
    return body


# ---- stats and query ----------------------------------------------------------------------


@bp.get("/api/v0/training_data/stats")
@responds(docs.TrainingStatsData)
@fails_with("获取统计信息失败，请稍后重试", reason=True)
async def training_stats() -> Response:
    """Counts of stored training data per type, with percentages."""
    counts = await services().training.counts()
    total = sum(counts.values())
    data = {
        "total_count": total,
        "type_breakdown": counts,
        "type_percentages": {
            kind: round(counts[kind] / total * 100, 2) if total else 0.0 for kind in KINDS
        },
        "last_updated": r.now_iso(),
    }
    return r.reply(r.success_response("统计信息获取成功", data))


MAX_PAGE = 10**9


class QueryIn(RequestModel):
    page: int = 1
    """Page number, from 1."""
    page_size: int = 20
    """Records per page, 1..100."""
    training_data_type: str | None = None
    """Only this type: sql | error_sql | documentation | ddl."""
    sort_by: str = "id"
    """id | training_data_type."""
    sort_order: str = "desc"
    """asc | desc."""
    search_keyword: str | None = None
    """Only items whose question or content contains this text (at most 100 characters)."""


@bp.post("/api/v0/training_data/query")
@responds(docs.TrainingQueryData)
@validate_request(QueryIn)
@fails_with("查询训练数据失败，请稍后重试", reason=True)
async def query_training_data(data: QueryIn) -> Response:
    """One page of training data, filtered by type and keyword, sorted by id or type."""
    if data.page < 1:
        raise BadRequest("页码必须大于0", missing_params=["page"])
    if data.page > MAX_PAGE:  # the row offset must fit PostgreSQL's bigint
        raise BadRequest(f"页码不能超过{MAX_PAGE}", invalid_params=["page"])
    if not 1 <= data.page_size <= 100:
        raise BadRequest("每页大小必须在1-100之间", missing_params=["page_size"])
    if data.search_keyword and len(data.search_keyword) > 100:
        raise BadRequest("搜索关键词最大长度为100字符", missing_params=["search_keyword"])
    training = services().training
    records, total = await training.store.query(
        kind=data.training_data_type or None,
        keyword=data.search_keyword or None,
        sort_by=data.sort_by,
        descending=data.sort_order.lower() == "desc",
        limit=data.page_size,
        offset=(data.page - 1) * data.page_size,
    )
    text = f"查询成功，共找到 {total} 条记录"
    if total == 0 and await training.total() == 0:
        text = "查询成功，暂无训练数据"
    body = {
        "records": records,
        "pagination": {
            "page": data.page,
            "page_size": data.page_size,
            "total": total,
            "total_pages": math.ceil(total / data.page_size),
            "has_next": data.page * data.page_size < total,
            "has_prev": data.page > 1,
        },
        "filters_applied": {
            "training_data_type": data.training_data_type,
            "search_keyword": data.search_keyword,
        },
    }
    return r.reply(r.success_response(text, body))


# ---- create, delete, update -----------------------------------------------------------------


class TrainingItemIn(RequestModel):
    """One training item; the text field it needs depends on its type."""

    documented_required = ("training_data_type",)

    training_data_type: Literal["sql", "error_sql", "documentation", "ddl"] | None = None
    """sql (a question/SQL example), error_sql (a wrong one), documentation, ddl."""
    question: str | None = None
    """sql: optional (the LLM writes one when absent); error_sql: required."""
    sql: str | None = None
    """sql and error_sql: the query."""
    content: str | None = None
    """documentation: the text."""
    ddl: str | None = None
    """ddl: one CREATE statement."""


_ITEM_SCHEMA = TrainingItemIn.model_json_schema()
_TEXT = {"type": "string"}


class CreateIn(RequestModel):
    documented_required = ("data",)

    data: Any = Field(
        None,
        description="one item, or a list of at most CITU_TRAINING_BATCH_LIMIT (50) items",
        json_schema_extra={
            "anyOf": [_ITEM_SCHEMA, {"type": "array", "items": _ITEM_SCHEMA, "minItems": 1}]
        },
    )


@bp.post("/api/v0/training_data/create")
@responds(
    docs.TrainingCreateData,
    errors=(503,),
    other={207: envelope(docs.TrainingCreateData, "TrainingCreatePartial", _PARTIAL)},
)
@require_admin
@validate_request(CreateIn)
@fails_with("创建训练数据失败，请稍后重试", reason=True)
async def create_training_data(data: CreateIn) -> Response:
    """Train one item or a batch (sql, error_sql, documentation, ddl); per-item results."""
    limit = services().settings.training_batch_limit
    if not data.data:
        raise BadRequest("缺少必需参数：data", missing_params=["data"])
    if not isinstance(data.data, dict | list):
        raise BadRequest("data字段格式错误，应为对象或数组", invalid_params=["data"])
    raws = data.data if isinstance(data.data, list) else [data.data]
    if len(raws) > limit:
        raise BadRequest(f"批量操作最大支持{limit}条记录", invalid_params=["data"])
    training = services().training
    entries = await training.parse_many(raws)
    results = await training.train_batch(entries)
    items = [
        item_result_json(res, e, raw) for res, e, raw in zip(results, entries, raws, strict=True)
    ]
    ok = [res.stored for res in results if res.stored is not None]
    body = {
        "total_requested": len(raws),
        "successfully_created": len(ok),
        "failed_count": len(raws) - len(ok),
        "newly_stored": sum(1 for s in ok if s.created),
        "duplicates": sum(1 for s in ok if not s.created),
        "results": items,
        "summary": {kind: sum(1 for s in ok if s.kind == kind) for kind in KINDS},
        "current_total_count": await training.total(),
    }
    return _batch_reply(body, len(ok), len(raws) - len(ok), "创建")


class DeleteIn(RequestModel):
    documented_required = ("ids", "confirm")

    ids: Any = Field(
        None,
        description="ids of the items to delete (at most CITU_TRAINING_BATCH_LIMIT)",
        json_schema_extra={"type": "array", "items": _TEXT, "minItems": 1},
    )
    confirm: Any = Field(
        False, description="must be true to delete", json_schema_extra={"type": "boolean"}
    )


@bp.post("/api/v0/training_data/delete")
@responds(
    docs.TrainingDeleteData,
    other={207: envelope(docs.TrainingDeleteData, "TrainingDeletePartial", _PARTIAL)},
)
@require_admin
@validate_request(DeleteIn)
@fails_with("删除训练数据失败，请稍后重试", reason=True)
async def delete_training_data(data: DeleteIn) -> Response:
    """Delete training data by id (confirm required)."""
    limit = services().settings.training_batch_limit
    if not isinstance(data.ids, list) or not data.ids:
        raise BadRequest("缺少有效的ID列表", missing_params=["ids"])
    if not data.confirm:
        raise BadRequest("删除操作需要确认，请设置confirm为true", invalid_params=["confirm"])
    if len(data.ids) > limit:
        raise BadRequest(f"批量删除最大支持{limit}条记录", invalid_params=["ids"])
    training = services().training
    outcome = await training.delete_many(data.ids)
    deleted = [i for i, ok in zip(data.ids, outcome, strict=True) if ok]
    failed = [i for i, ok in zip(data.ids, outcome, strict=True) if not ok]
    body = {
        "total_requested": len(data.ids),
        "successfully_deleted": len(deleted),
        "failed_count": len(failed),
        "deleted_ids": deleted,
        "failed_ids": failed,
        "failed_details": [{"id": i, "error": "记录不存在或删除失败"} for i in failed],
        "current_total_count": await training.total(),
    }
    return _batch_reply(body, len(deleted), len(failed), "删除")


class UpdateIn(RequestModel):
    model_config = ConfigDict(extra="allow")
    documented_required = ("id", "training_data_type")

    id: Any = Field(None, description="the item to replace", json_schema_extra=_TEXT)
    training_data_type: Any = Field(
        None,
        description="sql | error_sql | documentation | ddl (the new item's type)",
        json_schema_extra={"enum": ["sql", "error_sql", "documentation", "ddl"]},
    )
    question: Any = Field(
        None, description="sql / error_sql: the question", json_schema_extra=_TEXT
    )
    sql: Any = Field(None, description="sql / error_sql: the query", json_schema_extra=_TEXT)
    content: Any = Field(None, description="documentation: the text", json_schema_extra=_TEXT)
    ddl: Any = Field(None, description="ddl: one CREATE statement", json_schema_extra=_TEXT)


@bp.post("/api/v0/training_data/update")
@responds(docs.TrainingUpdateData, errors=(503,))
@require_admin
@validate_request(UpdateIn)
@fails_with("更新训练数据失败，请稍后重试", reason=True)
async def update_training_data(data: UpdateIn) -> Response:
    """Replace a training item by new content (new id); the old one stays if anything fails."""
    if not data.id:
        raise BadRequest("缺少必需参数：id", missing_params=["id"])
    if not data.training_data_type:
        raise BadRequest("缺少必需参数：training_data_type", missing_params=["training_data_type"])
    training = services().training
    stored = await training.replace(str(data.id), data.model_dump())
    body = {
        "original_id": str(data.id),
        "new_training_id": stored.id,
        "type": stored.kind,
        "duplicate": not stored.created,
        "current_total_count": await training.total(),
    }
    if stored.question is not None:
        body["question"] = stored.question
    return r.reply(r.success_response("训练数据更新成功", body))


# ---- direct training routes (citu_app) --------------------------------------------------------


class QuestionSqlIn(RequestModel):
    documented_required = ("sql",)

    question: Any = Field(
        None,
        description="the question; /citu_train_question_sql lets the LLM write it when absent",
        json_schema_extra=_TEXT,
    )
    sql: Any = Field(None, description="the SQL", json_schema_extra=_TEXT)


@bp.post("/api/v0/citu_train_question_sql")
@responds(docs.QuestionSqlTrainedData, errors=(503,))
@require_admin
@validate_request(QuestionSqlIn)
@fails_with("训练失败，请稍后重试", reason=True)
async def train_question_sql(data: QuestionSqlIn) -> Response:
    """Store a question/SQL example; without question the LLM writes one."""
    if not isinstance(data.sql, str) or not data.sql.strip():
        raise BadRequest("缺少必需参数：sql", missing_params=["sql"])
    training = services().training
    payload = {"training_data_type": "sql", "question": data.question, "sql": data.sql}
    item = await training.with_question(await training.parse(payload))
    [stored] = await training.add_items([item])
    body = {
        "training_id": stored.id,
        "question": stored.question,
        "duplicate": not stored.created,
        "message": "Question-SQL pair trained successfully",
    }
    return r.reply(r.success_response("问题-SQL对训练成功", body))


@bp.post("/api/v0/training_error_question_sql")
@responds(docs.ErrorSqlStoredData, errors=(503,))
@require_admin
@validate_request(QuestionSqlIn)
@fails_with("存储错误SQL失败，请稍后重试", reason=True)
async def train_error_question_sql(data: QuestionSqlIn) -> Response:
    """Store a wrong question/SQL pair in the error_sql collection."""
    missing = [
        name
        for name in ("question", "sql")
        if not isinstance(getattr(data, name), str) or not getattr(data, name).strip()
    ]
    if missing:
        raise BadRequest("question和sql参数都是必需的", missing_params=missing)
    training = services().training
    [stored] = await training.add_items(
        [parse_item({"training_data_type": "error_sql", **data.model_dump()})]
    )
    body = {
        "id": stored.id,
        "duplicate": not stored.created,
        "message": "错误SQL对已成功存储到error_sql集合",
    }
    return r.reply(r.success_response("错误SQL对已成功存储", body))
