"""Data pipeline routes (``/api/v0/data_pipeline/…``): tasks, execution, files, logs, vector
backup/restore.

Request bodies are checked by hand because the contract fixes each error's Chinese text and the
order in which the fields are checked; every check the old service failed to make (it answered
500 for them) answers 400 here.
"""

from __future__ import annotations

import asyncio
import io
import logging
import mimetypes
from typing import Any

from quart import Blueprint, request, send_file
from quart_schema import DataSource, document_querystring, document_request

from citu import responses as r
from citu.apidoc import document_stream, responds
from citu.apidoc import pipeline as docs
from citu.errors import BadRequest
from citu.pipeline import schemas
from citu.pipeline.files import TASK_CONFIG_FILE, format_size, validate_task_id
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
from citu.pipeline.vectors import RestoreFailed
from citu.redaction import mask_task_config
from citu.security import require_admin
from citu.services import services
from citu.web.bodies import OtherTypes, json_object
from citu.web.failures import fails_with

log = logging.getLogger("citu.pipeline.api")

bp = Blueprint("pipeline", __name__)

OVERWRITE_MODES = ("backup", "replace", "skip")


async def json_body(*, other_types: OtherTypes = "parse") -> dict[str, Any]:
    """The body as a JSON object whatever the Content-Type (``other_types="empty"``: a body that
    does not say it is JSON reads as ``{}``); empty or ``null`` → ``{}``; anything else → 400."""
    return await json_object(other_types=other_types)


# ---- tasks ---------------------------------------------------------------------------------


@bp.post("/api/v0/data_pipeline/tasks")
@responds(docs.TaskCreatedData, status=201)
@require_admin
@document_request(schemas.CreateTaskIn)
@fails_with("创建任务失败，请稍后重试")
async def create_task():
    """Create a pipeline task (then upload its table list and execute it)."""
    data = await services().pipeline.create_task(await json_body())
    return r.reply(r.success_response("任务创建成功，请上传表清单文件后再执行任务", data), 201)


@bp.post("/api/v0/data_pipeline/tasks/<task_id>/execute")
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


@bp.post("/api/v0/data_pipeline/tasks/<task_id>/cancel")
@responds(docs.TaskCancelData)
@require_admin
@fails_with("取消任务失败，请稍后重试")
async def cancel_task(task_id: str):
    """Cancel a running task (citu addition); the run stops and the task is marked failed."""
    if not await services().pipeline.cancel(task_id):
        raise BadRequest(f"任务未在执行中: {task_id}")
    return r.reply(r.success_response("已请求取消任务", {"task_id": task_id}))


@bp.get("/api/v0/data_pipeline/tasks/<task_id>")
@responds(docs.TaskStatusData)
@fails_with("获取任务状态失败，请稍后重试")
async def get_task(task_id: str):
    """Task status with every step's state."""
    data = await services().pipeline.task_status(task_id)
    return r.reply(r.success_response("获取任务状态成功", data))


@bp.get("/api/v0/data_pipeline/tasks")
@responds(docs.TaskListData)
@document_querystring(schemas.TaskListQuery)
@fails_with("获取任务列表失败，请稍后重试")
async def list_tasks():
    """Newest tasks first, with an aggregate step status."""
    args = request.args
    limit, offset = _int_arg("limit", 50), _int_arg("offset", 0)
    if limit < 1 or offset < 0:
        raise BadRequest("limit必须大于0，offset不能为负数", invalid_params=["limit", "offset"])
    if offset > MAX_OFFSET:  # must fit PostgreSQL's bigint
        raise BadRequest(f"offset不能超过{MAX_OFFSET}", invalid_params=["offset"])
    limit = min(limit, 100)
    tasks = await services().pipeline.list_tasks(limit, offset, args.get("status") or None)
    data = {"tasks": tasks, "total": len(tasks), "limit": limit, "offset": offset}
    return r.reply(r.success_response("获取任务列表成功", data))


def _int_arg(name: str, default: int) -> int:
    """A query-string integer read as the old ``args.get(name, default, type=int)`` did: text
    that is not an integer means the default."""
    try:
        return int(request.args.get(name, default))
    except ValueError:
        return default


@bp.post("/api/v0/data_pipeline/tasks/query")
@responds(docs.TaskQueryData)
@document_request(schemas.TaskQueryIn)
@fails_with("查询任务列表失败，请稍后重试")
async def query_tasks():
    """Search tasks by status, name, creator, database and time ranges, paginated."""
    data = await services().pipeline.query_tasks(
        parse_task_query(await json_body(other_types="empty"))
    )
    return r.reply(r.success_response("查询任务列表成功", data))


@bp.delete("/api/v0/data_pipeline/tasks")
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


@bp.get("/api/v0/data_pipeline/tasks/<task_id>/logs")
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


@bp.post("/api/v0/data_pipeline/tasks/<task_id>/logs/query")
@responds(docs.TaskLogQueryData)
@document_request(schemas.LogQueryIn)
@fails_with("查询任务日志失败，请稍后重试")
async def query_task_logs(task_id: str):
    """Filter, sort and page the task's log entries (reads the file, changes nothing)."""
    await services().pipeline.require_task(task_id)
    data = await services().pipeline.query_logs(task_id, parse_log_query(await json_body()))
    if not data["log_file_info"].get("exists"):
        # The old route's own logging always created the file, so clients read these four.
        data["log_file_info"].update(
            file_size=0, file_size_formatted=format_size(0), last_modified=None, total_lines=0
        )
    return r.reply(r.success_response("查询任务日志成功", data))


# ---- files ---------------------------------------------------------------------------------


@bp.get("/api/v0/data_pipeline/tasks/<task_id>/files")
@responds(docs.TaskFilesData)
@fails_with("获取任务文件列表失败，请稍后重试")
async def list_task_files(task_id: str):
    """Top-level files of the task directory, newest first."""
    data = await services().pipeline.list_files(task_id)
    return r.reply(r.success_response("获取任务文件列表成功", data))


@bp.get("/api/v0/data_pipeline/tasks/<task_id>/files/<file_name>")
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


@bp.post("/api/v0/data_pipeline/tasks/<task_id>/upload-table-list")
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


@bp.get("/api/v0/data_pipeline/tasks/<task_id>/table-list-info")
@responds(docs.TableListInfoData)
@fails_with("获取表清单文件信息失败，请稍后重试")
async def table_list_info(task_id: str):
    """Whether the task has a table list, and its table names."""
    validate_task_id(task_id)
    info = await services().pipeline.table_list_info(task_id)
    data = {"task_id": task_id, "has_file": info["exists"], **info}
    return r.reply(r.success_response("获取表清单文件信息成功", data))


@bp.post("/api/v0/data_pipeline/tasks/<task_id>/table-list")
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


@bp.post("/api/v0/data_pipeline/tasks/<task_id>/files")
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


# ---- vector tables -------------------------------------------------------------------------


@bp.post("/api/v0/data_pipeline/vector/backup")
@responds(docs.VectorBackupData)
@require_admin
@document_request(schemas.VectorBackupIn)
@fails_with("Vector表备份失败，请稍后重试")
async def backup_vectors():
    """Back up the vector tables to CSV (globally or into a task's vector_bak/)."""
    body = await json_body(other_types="empty")
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


@bp.get("/api/v0/data_pipeline/vector/restore/list")
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


@bp.post("/api/v0/data_pipeline/vector/restore")
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
