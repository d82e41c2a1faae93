"""Task and step rows (``data_pipeline_tasks``, ``data_pipeline_task_steps``) in citu's database,
plus the per-task run lock. How a row reads as a list item is in ``task_rows``.

The lock is a session advisory lock held on one pooled connection for the whole run, so it
holds across hypercorn workers and disappears with a crashed process — which is how start-up
tells an interrupted task (lock free, status ``in_progress``) from one running elsewhere.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import asyncpg

from citu.db.locks import PIPELINE_RUN_CLASS, RunLocks
from citu.errors import BadRequest
from citu.pipeline.steps import STEP_NAMES
from citu.pipeline.task_rows import (
    LIST_SELECT,
    SORT_FIELDS,
    TIME_FILTERS,
    TaskQuery,
    filter_conditions,
    list_item,
    parameters_dict,
)

log = logging.getLogger("citu.pipeline.tasks")

INTERRUPTED_TEXT = "任务执行中断：执行该任务的服务进程已停止（已标记为失败）"


class TaskStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.locks = RunLocks(pool, PIPELINE_RUN_CLASS, "pipeline task")

    # ---- create / read -------------------------------------------------------------------

    async def create(
        self,
        *,
        task_name: str | None,
        parameters: dict[str, Any],
        business_dsn: str | None,
        db_name: str,
        output_directory: str,
        created_type: str = "api",
        by_user: str = "guest",
        prefix: str = "task",
    ) -> str:
        """Insert the task and its four steps; the id never collides (a suffix when taken)."""
        stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
        async with self.pool.acquire() as conn, conn.transaction():
            for attempt in range(100):
                task_id = f"{prefix}_{stamp}" if attempt == 0 else f"{prefix}_{stamp}_{attempt}"
                inserted = await conn.fetchval(
                    """
                    INSERT INTO data_pipeline_tasks (task_id, task_name, task_type, status,
                        parameters, created_type, by_user, db_name, output_directory, business_dsn,
                        directory_exists)
                    VALUES ($1, $2, 'data_workflow', 'pending', $3::jsonb, $4, $5, $6, $7, $8, TRUE)
                    ON CONFLICT (task_id) DO NOTHING
                    RETURNING task_id
                    """,
                    task_id,
                    task_name,
                    json.dumps(parameters, ensure_ascii=False),
                    created_type,
                    by_user,
                    db_name,
                    output_directory.replace("{task_id}", task_id),
                    business_dsn,
                )
                if inserted:
                    break
            else:  # 100 tasks in one second
                raise RuntimeError("could not allocate a task id")
            await conn.executemany(
                "INSERT INTO data_pipeline_task_steps (task_id, step_name) VALUES ($1, $2)",
                [(task_id, step) for step in STEP_NAMES],
            )
        return task_id

    async def get(self, task_id: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            "SELECT * FROM data_pipeline_tasks WHERE task_id = $1", task_id
        )
        if row is None:
            return None
        task = dict(row)
        task["parameters"] = parameters_dict(task["parameters"])
        if isinstance(task.get("result"), str):
            task["result"] = json.loads(task["result"])
        return task

    async def exists(self, task_id: str) -> bool:
        return bool(
            await self.pool.fetchval(
                "SELECT 1 FROM data_pipeline_tasks WHERE task_id = $1", task_id
            )
        )

    async def steps(self, task_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """
            SELECT step_name, step_status, execution_id, started_at, completed_at, error_message
            FROM data_pipeline_task_steps WHERE task_id = $1
            ORDER BY array_position($2::text[], step_name::text)
            """,
            task_id,
            list(STEP_NAMES),
        )
        return [dict(row) for row in rows]

    async def list(self, limit: int, offset: int, status: str | None) -> list[dict[str, Any]]:
        where, args = "", [limit, offset]
        if status:
            where, args = "WHERE t.status = $3", [*args, status]
        rows = await self.pool.fetch(
            f"{LIST_SELECT} {where} GROUP BY t.task_id "
            "ORDER BY t.created_at DESC LIMIT $1 OFFSET $2",
            *args,
        )
        return [list_item(row) for row in rows]

    async def query(self, q: TaskQuery) -> tuple[int, list[dict[str, Any]]]:
        filters = q.filters or {}
        conditions, args = filter_conditions(filters)
        async with self.pool.acquire() as conn:
            for key, column, op in TIME_FILTERS:
                if filters.get(key):
                    # PostgreSQL's own parser, so literals such as 'yesterday' keep working.
                    try:
                        await conn.fetchval("SELECT $1::text::timestamp", filters[key])
                    except (asyncpg.DataError, asyncpg.exceptions.InvalidDatetimeFormatError):
                        raise BadRequest(f"时间格式无效: {key}", invalid_params=[key]) from None
                    args.append(filters[key])
                    conditions.append(f"t.{column} {op} ${len(args)}::text::timestamp")
            where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
            total = await conn.fetchval(
                f"SELECT COUNT(*) FROM data_pipeline_tasks t {where}", *args
            )
            order = "ASC" if q.sort_order.lower() == "asc" else "DESC"
            sort_by = q.sort_by if q.sort_by in SORT_FIELDS else "created_at"
            rows = await conn.fetch(
                f"{LIST_SELECT} {where} GROUP BY t.task_id ORDER BY t.{sort_by} {order} "
                f"LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
                *args,
                q.page_size,
                (q.page - 1) * q.page_size,
            )
        return int(total), [list_item(row) for row in rows]

    # ---- the run lock --------------------------------------------------------------------

    async def try_lock(self, task_id: str) -> asyncpg.pool.PoolConnectionProxy | None:
        """A pooled connection holding the task's run lock, or None when another run holds it."""
        return await self.locks.try_lock(task_id)

    async def unlock(self, conn: asyncpg.pool.PoolConnectionProxy, task_id: str) -> None:
        await self.locks.unlock(conn, task_id)

    async def is_running(self, task_id: str) -> bool:
        conn = await self.try_lock(task_id)
        if conn is None:
            return True
        await self.unlock(conn, task_id)
        return False

    async def in_progress_ids(self) -> list[str]:
        """Tasks whose run is under way, on any worker."""
        rows = await self.pool.fetch(
            "SELECT task_id FROM data_pipeline_tasks WHERE status = 'in_progress' ORDER BY task_id"
        )
        return [row["task_id"] for row in rows]

    # ---- status writes -------------------------------------------------------------------

    async def start_run(self, task_id: str) -> None:
        await self.pool.execute(
            """
            UPDATE data_pipeline_tasks
            SET status = 'in_progress', started_at = COALESCE(started_at, LOCALTIMESTAMP),
                completed_at = NULL, error_message = NULL, cancel_requested = FALSE,
                updated_at = LOCALTIMESTAMP
            WHERE task_id = $1
            """,
            task_id,
        )

    async def step_running(self, task_id: str, step: str) -> str:
        execution_id = f"{task_id}_step_{step}_exec_{datetime.now():%Y%m%d_%H%M%S}"
        await self.pool.execute(
            """
            UPDATE data_pipeline_task_steps
            SET step_status = 'running', execution_id = $3, started_at = LOCALTIMESTAMP,
                completed_at = NULL, error_message = NULL
            WHERE task_id = $1 AND step_name = $2
            """,
            task_id,
            step,
            execution_id,
        )
        return execution_id

    async def step_finished(self, task_id: str, step: str, error: str | None = None) -> None:
        await self.pool.execute(
            """
            UPDATE data_pipeline_task_steps
            SET step_status = $3, completed_at = LOCALTIMESTAMP, error_message = $4
            WHERE task_id = $1 AND step_name = $2
            """,
            task_id,
            step,
            "failed" if error else "completed",
            error,
        )

    async def finish(
        self,
        task_id: str,
        status: str,
        error: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        await self.pool.execute(
            """
            UPDATE data_pipeline_tasks
            SET status = $2, error_message = $3, completed_at = LOCALTIMESTAMP,
                result = COALESCE($4::jsonb, result), updated_at = LOCALTIMESTAMP
            WHERE task_id = $1
            """,
            task_id,
            status,
            error,
            json.dumps(result, ensure_ascii=False, default=str) if result is not None else None,
        )

    async def overall_status(self, task_id: str, enabled_steps: list[str]) -> str:
        """Status after a single-step run: failed, completed (every enabled step done), or partial."""
        states = {s["step_name"]: s["step_status"] for s in await self.steps(task_id)}
        if any(state == "failed" for state in states.values()):
            return "failed"
        if all(states.get(step) == "completed" for step in enabled_steps):
            return "completed"
        return "partial_completed"

    async def fail_interrupted(self, task_id: str, message: str) -> None:
        """Mark a run that ended without finishing (crash, shutdown, cancel) as failed."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                UPDATE data_pipeline_task_steps
                SET step_status = 'failed', completed_at = LOCALTIMESTAMP, error_message = $2
                WHERE task_id = $1 AND step_status = 'running'
                """,
                task_id,
                message,
            )
            await conn.execute(
                """
                UPDATE data_pipeline_tasks
                SET status = 'failed', error_message = $2, completed_at = LOCALTIMESTAMP,
                    cancel_requested = FALSE, updated_at = LOCALTIMESTAMP
                WHERE task_id = $1
                """,
                task_id,
                message,
            )

    async def recover_interrupted(self) -> list[str]:
        """Fail tasks left ``in_progress`` (or with a running step) whose run lock is free."""
        rows = await self.pool.fetch(
            """
            SELECT DISTINCT t.task_id FROM data_pipeline_tasks t
            LEFT JOIN data_pipeline_task_steps s ON s.task_id = t.task_id
            WHERE t.status = 'in_progress' OR s.step_status = 'running'
            """
        )
        recovered = []
        for row in rows:
            task_id = row["task_id"]
            conn = await self.try_lock(task_id)
            if conn is None:
                continue  # another worker is running it
            try:
                # Re-read under the lock: the run may have finished since the query above.
                if await self._still_in_progress(task_id):
                    await self.fail_interrupted(task_id, INTERRUPTED_TEXT)
                    recovered.append(task_id)
            finally:
                await self.unlock(conn, task_id)
        if recovered:
            log.warning("marked interrupted pipeline tasks as failed: %s", ", ".join(recovered))
        return recovered

    async def _still_in_progress(self, task_id: str) -> bool:
        return bool(
            await self.pool.fetchval(
                """
                SELECT t.status = 'in_progress' OR EXISTS (
                    SELECT 1 FROM data_pipeline_task_steps s
                    WHERE s.task_id = t.task_id AND s.step_status = 'running')
                FROM data_pipeline_tasks t WHERE t.task_id = $1
                """,
                task_id,
            )
        )

    # ---- cancel and delete ---------------------------------------------------------------

    async def request_cancel(self, task_id: str) -> None:
        await self.pool.execute(
            "UPDATE data_pipeline_tasks SET cancel_requested = TRUE, updated_at = LOCALTIMESTAMP "
            "WHERE task_id = $1",
            task_id,
        )

    async def cancel_requested(self, task_id: str) -> bool:
        return bool(
            await self.pool.fetchval(
                "SELECT cancel_requested FROM data_pipeline_tasks WHERE task_id = $1", task_id
            )
        )

    async def delete_records(self, task_id: str) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM data_pipeline_task_steps WHERE task_id = $1", task_id)
            status = await conn.execute(
                "DELETE FROM data_pipeline_tasks WHERE task_id = $1", task_id
            )
        return status != "DELETE 0"

    async def mark_directory_deleted(self, task_id: str) -> None:
        await self.pool.execute(
            "UPDATE data_pipeline_tasks SET directory_exists = FALSE, updated_at = LOCALTIMESTAMP "
            "WHERE task_id = $1",
            task_id,
        )

    async def business_dsn(self, task_id: str) -> str | None:
        return await self.pool.fetchval(
            "SELECT business_dsn FROM data_pipeline_tasks WHERE task_id = $1", task_id
        )
