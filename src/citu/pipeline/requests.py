"""Request bodies of the pipeline routes, checked in the contract's order with its error texts.

Each ``parse_*`` turns a decoded JSON body (or query parameters) into a typed request or raises
``BadRequest``; quart-schema's generic messages would not match the texts the frontend shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from citu.errors import BadRequest
from citu.pipeline.engine import RunOptions
from citu.pipeline.files import TASK_ID_TEXT, is_valid_task_id
from citu.pipeline.steps import STEP_NAMES, TRAINING_STEP
from citu.pipeline.task_rows import SORT_FIELDS, TIME_FILTERS, TaskQuery
from citu.pipeline.tasklog import LEVELS, parse_time
from citu.pipeline.vectors import SUPPORTED_TABLES, TIMESTAMP_RE

QUERY_STATUSES = (
    "pending",
    "in_progress",
    "partial_completed",
    "completed",
    "failed",
    "running",  # legacy values of the old whitelist: accepted, match nothing
    "cancelled",
)
LOG_SORT_FIELDS = ("timestamp", "level", "logger", "step", "line_number")


MAX_PAGE = 10**9
MAX_OFFSET = 10**12


def flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(f"参数 {name} 必须是布尔值", invalid_params=[name])
    return value


def _int(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("页码和每页大小必须是整数", invalid_params=[name])
    return value


def parse_execute(body: dict[str, Any]) -> RunOptions:
    """POST …/tasks/<task_id>/execute. Vector flags apply only where training_load runs; elsewhere
    they are dropped."""
    mode = body.get("execution_mode", "complete")
    step = body.get("step_name")
    if mode not in ("complete", "step"):
        raise BadRequest(
            "无效的执行模式，必须是 'complete' 或 'step'", invalid_params=["execution_mode"]
        )
    if mode == "step" and not step:
        raise BadRequest("步骤执行模式需要指定step_name", missing_params=["step_name"])
    if mode == "step" and step not in STEP_NAMES:
        raise BadRequest(
            f"无效的步骤名称，支持的步骤: {', '.join(STEP_NAMES)}", invalid_params=["step_name"]
        )
    flags = {
        name: flag(body, name, False)
        for name in ("backup_vector_tables", "truncate_vector_tables", "skip_training")
    }
    if mode == "step" and step != TRAINING_STEP:
        flags = dict.fromkeys(flags, False)
    return RunOptions(mode=mode, step=step if mode == "step" else None, **flags)


def parse_task_query(body: dict[str, Any]) -> TaskQuery:
    """POST /api/v0/data_pipeline/tasks/query."""
    page, page_size = _int(body, "page", 1), _int(body, "page_size", 20)
    if page < 1:
        raise BadRequest("页码必须大于0", invalid_params=["page"])
    if page > MAX_PAGE:  # the row offset must fit PostgreSQL's bigint
        raise BadRequest(f"页码不能超过{MAX_PAGE}", invalid_params=["page"])
    if not 1 <= page_size <= 100:
        raise BadRequest("每页大小必须在1-100之间", invalid_params=["page_size"])
    status = body.get("status")
    if status and status not in QUERY_STATUSES:
        raise BadRequest(
            f"不支持的状态值: {status}，支持的状态: {', '.join(QUERY_STATUSES)}",
            invalid_params=["status"],
        )
    task_name = body.get("task_name")
    if task_name is not None and (not isinstance(task_name, str) or len(task_name) > 100):
        raise BadRequest("任务名称搜索关键词最大长度为100字符", invalid_params=["task_name"])
    sort_by = body.get("sort_by", "created_at")
    if sort_by not in SORT_FIELDS:
        raise BadRequest(
            f"不支持的排序字段: {sort_by}，支持的字段: {', '.join(SORT_FIELDS)}",
            invalid_params=["sort_by"],
        )
    sort_order = body.get("sort_order", "desc")
    if not isinstance(sort_order, str) or sort_order.lower() not in ("asc", "desc"):
        raise BadRequest("排序方向必须是 'asc' 或 'desc'", invalid_params=["sort_order"])
    filters = {}
    for key in ("status", "task_name", "created_by", "db_name", *(k for k, _, _ in TIME_FILTERS)):
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"参数 {key} 必须是字符串", invalid_params=[key])
        if value:
            filters[key] = value
    return TaskQuery(page, page_size, filters, sort_by, sort_order)


@dataclass
class LogQuery:
    page: int = 1
    page_size: int = 50
    level: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    keyword: str | None = None
    logger_name: str | None = None
    step_name: str | None = None
    sort_by: str = "timestamp"
    sort_order: str = "desc"

    def keeps(self, entry: dict[str, Any]) -> bool:
        if self.level and entry["level"] != self.level:
            return False
        if self.start_time or self.end_time:
            stamp = datetime.strptime(entry["timestamp"], "%Y-%m-%d %H:%M:%S")
            if self.start_time and stamp < self.start_time:
                return False
            if self.end_time and stamp > self.end_time:
                return False
        if self.keyword and self.keyword.lower() not in entry["message"].lower():
            return False
        if self.logger_name and entry["logger"] != self.logger_name:
            return False
        return not (self.step_name and entry["step"] != self.step_name)


def parse_log_query(body: dict[str, Any]) -> LogQuery:
    """POST …/tasks/<task_id>/logs/query."""
    page, page_size = body.get("page", 1), body.get("page_size", 50)
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise BadRequest("页码必须是大于0的整数", invalid_params=["page"])
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 500:
        raise BadRequest("每页大小必须是1-500之间的整数", invalid_params=["page_size"])
    level = body.get("level")
    if level is not None and (not isinstance(level, str) or level.upper() not in LEVELS):
        raise BadRequest(
            "日志级别必须是DEBUG、INFO、WARNING、ERROR、CRITICAL之一", invalid_params=["level"]
        )
    times: dict[str, datetime] = {}
    for key, label in (("start_time", "开始时间"), ("end_time", "结束时间")):
        value = body.get(key)
        if value is not None:
            parsed = parse_time(value) if isinstance(value, str) else None
            if parsed is None:
                raise BadRequest(
                    f"{label}格式无效，支持格式：YYYY-MM-DD HH:MM:SS 或 YYYY-MM-DD",
                    invalid_params=[key],
                )
            times[key] = parsed
    keyword = body.get("keyword")
    if keyword is not None and (not isinstance(keyword, str) or len(keyword) > 200):
        raise BadRequest("关键字长度不能超过200个字符", invalid_params=["keyword"])
    sort_by = body.get("sort_by", "timestamp")
    if sort_by not in LOG_SORT_FIELDS:
        raise BadRequest(
            f"排序字段必须是以下之一: {', '.join(LOG_SORT_FIELDS)}", invalid_params=["sort_by"]
        )
    sort_order = body.get("sort_order", "desc")
    if sort_order not in ("asc", "desc"):
        raise BadRequest("排序方向必须是asc或desc", invalid_params=["sort_order"])
    return LogQuery(
        page=page,
        page_size=page_size,
        level=level.upper() if level else None,
        keyword=keyword or None,
        logger_name=body.get("logger_name") or None,
        step_name=body.get("step_name") or None,
        sort_by=sort_by,
        sort_order=sort_order,
        **times,
    )


@dataclass
class DeleteRequest:
    task_ids: list[str]
    delete_records: bool
    continue_on_error: bool


def _query_value(value: str) -> Any:
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    return value


def delete_params(args: Any, body: dict[str, Any] | None) -> dict[str, Any]:
    """DELETE /api/v0/data_pipeline/tasks: the query string (``task_ids[]`` repeated), overridden by a JSON body."""
    params: dict[str, Any] = {}
    for key in args:
        values = args.getlist(key)
        params[key.removesuffix("[]")] = values if key.endswith("[]") else _query_value(values[-1])
    params.update(body or {})
    return params


def parse_delete(params: dict[str, Any]) -> DeleteRequest:
    task_ids, confirm = params.get("task_ids"), params.get("confirm")
    if not task_ids:
        raise BadRequest("缺少必需参数: task_ids", missing_params=["task_ids"])
    if not confirm:
        raise BadRequest("缺少必需参数: confirm", missing_params=["confirm"])
    if confirm is not True and confirm != 1:
        raise BadRequest("confirm参数必须为true以确认删除操作", invalid_params=["confirm"])
    if not isinstance(task_ids, list):
        raise BadRequest("task_ids必须是非空的任务ID列表", invalid_params=["task_ids"])
    invalid = [t for t in task_ids if not is_valid_task_id(t)]
    if invalid:  # all of them checked before anything is touched
        raise BadRequest(
            f"{TASK_ID_TEXT}: {', '.join(map(repr, invalid[:5]))}", invalid_params=["task_ids"]
        )
    return DeleteRequest(
        task_ids=task_ids,
        delete_records=params.get("delete_database_records", False) is True,
        continue_on_error=params.get("continue_on_error", True) is not False,
    )


def delete_reply_text(requested: int, deleted: list[dict], failed: list[dict]) -> str:
    removed = sum(1 for item in deleted if item["directory_deleted"])
    absent = len(deleted) - removed
    if requested == 1:
        return deleted[0]["operation_message"] if deleted else f"任务删除失败: {failed[0]['error']}"
    if not failed:
        if removed and absent:
            return f"批量操作完成：{removed}个目录已删除，{absent}个目录不存在"
        if removed:
            return f"批量删除完成：成功删除{removed}个目录"
        return f"批量操作完成：{absent}个目录不存在，无需删除"
    if not deleted:
        return f"批量删除失败：{len(failed)}个任务处理失败"
    return f"批量删除部分完成：成功{len(deleted)}个，失败{len(failed)}个"


@dataclass
class RestoreRequest:
    backup_path: str
    timestamp: str
    tables: list[str]
    truncate: bool


def parse_restore(body: dict[str, Any]) -> RestoreRequest:
    """POST /api/v0/data_pipeline/vector/restore (paths are resolved and checked by the service)."""
    missing = [key for key in ("backup_path", "timestamp") if not body.get(key)]
    if missing:
        raise BadRequest(f"缺少必需参数: {', '.join(missing)}", missing_params=missing)
    tables = body.get("tables", list(SUPPORTED_TABLES))
    if not isinstance(tables, list):
        raise BadRequest("tables参数必须是数组格式", invalid_params=["tables"])
    stamp, backup_path = body["timestamp"], body["backup_path"]
    if not isinstance(stamp, str) or not TIMESTAMP_RE.fullmatch(stamp):
        raise BadRequest("无效的timestamp格式，应为YYYYMMDD_HHMMSS", invalid_params=["timestamp"])
    unsupported = [t for t in tables if t not in SUPPORTED_TABLES]
    if unsupported or not tables:
        raise BadRequest(f"不支持的表名: {unsupported}", invalid_params=["tables"])
    if body.get("db_connection"):
        raise BadRequest(
            "不支持指定db_connection：向量表恢复使用citu自身的数据库",
            invalid_params=["db_connection"],
        )
    if not isinstance(backup_path, str):
        raise BadRequest("backup_path必须是字符串", invalid_params=["backup_path"])
    return RestoreRequest(backup_path, stamp, tables, flag(body, "truncate_before_restore", False))
