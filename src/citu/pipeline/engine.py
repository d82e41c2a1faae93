"""Runs a task: the complete workflow or one step, with status, result files and the task log.

The caller holds the task's run lock (``runner.PipelineRunner`` or the CLI); the engine only
does the work and records it. Cancellation propagates out of ``run`` untouched, so the owner of
the lock records why the run stopped.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from citu.db.business import BusinessRoleRefused
from citu.db.pools import open_business_pool
from citu.errors import ServiceUnavailable
from citu.logging.setup import redact
from citu.pipeline.context import StepContext
from citu.pipeline.files import (
    TABLE_LIST_FILE,
    TASK_CONFIG_FILE,
    TASK_LOG_FILE,
    TaskPaths,
    write_json_atomic,
)
from citu.pipeline.llm import PipelineLlm
from citu.pipeline.steps import STEP_NAMES, STEPS_BY_NAME, TRAINING_STEP, enabled_steps
from citu.pipeline.tasklog import step_logging, task_logging
from citu.pipeline.tasks import TaskStore
from citu.settings import Settings
from citu.sql.guard import SqlGuard

log = logging.getLogger("citu.pipeline.engine")

_KEEP_ON_RERUN = {TABLE_LIST_FILE, TASK_LOG_FILE}


@dataclass
class RunOptions:
    mode: str = "complete"  # complete | step
    step: str | None = None
    backup_vector_tables: bool = False
    truncate_vector_tables: bool = False
    skip_training: bool = False


class StepFailed(Exception):
    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


def set_aside_previous_outputs(task_dir: Path, task_id: str) -> str | None:
    """Complete mode: move earlier top-level files into ``file_bak_<ts>/`` (a rerun starts clean)."""
    movable = [
        p
        for p in task_dir.iterdir()
        if p.is_file() and p.name not in _KEEP_ON_RERUN and not p.name.startswith(".")
    ]
    if not movable:
        return None
    stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
    target, number = task_dir / f"file_bak_{stamp}", 0
    while target.exists():
        number += 1
        target = task_dir / f"file_bak_{stamp}_{number}"
    target.mkdir()
    moved, failed = [], []
    for path in movable:
        try:
            shutil.move(str(path), target / path.name)
            moved.append(path.name)
        except OSError as error:
            failed.append({"file": path.name, "error": str(error)})
    write_json_atomic(
        target / "backup_info.json",
        {
            "backup_time": datetime.now().isoformat(),
            "backup_directory": target.name,
            "moved_files": moved,
            "failed_files": failed,
            "task_id": task_id,
        },
    )
    return target.name


class PipelineEngine:
    def __init__(
        self,
        *,
        store: TaskStore,
        paths: TaskPaths,
        settings: Settings,
        llm: PipelineLlm,
        default_business_url: str | None,
        business_db: Callable[[], asyncpg.Pool],
        vector_pool: asyncpg.Pool | None,
        trainer: Callable[[], Any],
        write_gate: Callable[[], Awaitable[None]] | None = None,
        sql_guard: SqlGuard | None = None,
    ) -> None:
        self.store = store
        self.sql_guard = sql_guard
        self.paths = paths
        self.settings = settings
        self.llm = llm
        self.default_business_url = default_business_url
        self.business_db = business_db  # the service's pool, or raises ServiceUnavailable
        self.vector_pool = vector_pool
        self.trainer = trainer  # looked up per run
        self.write_gate = write_gate  # raises ReadOnlyMode: no step starts in read-only mode

    async def run(self, task_id: str, options: RunOptions) -> dict[str, Any]:
        """Run and record; returns the result dict. Raises StepFailed when a step failed."""
        task = await self.store.get(task_id)
        if task is None:
            raise LookupError(f"任务不存在: {task_id}")
        task_dir = self.paths.task_dir(task_id)
        task_dir.mkdir(parents=True, exist_ok=True)
        if options.mode == "complete":
            await asyncio.to_thread(set_aside_previous_outputs, task_dir, task_id)
        await asyncio.to_thread(
            write_json_atomic,
            task_dir / TASK_CONFIG_FILE,
            {
                "task_id": task_id,
                "created_at": task["created_at"].isoformat() if task["created_at"] else None,
                "parameters": task["parameters"],  # holds the redacted connection only
                "output_directory": self.paths.output_directory(task_id),
            },
        )
        with task_logging(task_id, task_dir / TASK_LOG_FILE):
            log.info(
                "开始执行任务 %s: 模式=%s 步骤=%s", task_id, options.mode, options.step or "全部"
            )
            try:
                return await self._run_logged(task, task_dir, options)
            except StepFailed as error:
                log.error("任务 %s 失败: [%s] %s", task_id, error.step, error)
                raise
            except asyncio.CancelledError:
                log.warning("任务 %s 执行被中止（取消或服务停止）", task_id)
                raise

    async def _run_logged(
        self, task: dict[str, Any], task_dir: Path, options: RunOptions
    ) -> dict[str, Any]:
        task_id = task["task_id"]
        pool, owned = None, False
        try:
            pool, owned = await self._business_pool(task, options.step or STEP_NAMES[0])
            ctx = self._context(task, task_dir, pool, options)
            steps = enabled_steps(ctx.parameters)
            if options.mode == "complete":
                artifacts: dict[str, Any] = {}
                completed = []
                for step in steps:
                    artifacts[STEPS_BY_NAME[step].artifact_name] = await self._run_step(ctx, step)
                    completed.append(STEPS_BY_NAME[step].artifact_name)
                if "vector_management" in ctx.state:
                    artifacts["vector_management"] = ctx.state["vector_management"]
                result = {
                    "success": True,
                    "workflow_state": {
                        "current_step": completed[-1] if completed else None,
                        "completed_steps": completed,
                        "failed_steps": [],
                        "artifacts": artifacts,
                        "statistics": {
                            f"step{n}_duration": a.get("duration")
                            for n, a in enumerate(artifacts.values(), 1)
                        },
                    },
                    "artifacts": artifacts,
                }
                await asyncio.to_thread(write_json_atomic, task_dir / "task_result.json", result)
                await self.store.finish(task_id, "completed", result={"artifacts": artifacts})
            else:
                step = options.step or ""
                artifact = await self._run_step(ctx, step)
                if step == TRAINING_STEP and "vector_management" in ctx.state:
                    artifact = {**artifact, "vector_management": ctx.state["vector_management"]}
                await asyncio.to_thread(
                    write_json_atomic, task_dir / f"{step}_result.json", artifact
                )
                status = await self.store.overall_status(task_id, steps)
                await self.store.finish(task_id, status)
                result = {"success": True, "step": step, "artifact": artifact, "status": status}
            log.info("任务 %s 执行完成", task_id)
            return result
        except StepFailed as error:
            await self.store.finish(task_id, "failed", error=f"[{error.step}] {error}")
            raise
        finally:
            if owned and pool is not None:
                await pool.close()

    async def _run_step(self, ctx: StepContext, step: str) -> dict[str, Any]:
        if self.write_gate is not None:
            await self.write_gate()
        await self.store.step_running(ctx.task_id, step)
        with step_logging(step):
            log.info("开始执行步骤: %s", step)
            try:
                artifact = await STEPS_BY_NAME[step].run(ctx)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - recorded on the step, then re-raised
                message = redact(str(error)) or type(error).__name__
                log.exception("步骤 %s 失败: %s", step, message)
                await self.store.step_finished(ctx.task_id, step, error=message)
                raise StepFailed(step, message) from error
            await self.store.step_finished(ctx.task_id, step)
            log.info("步骤完成: %s", step)
            return artifact

    def _context(
        self, task: dict[str, Any], task_dir: Path, pool: asyncpg.Pool, options: RunOptions
    ) -> StepContext:
        parameters = task["parameters"]
        training_step = options.mode == "complete" or options.step == TRAINING_STEP
        return StepContext(
            task_id=task["task_id"],
            task_dir=task_dir,
            paths=self.paths,
            settings=self.settings,
            business_pool=pool,
            llm=self.llm,
            business_context=parameters.get("business_context")
            or self.settings.pipeline_business_context,
            db_name=task.get("db_name") or "database",
            parameters=parameters,
            trainer=self.trainer(),
            vector_pool=self.vector_pool,
            # Vector flags apply only to a run that includes the training step.
            backup_vector_tables=training_step and options.backup_vector_tables,
            truncate_vector_tables=training_step and options.truncate_vector_tables,
            skip_training=training_step and options.skip_training,
            sql_guard=self.sql_guard,
        )

    def _shared_business_pool(self, step: str) -> asyncpg.Pool | None:
        """The service's business pool; None while it is away (this run connects on its own)."""
        try:
            return self.business_db()
        except BusinessRoleRefused as error:  # a role that may write is refused here too
            raise StepFailed(step, str(error)) from error
        except ServiceUnavailable:
            return None

    async def _business_pool(self, task: dict[str, Any], step: str) -> tuple[asyncpg.Pool, bool]:
        """The pool for the task's business database and whether this run must close it."""
        dsn = task.get("business_dsn") or self.default_business_url
        if dsn == self.default_business_url:
            shared = self._shared_business_pool(step)
            if shared is not None:
                return shared, False
        if not dsn:
            raise StepFailed(step, "未配置业务数据库连接")
        try:
            async with asyncio.timeout(30):  # TimeoutError is an OSError: reported below
                return await open_business_pool(dsn, self.settings), True
        except (OSError, asyncpg.PostgresError) as error:
            raise StepFailed(step, f"无法连接到业务数据库: {redact(str(error))}") from error
