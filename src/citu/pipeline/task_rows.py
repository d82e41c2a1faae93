"""Reading task rows: the list item shape, the list query's filters, sorting and SQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from citu.redaction import mask_dsn

_AGGREGATE_STEP_STATUS = """
    CASE WHEN COUNT(s.id) = 0 THEN NULL
         WHEN bool_or(s.step_status = 'failed') THEN 'failed'
         WHEN bool_or(s.step_status = 'running') THEN 'running'
         WHEN bool_and(s.step_status = 'completed') THEN 'all_completed'
         WHEN bool_or(s.step_status = 'completed') THEN 'partial_completed'
         ELSE 'pending' END
"""

LIST_SELECT = f"""
SELECT t.task_id, t.task_name, t.status, t.parameters, t.created_at, t.started_at,
       t.completed_at, t.by_user, t.db_name, COALESCE(t.directory_exists, TRUE) AS directory_exists,
       t.updated_at, {_AGGREGATE_STEP_STATUS} AS step_status
FROM data_pipeline_tasks t
LEFT JOIN data_pipeline_task_steps s ON s.task_id = t.task_id
"""

SORT_FIELDS = ("created_at", "started_at", "completed_at", "task_name", "status")
TIME_FILTERS = (
    ("created_time_start", "created_at", ">="),
    ("created_time_end", "created_at", "<="),
    ("started_time_start", "started_at", ">="),
    ("started_time_end", "started_at", "<="),
    ("completed_time_start", "completed_at", ">="),
    ("completed_time_end", "completed_at", "<="),
)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def parameters_dict(value: Any) -> dict[str, Any]:
    parameters = json.loads(value) if isinstance(value, str) else dict(value or {})
    # Rows written before query-string passwords were masked may still hold one.
    if isinstance(parameters.get("db_connection"), str):
        parameters["db_connection"] = mask_dsn(parameters["db_connection"])
    return parameters


def list_item(row: asyncpg.Record) -> dict[str, Any]:
    """One task as ``GET …/tasks`` and ``POST …/tasks/query`` list it."""
    return {
        "task_id": row["task_id"],
        "task_name": row["task_name"],
        "status": row["status"],
        "step_status": row["step_status"],
        "created_at": iso(row["created_at"]),
        "started_at": iso(row["started_at"]),
        "completed_at": iso(row["completed_at"]),
        "created_by": row["by_user"],
        "db_name": row["db_name"],
        "business_context": parameters_dict(row["parameters"]).get("business_context"),
        "directory_exists": row["directory_exists"],
        "updated_at": iso(row["updated_at"]),
    }


@dataclass
class TaskQuery:
    page: int = 1
    page_size: int = 20
    filters: dict[str, str] | None = None  # status, task_name, created_by, db_name, time keys
    sort_by: str = "created_at"
    sort_order: str = "desc"


def filter_conditions(filters: dict[str, str]) -> tuple[list[str], list[Any]]:
    """WHERE conditions (on alias ``t``) and their arguments for the equality and name filters."""
    conditions: list[str] = []
    args: list[Any] = []
    for key, column in (
        ("status", "status"),
        ("created_by", "by_user"),
        ("db_name", "db_name"),
    ):
        if filters.get(key):
            args.append(filters[key])
            conditions.append(f"t.{column} = ${len(args)}")
    if filters.get("task_name"):
        escaped = filters["task_name"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args.append(f"%{escaped}%")
        conditions.append(f"t.task_name ILIKE ${len(args)}")
    return conditions, args
