"""The pipeline component behind the routes: tasks, files, logs, database inspection, vectors.

Handlers validate and shape envelopes; everything that touches the task root, the task tables
or a database happens in ``PipelineService``. Its parts live beside it, one module each:
``service_files`` (task directory), ``service_logs`` (task log), ``service_database`` (business
database inspection) and ``service_vectors`` (vector table backups); the task life cycle and the
business connections are here. Blocking file work runs in threads.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import asyncpg

from citu import failures
from citu.db.pools import open_business_pool
from citu.errors import BadRequest, NotFound
from citu.pipeline.engine import PipelineEngine, RunOptions
from citu.pipeline.files import TaskPaths, format_deleted_size, is_valid_task_id
from citu.pipeline.llm import PipelineLlm
from citu.pipeline.runner import PipelineRunner
from citu.pipeline.service_database import DatabaseInspectionPart, database_name
from citu.pipeline.service_files import TaskFilesPart
from citu.pipeline.service_logs import TaskLogsPart
from citu.pipeline.service_vectors import VectorBackupsPart
from citu.pipeline.steps import STEP_NAMES
from citu.pipeline.task_rows import TaskQuery, iso
from citu.pipeline.tasks import TaskStore
from citu.settings import Settings, redact_url

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from citu.sql.guard import SqlGuard
    from citu.training.service import TrainingService

__all__ = ["PipelineService", "build_pipeline", "database_name"]

CONNECT_TIMEOUT = 15.0  # seconds to reach a client-supplied business database
BOOL_PARAMETERS = (
    "enable_sql_validation",
    "enable_llm_repair",
    "modify_original_file",
    "enable_training_data_load",
)


class PipelineService(TaskFilesPart, TaskLogsPart, DatabaseInspectionPart, VectorBackupsPart):
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
