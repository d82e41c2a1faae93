"""Evaluation runs and their per-question results in citu's database, plus the per-run lock.

A run holds a session advisory lock on one pooled connection while it works, so a run left
``running`` by a crashed worker (its lock is free) can be told from one under way on another
worker, and marked ``interrupted``. The partial unique index on ``set_name`` refuses a second
running run of the same set, whichever worker asks.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from citu.db.locks import EVAL_RUN_CLASS, RunLocks

log = logging.getLogger("citu.eval.store")

RUN_STATUSES = ("running", "completed", "failed", "cancelled", "interrupted")
FINAL_STATUSES = ("completed", "failed", "cancelled", "interrupted")
INTERRUPTED_TEXT = "评测中断：执行该评测的服务进程已停止"

_RUN_COLUMNS = """
    run_id, set_name, target, concurrency, status, total, done, summary, error_message,
    cancel_requested, created_by, created_at, finished_at, updated_at, report IS NOT NULL AS has_report
"""


class RunAlreadyActive(Exception):
    """Another run of the same set is under way."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def run_json(row: asyncpg.Record) -> dict[str, Any]:
    """A run as the API shows it: progress, summary and timestamps (never the full report)."""
    total, done = row["total"], row["done"]
    return {
        "run_id": row["run_id"],
        "set_name": row["set_name"],
        "target": row["target"],
        "concurrency": row["concurrency"],
        "status": row["status"],
        "progress": {
            "done": done,
            "total": total,
            "percent": round(100.0 * done / total, 1) if total else 0.0,
        },
        "summary": _json_value(row["summary"]),
        "error_message": row["error_message"],
        "cancel_requested": row["cancel_requested"],
        "created_by": row["created_by"],
        "created_at": _iso(row["created_at"]),
        "finished_at": _iso(row["finished_at"]),
        "updated_at": _iso(row["updated_at"]),
        "has_report": row["has_report"],
    }


