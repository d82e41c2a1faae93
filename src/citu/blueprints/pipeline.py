"""Data pipeline routes: tasks, execution, files, logs, database inspection, vector backup/restore.

Request bodies are checked by hand because the contract fixes each error's Chinese text and
order (spec pipeline.md §2); every check the old service failed to make answers 400 here.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import mimetypes
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from quart import Blueprint, request, send_file
from quart_schema import DataSource, document_querystring, document_request
from werkzeug.exceptions import HTTPException

from citu import inputs
from citu import responses as r
from citu.apidoc import document_stream, responds
from citu.apidoc import pipeline as docs
from citu.errors import ApiError, BadRequest, NotFound
from citu.pipeline import schemas
from citu.pipeline.files import TASK_CONFIG_FILE, validate_task_id
from citu.pipeline.requests import (
    MAX_OFFSET,
    delete_params,
    delete_reply_text,
    flag,
    parse_delete,
    parse_execute,
    parse_log_query,
    parse_restore,
    parse_task_query,
)
from citu.pipeline.service import database_name
from citu.pipeline.vectors import RestoreFailed
from citu.redaction import mask_task_config
from citu.security import require_admin
from citu.services import services

log = logging.getLogger("citu.pipeline.api")

bp = Blueprint("pipeline", __name__)

PREFIX = "/api/v0/data_pipeline"
OVERWRITE_MODES = ("backup", "replace", "skip")
DDL_TYPES = ("ddl", "md", "both")


# Errors the app-wide handlers already answer properly (typed errors, 413, citu's database
# down). A refused connection is not among them: here it is usually a client-chosen business
# database, which the route's own 500 text describes.
_PASS_THROUGH = (
    ApiError,
    HTTPException,
    asyncio.CancelledError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def fails_with(text: str) -> Callable:
    """Unexpected errors answer the route's own 500 text, as the old handlers did."""

    def decorate(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(handler)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await handler(*args, **kwargs)
            except _PASS_THROUGH:
                raise
            except Exception:
                log.exception("%s failed", handler.__name__)
                return r.reply(r.internal_error_response(text), 500)

        return wrapper

    return decorate


async def json_body() -> dict[str, Any]:
    """The body as a JSON object whatever the Content-Type; empty → {}; anything else → 400."""
    raw = await request.get_data()
    if not raw or not raw.strip():
        return {}
    try:
        data = await inputs.aloads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("请求体必须是有效的JSON") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadRequest("请求体必须是JSON对象")
    return data


# ---- tasks ---------------------------------------------------------------------------------


@bp.post(f"{PREFIX}/tasks")
@responds(docs.TaskCreatedData, status=201)
@require_admin
@document_request(schemas.CreateTaskIn)
@fails_with("创建任务失败，请稍后重试")
async def create_task():
    """Create a pipeline task (then upload its table list and execute it)."""
    data = await services().pipeline.create_task(await json_body())
    return r.reply(r.success_response("任务创建成功，请上传表清单文件后再执行任务", data), 201)


@bp.post(f"{PREFIX}/tasks/<task_id>/execute")
@responds(docs.TaskExecutionData, status=202, errors=(409,))
@require_admin
@document_request(schemas.ExecuteTaskIn)
@fails_with("启动任务执行失败，请稍后重试")
async def execute_task(task_id: str):
    """Start the complete workflow or one step in the background (202)."""
    options = parse_execute(await json_body())
    await services().pipeline.execute(task_id, options)
    data = {
        "task_id": task_id,
        "execution_mode": options.mode,
        "step_name": options.step,
        "message": "任务正在后台执行，请通过状态接口查询进度",
    }
    return r.reply(r.success_response("任务执行已启动", data), 202)


@bp.post(f"{PREFIX}/tasks/<task_id>/cancel")
@responds(docs.TaskCancelData)
@require_admin
@fails_with("取消任务失败，请稍后重试")
async def cancel_task(task_id: str):
    """Cancel a running task (citu addition); the run stops and the task is marked failed."""
    if not await services().pipeline.cancel(task_id):
        raise BadRequest(f"任务未在执行中: {task_id}")
    return r.reply(r.success_response("已请求取消任务", {"task_id": task_id}))


@bp.get(f"{PREFIX}/tasks/<task_id>")
@responds(docs.TaskStatusData)
@fails_with("获取任务状态失败，请稍后重试")
async def get_task(task_id: str):
    """Task status with every step's state."""
    data = await services().pipeline.task_status(task_id)
    return r.reply(r.success_response("获取任务状态成功", data))


@bp.get(f"{PREFIX}/tasks")
@responds(docs.TaskListData)
@document_querystring(schemas.TaskListQuery)
@fails_with("获取任务列表失败，请稍后重试")
async def list_tasks():
    """Newest tasks first, with an aggregate step status."""
    args = request.args
    try:
        limit = int(args.get("limit", 50))
        offset = int(args.get("offset", 0))
    except ValueError:
        raise BadRequest("limit和offset必须是整数", invalid_params=["limit", "offset"]) from None
    if limit < 1 or offset < 0:
        raise BadRequest("limit必须大于0，offset不能为负数", invalid_params=["limit", "offset"])
    if offset > MAX_OFFSET:  # must fit PostgreSQL's bigint
        raise BadRequest(f"offset不能超过{MAX_OFFSET}", invalid_params=["offset"])
    limit = min(limit, 100)
    tasks = await services().pipeline.list_tasks(limit, offset, args.get("status") or None)
    data = {"tasks": tasks, "total": len(tasks), "limit": limit, "offset": offset}
    return r.reply(r.success_response("获取任务列表成功", data))


@bp.post(f"{PREFIX}/tasks/query")
@responds(docs.TaskQueryData)
@document_request(schemas.TaskQueryIn)
@fails_with("查询任务列表失败，请稍后重试")
async def query_tasks():
    """Search tasks by status, name, creator, database and time ranges, paginated."""
    data = await services().pipeline.query_tasks(parse_task_query(await json_body()))
    return r.reply(r.success_response("查询任务列表成功", data))


@bp.delete(f"{PREFIX}/tasks")
@responds(docs.TasksDeletedData)
@require_admin
@document_request(schemas.DeleteTasksIn)
@fails_with("删除任务失败，请稍后重试")
async def delete_tasks():
    """Delete task directories (and optionally their rows), one or many; never a running task."""
    body = await json_body() if request.is_json else None
    req = parse_delete(delete_params(request.args, body))
    result = await services().pipeline.delete_tasks(
        req.task_ids, req.delete_records, req.continue_on_error
    )
    deleted, failed = result["deleted_tasks"], result["failed_tasks"]
    data = {
        **result,
        "summary": {
            "total_requested": len(req.task_ids),
            "successfully_deleted": len(deleted),
            "failed": len(failed),
        },
        "deleted_at": r.now_iso(),
    }
    text = delete_reply_text(len(req.task_ids), deleted, failed)
    return r.reply(r.success_response(text, data))


# ---- logs ----------------------------------------------------------------------------------


@bp.get(f"{PREFIX}/tasks/<task_id>/logs")
@responds(docs.TaskLogsData)
@document_querystring(schemas.LogTailQuery)
@fails_with("获取任务日志失败，请稍后重试")
async def task_logs(task_id: str):
    """The last lines of the task's log file, parsed."""
    try:
        limit = int(request.args.get("limit", 100))
    except ValueError:
        limit = 100
    if limit < 1:
        raise BadRequest("limit必须大于0", invalid_params=["limit"])
    data = await services().pipeline.tail_logs(task_id, min(limit, 1000), request.args.get("level"))
    return r.reply(r.success_response("获取任务日志成功", data))


@bp.post(f"{PREFIX}/tasks/<task_id>/logs/query")
@responds(docs.TaskLogQueryData)
@document_request(schemas.LogQueryIn)
@fails_with("查询任务日志失败，请稍后重试")
async def query_task_logs(task_id: str):
    """Filter, sort and page the task's log entries (reads the file, changes nothing)."""
    await services().pipeline.require_task(task_id)
    data = await services().pipeline.query_logs(task_id, parse_log_query(await json_body()))
    return r.reply(r.success_response("查询任务日志成功", data))


# ---- files ---------------------------------------------------------------------------------


@bp.get(f"{PREFIX}/tasks/<task_id>/files")
@responds(docs.TaskFilesData)
@fails_with("获取任务文件列表失败，请稍后重试")
async def list_task_files(task_id: str):
    """Top-level files of the task directory, newest first."""
    data = await services().pipeline.list_files(task_id)
    return r.reply(r.success_response("获取任务文件列表成功", data))


@bp.get(f"{PREFIX}/tasks/<task_id>/files/<file_name>")
@document_stream("application/octet-stream", "The file, as an attachment.")
@fails_with("下载文件失败，请稍后重试")
async def download_task_file(task_id: str, file_name: str):
    """Download one file of the task directory (attachment)."""
    path = services().pipeline.download_path(task_id, file_name)
    mimetype = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
    if file_name.endswith(".md"):
        mimetype = "text/markdown"
    if file_name == TASK_CONFIG_FILE:
        raw = mask_task_config(await asyncio.to_thread(path.read_bytes))
        return await send_file(
            io.BytesIO(raw), mimetype=mimetype, as_attachment=True, attachment_filename=file_name
        )
    return await send_file(
        path, mimetype=mimetype, as_attachment=True, attachment_filename=file_name, conditional=True
    )


async def _uploaded_file(missing_text: str) -> tuple[str, bytes]:
    files = await request.files
    upload = files.get("file")
    if upload is None:
        raise BadRequest(missing_text, missing_params=["file"])
    if not upload.filename:
        raise BadRequest("请选择有效的文件")
    limit = max(
        services().settings.pipeline_upload_max_bytes,
        services().settings.pipeline_table_list_max_bytes,
    )
    raw = await asyncio.to_thread(upload.read, limit + 1)
    return upload.filename, raw


@bp.post(f"{PREFIX}/tasks/<task_id>/upload-table-list")
@responds(docs.TableListUploadedData)
@require_admin
@document_request(schemas.TableListUpload, source=DataSource.FORM_MULTIPART)
@fails_with("处理上传请求失败，请稍后重试")
async def upload_table_list(task_id: str):
    """Upload table_list.txt (multipart field ``file``; .txt, UTF-8 or GBK, ≤ 2 MB)."""
    await services().pipeline.require_task(task_id)
    filename, raw = await _uploaded_file("请选择要上传的表清单文件")
    if not filename.lower().endswith(".txt"):
        raise BadRequest("不支持的文件类型，仅支持: .txt")
    data = await services().pipeline.upload_table_list(task_id, raw)
    return r.reply(r.success_response("表清单文件上传成功", data))


@bp.get(f"{PREFIX}/tasks/<task_id>/table-list-info")
@responds(docs.TableListInfoData)
@fails_with("获取表清单文件信息失败，请稍后重试")
async def table_list_info(task_id: str):
    """Whether the task has a table list, and its table names."""
    validate_task_id(task_id)
    info = await services().pipeline.table_list_info(task_id)
    data = {"task_id": task_id, "has_file": info["exists"], **info}
    return r.reply(r.success_response("获取表清单文件信息成功", data))


@bp.post(f"{PREFIX}/tasks/<task_id>/table-list")
@responds(docs.TableListCreatedData)
@require_admin
@document_request(schemas.TableListIn)
@fails_with("创建表清单文件失败，请稍后重试")
async def create_table_list(task_id: str):
    """Write table_list.txt from ``tables`` (a comma string or an array)."""
    await services().pipeline.require_task(task_id)
    body = await json_body()
    tables = body.get("tables")
    if not tables:
        raise BadRequest("缺少必需参数：tables", missing_params=["tables"])
    data = await services().pipeline.create_table_list(task_id, tables)
    return r.reply(r.success_response(f"表清单已成功创建，包含 {data['table_count']} 个表", data))


@bp.post(f"{PREFIX}/tasks/<task_id>/files")
@responds(docs.TaskFileUploadedData)
@require_admin
@document_request(schemas.TaskFileUpload, source=DataSource.FORM_MULTIPART)
@fails_with("处理上传请求失败，请稍后重试")
async def upload_task_file(task_id: str):
    """Upload a .ddl/.md/.txt/.json/.sql/.csv file into the task directory."""
    await services().pipeline.require_task(task_id)
    filename, raw = await _uploaded_file("请选择要上传的文件")
    form = await request.form
    mode = form.get("overwrite_mode", "backup")
    if mode not in OVERWRITE_MODES:
        raise BadRequest(
            f"无效的overwrite_mode参数: {mode}，支持的值: {list(OVERWRITE_MODES)}",
            invalid_params=["overwrite_mode"],
        )
    data = await services().pipeline.upload_file(task_id, filename, raw, mode)
    text = data.get("message") if data.get("skipped") else "文件上传成功"
    return r.reply(r.success_response(text, data))


# ---- business database ---------------------------------------------------------------------

PG_NAME_MAX_BYTES = 63  # PostgreSQL's identifier limit: a longer name is an error there


def _check_name_lengths(field: str, names: list[str]) -> None:
    if any(len(name.encode()) > PG_NAME_MAX_BYTES for name in names):
        raise BadRequest(
            f"{field}中的名称过长（最多{PG_NAME_MAX_BYTES}字节）", invalid_params=[field]
        )


@bp.post("/api/v0/database/tables")
@responds(docs.DatabaseTablesData)
@require_admin
@document_request(schemas.DatabaseTablesIn)
@fails_with("获取表列表失败: 数据库连接或查询失败")
async def database_tables():
    """Tables of the business database (or of ``db_connection``), optionally filtered."""
    body = await json_body()
    svc = services().pipeline
    dsn = svc.check_dsn(body.get("db_connection"))
    schema = body.get("schema")
    if schema is not None and not isinstance(schema, str):
        raise BadRequest("schema必须是逗号分隔的字符串", invalid_params=["schema"])
    schemas = [s.strip() for s in (schema or "").split(",") if s.strip()] or ["public"]
    _check_name_lengths("schema", schemas)
    pattern = body.get("table_name_pattern")
    if pattern is not None and not isinstance(pattern, str):
        raise BadRequest("table_name_pattern必须是字符串", invalid_params=["table_name_pattern"])
    like = (pattern if "%" in pattern else pattern.replace("*", "%")) if pattern else None
    tables = await svc.database_tables(dsn, schemas, like)

    data: dict[str, Any] = {
        "tables": tables,
        "total": len(tables),
        "schemas": schemas,
        "db_connection_info": {"database": database_name(dsn or svc.default_business_url)},
    }
    if pattern:
        data["table_name_pattern"] = pattern
    return r.reply(r.success_response("获取表列表成功", data))


@bp.post("/api/v0/database/table/ddl")
@responds(docs.TableDdlData, errors=(404,))
@require_admin
@document_request(schemas.TableDdlIn)
async def table_ddl():
    """DDL and/or Markdown documentation of one business table (nothing is written)."""
    body = await json_body()
    output = body.get("type", "ddl")
    label = str(output).upper()
    try:
        table = body.get("table")
        if not table:
            raise BadRequest("缺少必需参数：table", missing_params=["table"])
        if not isinstance(table, str):
            raise BadRequest("table必须是字符串", invalid_params=["table"])
        _check_name_lengths("table", table.split("."))
        if output not in DDL_TYPES:
            raise BadRequest(
                f"无效的type参数: {output}，支持的值: {list(DDL_TYPES)}", invalid_params=["type"]
            )
        context = body.get("business_context") or ""
        if not isinstance(context, str):
            raise BadRequest("business_context必须是字符串", invalid_params=["business_context"])
        svc = services().pipeline
        dsn = svc.check_dsn(body.get("db_connection"))
        data = await svc.table_ddl(dsn, table, context, output)
    except NotFound as error:
        raise NotFound(f"获取表{label}失败: {error}") from error
    except (ApiError, HTTPException, asyncio.CancelledError):
        raise
    except Exception:
        log.exception("table ddl failed")
        return r.reply(r.internal_error_response(f"获取表{label}失败: 数据库连接或查询失败"), 500)
    return r.reply(r.success_response(f"获取表{label}成功", data))


# ---- vector tables -------------------------------------------------------------------------


@bp.post(f"{PREFIX}/vector/backup")
@responds(docs.VectorBackupData)
@require_admin
@document_request(schemas.VectorBackupIn)
@fails_with("Vector表备份失败，请稍后重试")
async def backup_vectors():
    """Back up the vector tables to CSV (globally or into a task's vector_bak/)."""
    body = await json_body()
    task_id = body.get("task_id")
    if task_id is not None:
        validate_task_id(task_id)
    if body.get("db_connection"):
        raise BadRequest(
            "不支持指定db_connection：向量表备份使用citu自身的数据库",
            invalid_params=["db_connection"],
        )
    if not flag(body, "backup_vector_tables", True):
        data = {"backup_performed": False, "truncate_performed": False}
        return r.reply(r.success_response("Vector表备份完成", data))
    data = await services().pipeline.backup_vectors(task_id)
    return r.reply(r.success_response("Vector表备份完成", data))


@bp.get(f"{PREFIX}/vector/restore/list")
@responds(docs.VectorBackupListData)
@document_querystring(schemas.BackupListQuery)
@fails_with("扫描备份文件失败，请稍后重试")
async def list_vector_backups():
    """Backup sets found globally and in task directories, newest first."""
    task_id = request.args.get("task_id")
    if task_id is not None:
        validate_task_id(task_id)
    global_only = request.args.get("global_only", "").lower() == "true"
    locations = await services().pipeline.list_backups(task_id, global_only)
    sets = sum(len(loc["backups"]) for loc in locations)
    data = {
        "backup_locations": locations,
        "summary": {
            "total_locations": len(locations),
            "total_backup_sets": sets,
            "global_backups": sum(len(x["backups"]) for x in locations if x["type"] == "global"),
            "task_backups": sum(len(x["backups"]) for x in locations if x["type"] == "task"),
            "scan_time": r.now_iso(),
        },
    }
    text = (
        f"成功扫描到 {len(locations)} 个备份位置，共 {sets} 个备份集"
        if sets
        else "未找到任何可用的备份文件"
    )
    return r.reply(r.success_response(text, data))


@bp.post(f"{PREFIX}/vector/restore")
@responds(docs.VectorRestoreData)
@require_admin
@document_request(schemas.VectorRestoreIn)
@fails_with("Vector表恢复失败，请稍后重试")
async def restore_vectors():
    """Restore the vector tables from a backup set, in one transaction."""
    request_ = parse_restore(await json_body())
    try:
        data = await services().pipeline.restore_vectors(request_)
    except RestoreFailed as error:
        body = r.internal_error_response("Vector表恢复失败，所有更改已回滚")
        body["data"]["restore_results"] = error.results
        return r.reply(body, 500)
    return r.reply(r.success_response("Vector表恢复完成", data))
