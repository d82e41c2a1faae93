"""Request models that document the pipeline routes in ``/openapi.json``.

The routes check their bodies by hand (the contract fixes each error's text and order, see
``citu.pipeline.requests``), so these models only describe what a client may send.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from quart_schema.pydantic import File


class CreateTaskIn(BaseModel):
    task_name: str | None = None
    db_name: str | None = None
    db_connection: str | None = None  # a PostgreSQL URL; default: the business database
    business_context: str | None = None
    enable_sql_validation: bool = True
    enable_llm_repair: bool = True
    modify_original_file: bool = True
    enable_training_data_load: bool = True


class ExecuteTaskIn(BaseModel):
    execution_mode: Literal["complete", "step"] = "complete"
    step_name: (
        Literal["ddl_generation", "qa_generation", "sql_validation", "training_load"] | None
    ) = None
    backup_vector_tables: bool = False
    truncate_vector_tables: bool = False
    skip_training: bool = False


class TaskQueryIn(BaseModel):
    page: int = 1
    page_size: int = 20
    status: str | None = None
    task_name: str | None = None
    created_by: str | None = None
    db_name: str | None = None
    created_time_start: str | None = None
    created_time_end: str | None = None
    started_time_start: str | None = None
    started_time_end: str | None = None
    completed_time_start: str | None = None
    completed_time_end: str | None = None
    sort_by: str = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"


class TaskListQuery(BaseModel):
    limit: int = 50
    offset: int = 0
    status: str | None = None


class DeleteTasksIn(BaseModel):
    """Also accepted as query parameters (``task_ids[]`` repeated)."""

    task_ids: list[str] | str
    confirm: bool
    delete_database_records: bool = False
    continue_on_error: bool = True


class LogTailQuery(BaseModel):
    limit: int = 100
    level: str | None = None


class LogQueryIn(BaseModel):
    page: int = 1
    page_size: int = 50
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] | None = None
    start_time: str | None = None
    end_time: str | None = None
    keyword: str | None = None
    logger_name: str | None = None
    step_name: str | None = None
    sort_by: str = "timestamp"
    sort_order: Literal["asc", "desc"] = "desc"


class TableListUpload(BaseModel):
    file: File  # table_list.txt


class TableListIn(BaseModel):
    tables: list[str] | str  # an array, or names separated by commas


class TaskFileUpload(BaseModel):
    file: File
    overwrite_mode: Literal["backup", "replace", "skip"] = "backup"


class DatabaseTablesIn(BaseModel):
    db_connection: str | None = None
    schema_: str | None = Field(default=None, alias="schema")  # comma-separated names
    table_name_pattern: str | None = None


class TableDdlIn(BaseModel):
    table: str
    type: Literal["ddl", "md", "both"] = "ddl"
    business_context: str | None = None
    db_connection: str | None = None


class VectorBackupIn(BaseModel):
    task_id: str | None = None
    backup_vector_tables: bool = True


class BackupListQuery(BaseModel):
    task_id: str | None = None
    global_only: bool = False


class VectorRestoreIn(BaseModel):
    backup_path: str
    timestamp: str
    tables: list[Literal["langchain_pg_collection", "langchain_pg_embedding"]] | None = None
    truncate_before_restore: bool = False
