"""The pipeline component behind the routes: tasks, files, logs, database inspection, vectors.

Handlers validate and shape envelopes; everything that touches the task root, the task tables
or a database happens here. Blocking file work runs in threads.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import asyncpg

from citu import failures
from citu.db.pools import open_business_pool
from citu.errors import BadRequest, NotFound, ServiceUnavailable
from citu.pipeline.engine import PipelineEngine, RunOptions
from citu.pipeline.files import (
    TABLE_LIST_FILE,
    TASK_LOG_FILE,
    TaskPaths,
    file_type,
    format_deleted_size,
    format_size,
    is_safe_file_name,
    is_valid_task_id,
    iso_mtime,
    parse_table_names,
    split_table_name,
    write_text_atomic,
)
from citu.pipeline.inspect import TableNotFound
from citu.pipeline.llm import PipelineLlm
from citu.pipeline.render import render_ddl, render_doc
from citu.pipeline.requests import LogQuery, RestoreRequest
from citu.pipeline.runner import PipelineRunner
from citu.pipeline.steps.ddl import describe_table
from citu.pipeline.tablelist import decode_upload, names_from_request, table_list_text
from citu.pipeline.tasklog import parse_detailed, parse_simple
from citu.pipeline.tasks import STEP_NAMES, TaskQuery, TaskStore, iso
from citu.pipeline.vectors import backup_tables, restore_tables, scan_backups
from citu.settings import Settings, redact_url

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from citu.agents.sql_guard import SqlGuard
    from citu.training.service import TrainingService

UPLOAD_EXTENSIONS = (".ddl", ".md", ".txt", ".json", ".sql", ".csv")
CONNECT_TIMEOUT = 15.0  # seconds to reach a client-supplied business database
BOOL_PARAMETERS = (
    "enable_sql_validation",
    "enable_llm_repair",
    "modify_original_file",
    "enable_training_data_load",
)


def database_name(dsn: str | None) -> str:
    if not dsn:
        return "database"
    name = urlsplit(dsn).path.rsplit("/", 1)[-1].split("?", 1)[0]
    return name or "database"


class PipelineService:
    def __init__(
        self,
        *,
        settings: Settings,
        store: TaskStore,
        paths: TaskPaths,
        runner: PipelineRunner,
        llm: PipelineLlm,
        default_business_url: str | None,
        business_db: Callable[[], asyncpg.Pool],
        vector_pool: asyncpg.Pool | None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.paths = paths
        self.runner = runner
        self.llm = llm
        self.default_business_url = default_business_url
        self.business_db = business_db  # the service's pool, or raises ServiceUnavailable
        self.vector_pool = vector_pool

    async def aclose(self) -> None:
        await self.runner.aclose()

    async def stop_for_read_only(self) -> list[str]:
        """Read-only mode was turned on: stop this worker's runs now; the ids of every run under
        way (those of other workers stop at their next poll or write)."""
        stopped = self.runner.stop_all_for_read_only()
        return sorted(set(stopped) | set(await self.store.in_progress_ids()))

    # ---- business connections ------------------------------------------------------------

    def check_dsn(self, dsn: Any) -> str | None:
        """A client-supplied connection string, or None for the configured business database."""
        if dsn is None or dsn == "":
            return None
        if not isinstance(dsn, str) or urlsplit(dsn).scheme not in ("postgresql", "postgres"):
            raise BadRequest(
                "db_connection必须是PostgreSQL连接字符串", invalid_params=["db_connection"]
            )
        if dsn == self.default_business_url:
            return None
        if not self.settings.pipeline_allow_custom_db:
            raise BadRequest("不允许指定自定义数据库连接", invalid_params=["db_connection"])
        return dsn

    async def _business(self, dsn: str | None) -> tuple[asyncpg.Pool, bool]:
        if dsn is None:
            return self.business_db(), False
        async with asyncio.timeout(CONNECT_TIMEOUT):  # a client-chosen host may never answer
            return await open_business_pool(dsn, self.settings), True

    # ---- tasks ---------------------------------------------------------------------------

    async def create_task(
        self, body: dict[str, Any], *, created_type: str = "api", prefix: str = "task"
    ) -> dict[str, Any]:
        for name in BOOL_PARAMETERS:
            if name in body and not isinstance(body[name], bool):
                raise BadRequest(f"参数 {name} 必须是布尔值", invalid_params=[name])
        for name, limit in (("task_name", 255), ("db_name", 100), ("business_context", 2000)):
            value = body.get(name)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                raise BadRequest(
                    f"参数 {name} 必须是不超过{limit}个字符的字符串", invalid_params=[name]
                )
        if body.get("table_list_file"):
            raise BadRequest(
                "不支持服务器端表清单路径，请通过 upload-table-list 或 table-list 接口提供表清单",
                invalid_params=["table_list_file"],
            )
        dsn = self.check_dsn(body.get("db_connection"))
        effective = dsn or self.default_business_url
        parameters = {
            "db_connection": redact_url(effective),
            "table_list_file": "{task_directory}/table_list.txt",
            "business_context": body.get("business_context")
            or self.settings.pipeline_business_context,
            "file_upload_mode": True,
            **{name: body.get(name, True) for name in BOOL_PARAMETERS},
        }
        task_id = await self.store.create(
            task_name=body.get("task_name"),
            parameters=parameters,
            business_dsn=dsn,
            db_name=body.get("db_name") or database_name(effective),
            output_directory=self.paths.output_directory("{task_id}"),
            created_type=created_type,
            prefix=prefix,
        )
        await asyncio.to_thread(self.paths.task_dir(task_id).mkdir, parents=True, exist_ok=True)
        task = await self.store.get(task_id)
        return {
            "task_id": task_id,
            "task_name": task["task_name"],
            "status": task["status"],
            "created_at": iso(task["created_at"]),
            "file_upload_mode": True,
            "next_step": f"POST /api/v0/data_pipeline/tasks/{task_id}/upload-table-list",
        }

    async def require_task(self, task_id: str) -> dict[str, Any]:
        task = await self.store.get(task_id) if is_valid_task_id(task_id) else None
        if task is None:
            raise NotFound(f"任务不存在: {task_id}")
        return task

    async def task_status(self, task_id: str) -> dict[str, Any]:
        task = await self.require_task(task_id)
        steps = await self.store.steps(task_id)
        running = next((s for s in steps if s["step_status"] == "running"), None)
        return {
            "task_id": task_id,
            "task_name": task["task_name"],
            "status": task["status"],
            "step_status": {s["step_name"]: s["step_status"] for s in steps},
            "created_at": iso(task["created_at"]),
            "started_at": iso(task["started_at"]),
            "completed_at": iso(task["completed_at"]),
            "parameters": task["parameters"],
            "result": task.get("result"),
            "error_message": task["error_message"],
            "current_step": {
                "execution_id": running["execution_id"],
                "step": running["step_name"],
                "status": "running",
                "started_at": iso(running["started_at"]),
            }
            if running
            else None,
            "total_steps": len(STEP_NAMES),
            "steps": [
                {
                    "step_name": s["step_name"],
                    "step_status": s["step_status"],
                    "started_at": iso(s["started_at"]),
                    "completed_at": iso(s["completed_at"]),
                    "error_message": s["error_message"],
                }
                for s in steps
            ],
        }

    async def execute(self, task_id: str, options: RunOptions) -> None:
        await self.require_task(task_id)
        await self.runner.execute(task_id, options)

    async def cancel(self, task_id: str) -> bool:
        await self.require_task(task_id)
        return await self.runner.cancel(task_id)

    async def list_tasks(self, limit: int, offset: int, status: str | None) -> list[dict[str, Any]]:
        return await self.store.list(limit, offset, status)

    async def query_tasks(self, query: TaskQuery) -> dict[str, Any]:
        started = time.monotonic()
        total, tasks = await self.store.query(query)
        pages = math.ceil(total / query.page_size) if total else 0
        return {
            "tasks": tasks,
            "pagination": {
                "page": query.page,
                "page_size": query.page_size,
                "total": total,
                "total_pages": pages,
                "has_next": query.page < pages,
                "has_prev": query.page > 1,
            },
            "filters_applied": {k: v for k, v in (query.filters or {}).items() if v},
            "sort_applied": {"sort_by": query.sort_by, "sort_order": query.sort_order},
            "query_time": f"{time.monotonic() - started:.3f}s",
        }

    async def delete_tasks(
        self, task_ids: list[Any], delete_records: bool, continue_on_error: bool
    ) -> dict[str, Any]:
        deleted, failed = [], []
        for task_id in task_ids:
            try:
                deleted.append(await self._delete_one(task_id, delete_records))
            except Exception as error:  # noqa: BLE001 - reported per item, as the contract says
                # A ValueError is this service's own refusal; anything else may quote upstream.
                text = str(error) if isinstance(error, ValueError) else failures.public_text(error)
                failed.append({"task_id": task_id, "error": text, "error_code": "DELETE_FAILED"})
                if not continue_on_error:
                    break
        return {"deleted_tasks": deleted, "failed_tasks": failed}

    async def _delete_one(self, task_id: Any, delete_records: bool) -> dict[str, Any]:
        if not is_valid_task_id(task_id):
            raise ValueError(f"无效的任务ID: {task_id!r}")
        if await self.store.is_running(task_id):
            raise ValueError("任务正在执行中，无法删除")
        directory = self.paths.task_dir(task_id)
        files, size, existed = await asyncio.to_thread(_remove_tree, directory)
        records_deleted = False
        if delete_records:
            await self.store.delete_records(task_id)
            records_deleted = True
        else:
            await self.store.mark_directory_deleted(task_id)
        return {
            "success": True,
            "task_id": task_id,
            "directory_deleted": existed,
            "database_records_deleted": records_deleted,
            "deleted_files_count": files,
            "deleted_size": format_deleted_size(size),
            "deleted_at": _now(),
            "operation_message": "目录删除成功" if existed else "目录不存在，无需删除",
        }

    # ---- files ---------------------------------------------------------------------------

    async def list_files(self, task_id: str) -> dict[str, Any]:
        directory = self.paths.task_dir(task_id)
        return await asyncio.to_thread(self._list_files, task_id, directory)

    def _list_files(self, task_id: str, directory: Path) -> dict[str, Any]:
        files = []
        if directory.is_dir():
            for path in directory.iterdir():
                if not path.is_file() or path.is_symlink() or path.name.startswith("."):
                    continue
                stat = path.stat()
                files.append(
                    {
                        "file_name": path.name,
                        "file_type": file_type(path.name),
                        "file_size": stat.st_size,
                        "file_size_formatted": format_size(stat.st_size),
                        "created_at": iso_mtime(stat.st_ctime),
                        "modified_at": iso_mtime(stat.st_mtime),
                        "is_readable": os.access(path, os.R_OK),
                        "_mtime": stat.st_mtime,
                    }
                )
        files.sort(key=lambda f: f.pop("_mtime"), reverse=True)
        total = sum(f["file_size"] for f in files)
        return {
            "task_id": task_id,
            "files": files,
            "directory_info": {
                "exists": directory.is_dir(),
                "directory_path": self.paths.relative(directory),
                "total_files": len(files),
                "total_size": total,
                "total_size_formatted": format_size(total),
            },
        }

    def download_path(self, task_id: str, file_name: str) -> Path:
        path = self.paths.task_file(task_id, file_name)
        if not path.exists():
            raise NotFound(f"文件不存在: {file_name}")
        if not path.is_file():
            raise BadRequest(f"路径不是有效文件: {file_name}")
        if not os.access(path, os.R_OK):
            raise BadRequest("文件不可读")
        return path

    async def upload_table_list(self, task_id: str, raw: bytes) -> dict[str, Any]:
        await self.require_task(task_id)
        text, _ = decode_upload(raw, self.settings.pipeline_table_list_max_bytes)
        path = self.paths.task_file(task_id, TABLE_LIST_FILE)
        await asyncio.to_thread(write_text_atomic, path, text)  # stored as UTF-8
        stat = path.stat()
        return {
            "task_id": task_id,
            "filename": TABLE_LIST_FILE,
            "file_size": stat.st_size,
            "file_size_formatted": format_size(stat.st_size),
            "upload_time": iso_mtime(stat.st_mtime),
        }

    async def table_list_info(self, task_id: str) -> dict[str, Any]:
        path = self.paths.task_file(task_id, TABLE_LIST_FILE)
        return await asyncio.to_thread(self._table_list_info, path)

    def _table_list_info(self, path: Path) -> dict[str, Any]:
        relative = self.paths.relative(path)
        if not path.is_file():
            return {"exists": False, "file_name": TABLE_LIST_FILE, "expected_path": relative}
        stat = path.stat()
        try:
            names = parse_table_names(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            names = []
        return {
            "exists": True,
            "file_name": TABLE_LIST_FILE,
            "file_path": relative,
            "file_size": stat.st_size,
            "file_size_formatted": format_size(stat.st_size),
            "uploaded_at": iso_mtime(stat.st_mtime),
            "created_at": iso_mtime(stat.st_ctime),
            "table_count": len(names),
            "table_names": names,
            "is_readable": os.access(path, os.R_OK),
        }

    async def create_table_list(self, task_id: str, tables: Any) -> dict[str, Any]:
        names, received = names_from_request(tables, self.settings.pipeline_table_list_max_names)
        path = self.paths.task_file(task_id, TABLE_LIST_FILE)
        await asyncio.to_thread(write_text_atomic, path, table_list_text(names))
        stat = path.stat()
        return {
            "task_id": task_id,
            "filename": TABLE_LIST_FILE,
            "table_count": len(names),
            "unique_table_count": len(names),
            "file_size": stat.st_size,
            "file_size_formatted": format_size(stat.st_size),
            "created_time": iso_mtime(stat.st_mtime),
            "original_count": received,
        }

    async def upload_file(
        self, task_id: str, file_name: str, raw: bytes, overwrite_mode: str
    ) -> dict[str, Any]:
        if not is_safe_file_name(file_name):
            raise BadRequest(f"文件名包含不安全字符: {file_name}", invalid_params=["file"])
        suffix = Path(file_name).suffix.lower()
        if suffix not in UPLOAD_EXTENSIONS:
            raise BadRequest(
                f"不支持的文件类型: {suffix or '(无)'}，允许的类型: {', '.join(UPLOAD_EXTENSIONS)}"
            )
        limit = self.settings.pipeline_upload_max_bytes
        if len(raw) > limit:
            raise BadRequest(
                f"文件大小超出限制: {format_size(len(raw))}，最大允许: {limit / 1024 / 1024:.1f} MB"
            )
        if not raw:
            raise BadRequest("文件为空")
        path = self.paths.task_file(task_id, file_name)
        return await asyncio.to_thread(self._store_upload, task_id, path, raw, overwrite_mode)

    def _store_upload(self, task_id: str, path: Path, raw: bytes, mode: str) -> dict[str, Any]:
        result: dict[str, Any] = {"success": True, "task_id": task_id}
        if path.exists():
            if mode == "skip":
                return {
                    **result,
                    "skipped": True,
                    "message": f"文件已存在，跳过上传: {path.name}",
                    "uploaded_file": {"filename": path.name, "existed": True, "action": "skipped"},
                }
            if mode == "backup":
                for version in range(1, 1001):
                    backup = path.with_name(f"{path.name}_bak{version}")
                    if not backup.exists():
                        shutil.copy2(path, backup)
                        result["backup_info"] = {
                            "had_existing_file": True,
                            "backup_filename": backup.name,
                            "backup_version": version,
                            "backup_created_at": _now(),
                        }
                        break
                else:
                    raise BadRequest("备份版本已达上限")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.upload")
        tmp.write_bytes(raw)
        os.replace(tmp, path)
        result["uploaded_file"] = {
            "filename": path.name,
            "size": len(raw),
            "size_formatted": format_size(len(raw)),
            "uploaded_at": iso_mtime(path.stat().st_mtime),
            "overwrite_mode": mode,
        }
        return result

    # ---- logs ----------------------------------------------------------------------------

    async def tail_logs(self, task_id: str, limit: int, level: str | None) -> dict[str, Any]:
        await self.require_task(task_id)
        path = self.paths.task_file(task_id, TASK_LOG_FILE)
        lines = await asyncio.to_thread(_tail_lines, path, limit)
        logs = parse_simple(lines, level)
        return {
            "task_id": task_id,
            "logs": logs,
            "total": len(logs),
            "source": "file",
            "log_file": self.paths.relative(path) if path.is_file() else None,
        }

    async def log_entries(self, task_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        await self.require_task(task_id)
        path = self.paths.task_file(task_id, TASK_LOG_FILE)
        if not path.is_file():
            return [], {
                "exists": False,
                "file_path": self.paths.relative(path),
                "error": "日志文件不存在",
            }
        text = await asyncio.to_thread(path.read_text, encoding="utf-8", errors="replace")
        entries = parse_detailed(text)
        stat = path.stat()
        return entries, {
            "exists": True,
            "file_path": self.paths.relative(path),
            "file_size": stat.st_size,
            "file_size_formatted": format_size(stat.st_size),
            "last_modified": iso_mtime(stat.st_mtime),
            "total_lines": len(entries),
        }

    async def query_logs(self, task_id: str, query: LogQuery) -> dict[str, Any]:
        started = time.monotonic()
        entries, file_info = await self.log_entries(task_id)
        entries = [entry for entry in entries if query.keeps(entry)]
        key = query.sort_by
        entries.sort(
            key=lambda e: (e[key] is None, e[key] or ""), reverse=query.sort_order == "desc"
        )
        total, size = len(entries), query.page_size
        pages = math.ceil(total / size) if total else 0
        return {
            "logs": entries[(query.page - 1) * size : query.page * size],
            "pagination": {
                "page": query.page,
                "page_size": size,
                "total": total,
                "total_pages": pages,
                "has_next": query.page < pages,
                "has_prev": query.page > 1,
            },
            "log_file_info": file_info,
            "query_time": f"{time.monotonic() - started:.3f}s",
        }

    # ---- database inspection -------------------------------------------------------------

    async def database_tables(
        self, dsn: str | None, schemas: list[str], pattern: str | None
    ) -> list[str]:
        pool, owned = await self._business(dsn)
        try:
            tables = []
            for schema in schemas:
                if pattern:
                    rows = await pool.fetch(
                        "SELECT schemaname, tablename FROM pg_tables "
                        "WHERE schemaname = $1 AND tablename LIKE $2 ORDER BY tablename",
                        schema,
                        pattern,
                    )
                else:
                    rows = await pool.fetch(
                        "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = $1 "
                        "ORDER BY tablename",
                        schema,
                    )
                tables += [f"{r['schemaname']}.{r['tablename']}" for r in rows]
            return sorted(tables)
        finally:
            if owned:
                await pool.close()

    async def table_ddl(
        self, dsn: str | None, table: str, business_context: str, output: str
    ) -> dict[str, Any]:
        schema, name = split_table_name(table)
        pool, owned = await self._business(dsn)
        try:
            meta, _ = await describe_table(
                pool, self.llm, schema, name, business_context, self.settings
            )
        except TableNotFound as error:
            raise NotFound(f"获取表结构失败: {error}") from error
        finally:
            if owned:
                await pool.close()
        data: dict[str, Any] = {}
        if output in ("ddl", "both"):
            data["ddl"] = render_ddl(meta)
        if output in ("md", "both"):
            data["md"] = render_doc(meta)
        data.update(
            {
                "table_info": meta.info(),
                "fields": [f.as_api() for f in meta.fields],
                "generation_info": {
                    "business_context": business_context,
                    "output_type": output,
                    "has_llm_comments": bool(business_context),
                    "database": database_name(dsn or self.default_business_url),
                },
            }
        )
        return data

    # ---- vectors -------------------------------------------------------------------------

    def _require_vector_pool(self) -> asyncpg.Pool:
        if self.vector_pool is None:
            raise ServiceUnavailable("向量数据库不可用")
        return self.vector_pool

    async def backup_vectors(self, task_id: str | None) -> dict[str, Any]:
        directory = self.paths.backup_dir(task_id)
        if task_id and not directory.parent.is_dir():
            raise NotFound(f"指定的任务目录不存在: {task_id}")
        return await backup_tables(
            self._require_vector_pool(),
            directory,
            label=task_id or "vector_bak",
            relative_dir=self.paths.relative(directory),
        )

    async def list_backups(self, task_id: str | None, global_only: bool) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._scan_locations, task_id, global_only)

    def _scan_locations(self, task_id: str | None, global_only: bool) -> list[dict[str, Any]]:
        locations: list[tuple[str, str | None, Path]] = []
        if task_id:
            locations.append(("task", task_id, self.paths.backup_dir(task_id)))
        else:
            locations.append(("global", None, self.paths.backup_dir(None)))
            if not global_only and self.paths.root.is_dir():
                for directory in sorted(self.paths.root.iterdir()):
                    if directory.is_dir() and directory.name.startswith(("task_", "manual_")):
                        if is_valid_task_id(directory.name):
                            locations.append(("task", directory.name, directory / "vector_bak"))
        found = []
        for kind, owner, directory in locations:
            backups = scan_backups(directory)
            if not backups:
                continue
            entry: dict[str, Any] = {"type": kind, "relative_path": self.paths.relative(directory)}
            if owner:
                entry["task_id"] = owner
            entry["backups"] = backups
            found.append(entry)
        return found

    def resolve_backup_dir(self, backup_path: str) -> Path:
        """A backup directory given by a client: relative to the data directory, inside the task root."""
        candidate = Path(backup_path)
        if not candidate.is_absolute():
            candidate = self.paths.data_dir / candidate
        resolved = candidate.resolve()
        root = self.paths.root.resolve()
        if resolved != root and root not in resolved.parents:
            raise BadRequest("backup_path必须位于任务数据目录内", invalid_params=["backup_path"])
        return resolved

    async def restore_vectors(self, request: RestoreRequest) -> dict[str, Any]:
        """Restore a backup set; RestoreFailed (rolled back) when the database refuses it."""
        directory = self.resolve_backup_dir(request.backup_path)
        if not await asyncio.to_thread(directory.is_dir):
            raise NotFound(f"备份目录不存在: {request.backup_path}")
        files = [f"{table}_{request.timestamp}.csv" for table in request.tables]
        absent = [name for name in files if not (directory / name).is_file()]
        if absent:
            raise NotFound(f"备份文件不存在: {', '.join(absent)}")
        data = await restore_tables(
            self._require_vector_pool(),
            directory,
            request.timestamp,
            request.tables,
            truncate=request.truncate,
        )
        data["backup_info"] = {
            "backup_path": request.backup_path,
            "timestamp": request.timestamp,
            "backup_date": datetime.strptime(request.timestamp, "%Y%m%d_%H%M%S").strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
        }
        return data


def _remove_tree(directory: Path) -> tuple[int, int, bool]:
    if not directory.is_dir():
        return 0, 0, False
    files = size = 0
    for root, _, names in os.walk(directory):
        for name in names:
            files += 1
            try:
                size += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    shutil.rmtree(directory)
    return files, size, True


def _tail_lines(path: Path, limit: int) -> list[str]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", errors="replace") as handle:
        return list(deque(handle, maxlen=limit))


def _now() -> str:
    return datetime.now().isoformat()


async def build_pipeline(
    *,
    settings: Settings,
    db: asyncpg.Pool,
    llm: BaseChatModel | None,
    business_url: str | None,
    business_db: Callable[[], asyncpg.Pool],
    training: TrainingService,
    write_gate: Callable[[], Awaitable[None]],
    read_only: Callable[[], Awaitable[bool]],
    sql_guard: SqlGuard,
) -> PipelineService:
    """The pipeline component of a running service; crashed runs are failed here.

    ``business_db`` is the service's business pool, or raises ServiceUnavailable while it is
    away: asked at each use, so the routes recover when the database comes back.
    """
    store = TaskStore(db)
    paths = TaskPaths(settings.data_dir)
    await asyncio.to_thread(paths.root.mkdir, parents=True, exist_ok=True)
    pipeline_llm = PipelineLlm(
        llm, settings.pipeline_llm_attempts, settings.pipeline_llm_retry_delay
    )
    engine = PipelineEngine(
        store=store,
        paths=paths,
        settings=settings,
        llm=pipeline_llm,
        default_business_url=business_url,
        business_db=business_db,
        vector_pool=db,
        trainer=lambda: training,
        write_gate=write_gate,
        sql_guard=sql_guard,
    )
    runner = PipelineRunner(
        store,
        engine,
        poll_seconds=settings.pipeline_cancel_poll_seconds,
        recovery_interval=settings.pipeline_recovery_interval_seconds,
        max_running=settings.pipeline_max_running_tasks,
        read_only=read_only,
    )
    await runner.start()
    return PipelineService(
        settings=settings,
        store=store,
        paths=paths,
        runner=runner,
        llm=pipeline_llm,
        default_business_url=business_url,
        business_db=business_db,
        vector_pool=db,
    )