def question_results(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-question entries of a runner report (its ``questions`` list)."""
    entries = report.get("questions")
    if entries is None:
        entries = report.get("results", [])
    return [entry for entry in entries if isinstance(entry, dict)]


def _result_row(run_id: str, position: int, entry: dict[str, Any]) -> tuple:
    latency = entry.get("latency_ms")
    return (
        run_id,
        position,
        str(entry.get("id") or entry.get("question_id") or position),
        entry.get("correct") if isinstance(entry.get("correct"), bool) else None,
        str(entry["status"])[:40] if entry.get("status") is not None else None,
        float(latency) if isinstance(latency, int | float) else None,
        json.dumps(entry, ensure_ascii=False, default=str),
    )


def new_run_id() -> str:
    return f"eval_{datetime.now():%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}"


class EvalStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.locks = RunLocks(pool, EVAL_RUN_CLASS, "eval run")

    # ---- create / read -------------------------------------------------------------------

    async def create(
        self,
        *,
        set_name: str,
        target: str,
        concurrency: int,
        total: int,
        created_by: str | None = None,
        run_id: str | None = None,
    ) -> str:
        """Insert a ``running`` run; ``RunAlreadyActive`` when the set has one under way.

        A caller that runs it takes the run's lock first (``run_id`` chosen beforehand), so
        recovery on another worker never sees it running with a free lock.
        """
        run_id = run_id or new_run_id()
        try:
            await self.pool.execute(
                """
                INSERT INTO eval_runs (run_id, set_name, target, concurrency, total, created_by)
                VALUES ($1, $2, $3, $4, $5, $6)
                """,
                run_id,
                set_name,
                target,
                concurrency,
                total,
                created_by,
            )
        except asyncpg.UniqueViolationError:
            raise RunAlreadyActive(set_name) from None
        return run_id

    async def get(self, run_id: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            f"SELECT {_RUN_COLUMNS} FROM eval_runs WHERE run_id = $1", run_id
        )
        return run_json(row) if row is not None else None

    async def list(
        self,
        *,
        limit: int = 20,
        offset: int = 0,
        set_name: str | None = None,
        status: str | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """Newest first; the total before paging."""
        conditions, args = [], []
        for column, value in (("set_name", set_name), ("status", status)):
            if value:
                args.append(value)
                conditions.append(f"{column} = ${len(args)}")
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        total = await self.pool.fetchval(f"SELECT COUNT(*) FROM eval_runs {where}", *args)
        rows = await self.pool.fetch(
            f"SELECT {_RUN_COLUMNS} FROM eval_runs {where} ORDER BY created_at DESC, run_id DESC "
            f"LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
            *args,
            limit,
            offset,
        )
        return int(total), [run_json(row) for row in rows]

    async def report(self, run_id: str) -> dict[str, Any] | None:
        return _json_value(
            await self.pool.fetchval("SELECT report FROM eval_runs WHERE run_id = $1", run_id)
        )

    async def results(self, run_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT result FROM eval_results WHERE run_id = $1 ORDER BY position", run_id
        )
        return [_json_value(row["result"]) for row in rows]

    async def active_run(self, set_name: str) -> str | None:
        return await self.pool.fetchval(
            "SELECT run_id FROM eval_runs WHERE set_name = $1 AND status = 'running'", set_name
        )

    # ---- writes during a run -------------------------------------------------------------

    async def progress(self, run_id: str, done: int, total: int) -> None:
        await self.pool.execute(
            """
            UPDATE eval_runs SET done = $2, total = $3, updated_at = LOCALTIMESTAMP
            WHERE run_id = $1 AND status = 'running'
            """,
            run_id,
            done,
            total,
        )

    async def finish(
        self,
        run_id: str,
        status: str,
        *,
        report: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> bool:
        """Record the end of a running run: its report, summary and per-question results at
        once. False when the run had already ended (its first ending stands)."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"not a final status: {status}")
        entries = question_results(report) if report is not None else []
        async with self.pool.acquire() as conn, conn.transaction():
            ended = await conn.fetchval(
                """
                UPDATE eval_runs
                SET status = $2::varchar, error_message = $3, report = $4::jsonb,
                    summary = $5::jsonb, finished_at = LOCALTIMESTAMP,
                    updated_at = LOCALTIMESTAMP,
                    done = CASE WHEN $2::varchar = 'completed' THEN total ELSE done END
                WHERE run_id = $1 AND status = 'running'
                RETURNING run_id
                """,
                run_id,
                status,
                error,
                _dumps(report),
                _dumps(report.get("summary") if report is not None else None),
            )
            if ended is None:
                return False
            if entries:
                await conn.executemany(
                    """
                    INSERT INTO eval_results
                        (run_id, position, question_id, correct, status, latency_ms, result)
                    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
                    """,
                    [_result_row(run_id, i, entry) for i, entry in enumerate(entries)],
                )
        return True

    # ---- cancel --------------------------------------------------------------------------

    async def request_cancel(self, run_id: str) -> bool:
        """Flag a running run for cancelling; False when it is not running."""
        status = await self.pool.execute(
            """
            UPDATE eval_runs SET cancel_requested = TRUE, updated_at = LOCALTIMESTAMP
            WHERE run_id = $1 AND status = 'running'
            """,
            run_id,
        )
        return status != "UPDATE 0"

    async def cancel_requested(self, run_id: str) -> bool:
        return bool(
            await self.pool.fetchval(
                "SELECT cancel_requested FROM eval_runs WHERE run_id = $1", run_id
            )
        )

    # ---- the run lock and crash recovery -------------------------------------------------

    async def try_lock(self, run_id: str) -> asyncpg.pool.PoolConnectionProxy | None:
        """A pooled connection holding the run's lock, or None when another holds it."""
        return await self.locks.try_lock(run_id)

    async def unlock(self, conn: asyncpg.pool.PoolConnectionProxy, run_id: str) -> None:
        await self.locks.unlock(conn, run_id)

    async def recover_interrupted(self, set_name: str | None = None) -> list[str]:
        """Mark ``interrupted`` the running runs (of ``set_name``, or all) whose lock is free."""
        query = "SELECT run_id FROM eval_runs WHERE status = 'running'"
        args: Sequence[Any] = ()
        if set_name is not None:
            query, args = query + " AND set_name = $1", (set_name,)
        recovered = []
        for row in await self.pool.fetch(query, *args):
            run_id = row["run_id"]
            conn = await self.try_lock(run_id)
            if conn is None:
                continue  # under way on some worker
            try:
                status = await self.pool.execute(
                    """
                    UPDATE eval_runs SET status = 'interrupted', error_message = $2,
                        finished_at = LOCALTIMESTAMP, updated_at = LOCALTIMESTAMP
                    WHERE run_id = $1 AND status = 'running'
                    """,
                    run_id,
                    INTERRUPTED_TEXT,
                )
                if status != "UPDATE 0":
                    recovered.append(run_id)
            finally:
                await self.unlock(conn, run_id)
        if recovered:
            log.warning("marked interrupted eval runs: %s", ", ".join(recovered))
        return recovered


def _dumps(value: Any) -> str | None:
    return json.dumps(value, ensure_ascii=False, default=str) if value is not None else None
