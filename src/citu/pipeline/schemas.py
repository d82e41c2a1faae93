"""Request models that document the pipeline routes in ``/openapi.json``.

The routes check their bodies by hand (the contract fixes each error's text and order, see
``citu.pipeline.requests``), so these models only describe what a client may send.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from quart_schema.pydantic import File

from citu.apidoc import RequestModel
from citu.pipeline.steps import STEP_NAMES


class CreateTaskIn(RequestModel):
    task_name: str | None = None
    """A label for the task; default: made from the database name."""
    db_name: str | None = None
    """The business database's name, used in file names; default: read from the connection."""
    db_connection: str | None = None
    """A PostgreSQL URL; default: the business database (CITU_PIPELINE_ALLOW_CUSTOM_DB)."""
    business_context: str | None = None
    """What the database is about, for the LLM; default CITU_PIPELINE_BUSINESS_CONTEXT."""
    enable_sql_validation: bool = True
    """Run each generated SQL (EXPLAIN) and drop those that fail."""
    enable_llm_repair: bool = True
    """Let the LLM repair SQL that failed validation."""
    modify_original_file: bool = True
    """Rewrite the question/SQL file without the pairs that still fail (a .backup is kept)."""
    enable_training_data_load: bool = True
    """Load the results into the vector store at the end."""


class ExecuteTaskIn(RequestModel):
    execution_mode: Literal["complete", "step"] = "complete"
    """complete: every step in order; step: only step_name."""
    step_name: Literal[STEP_NAMES] | None = None  # type: ignore[valid-type]
    """The one step to run; required when execution_mode is step."""
    backup_vector_tables: bool = False
    """Back up the vector tables before loading."""
    truncate_vector_tables: bool = False
    """Empty the vector tables before loading (after the backup, if asked)."""
    skip_training: bool = False
    """Stop before the training load."""


class TaskQueryIn(RequestModel):
    page: int = 1
    """Page number, from 1."""
    page_size: int = 20
    """Tasks per page, 1..100."""
    status: str | None = None
    """Only tasks in this state: pending | in_progress | partial_completed | completed | failed | cancelled."""
    task_name: str | None = None
    """Only tasks whose name contains this text."""
    created_by: str | None = None
    """Only tasks created by this client (api, cli …)."""
    db_name: str | None = None
    """Only tasks on this database."""
    created_time_start: str | None = None
    """Created at or after this ISO 8601 time."""
    created_time_end: str | None = None
    """Created at or before this ISO 8601 time."""
    started_time_start: str | None = None
    """Started at or after this ISO 8601 time."""
    started_time_end: str | None = None
    """Started at or before this ISO 8601 time."""
    completed_time_start: str | None = None
    """Completed at or after this ISO 8601 time."""
    completed_time_end: str | None = None
    """Completed at or before this ISO 8601 time."""
    sort_by: str = "created_at"
    """created_at | started_at | completed_at | task_name | status."""
    sort_order: Literal["asc", "desc"] = "desc"
    """asc | desc."""


class TaskListQuery(RequestModel):
    limit: int = 50
    """Tasks per page."""
    offset: int = 0
    """Tasks to skip."""
    status: str | None = None
    """Only tasks in this state."""


class DeleteTasksIn(RequestModel):
    """Also accepted as query parameters (``task_ids[]`` repeated)."""

    task_ids: list[str] | str
    """The tasks to delete: a list, or one id."""
    confirm: bool
    """Must be true."""
    delete_database_records: bool = False
    """Also delete the tasks' rows (steps, logs), not only their directories."""
    continue_on_error: bool = True
    """Go on with the other tasks when one cannot be deleted."""


class LogTailQuery(RequestModel):
    limit: int = 100
    """How many of the newest log lines."""
    level: str | None = None
    """Only lines of this level (INFO, WARNING, ERROR …)."""


class LogQueryIn(RequestModel):
    page: int = 1
    """Page number, from 1."""
    page_size: int = 50
    """Lines per page."""
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] | None = None
    """Only lines of this level."""
    start_time: str | None = None
    """Lines at or after this time (YYYY-MM-DD HH:MM:SS)."""
    end_time: str | None = None
    """Lines at or before this time."""
    keyword: str | None = None
    """Only lines containing this text."""
    logger_name: str | None = None
    """Only lines of this logger."""
    step_name: str | None = None
    """Only lines of this step."""
    sort_by: str = "timestamp"
    """timestamp | level | logger | step | line_number."""
    sort_order: Literal["asc", "desc"] = "desc"
    """asc | desc."""


class TableListUpload(RequestModel):
    file: File
    """table_list.txt: one table name per line (``schema.table`` or ``table``)."""


class TableListIn(RequestModel):
    tables: list[str] | str
    """Table names: an array, or names separated by commas."""


class TaskFileUpload(RequestModel):
    file: File
    """A file to put in the task's directory (e.g. a corrected .ddl or _detail.md)."""
    overwrite_mode: Literal["backup", "replace", "skip"] = "backup"
    """When the file exists: keep a numbered backup, replace it, or skip the upload."""


class DatabaseTablesIn(RequestModel):
    db_connection: str | None = None
    """A PostgreSQL URL; default: the business database."""
    schema_: str | None = Field(default=None, alias="schema")
    """Schemas to list, separated by commas; default: public."""
    table_name_pattern: str | None = None
    """Only tables matching this pattern (``*`` wildcards)."""


class TableDdlIn(RequestModel):
    table: str
    """The table, ``schema.table`` or ``table`` (public)."""
    type: Literal["ddl", "md", "both"] = "ddl"
    """What to return: the DDL, the Markdown documentation, or both."""
    business_context: str | None = None
    """What the database is about, for the LLM's comments."""
    db_connection: str | None = None
    """A PostgreSQL URL; default: the business database."""


class VectorBackupIn(RequestModel):
    task_id: str | None = None
    """Back up into this task's directory; absent: a global backup directory."""
    backup_vector_tables: bool = True
    """Must be true to back up."""


class BackupListQuery(RequestModel):
    task_id: str | None = None
    """Only this task's backups."""
    global_only: bool = False
    """Only global backups (not tied to a task)."""


class VectorRestoreIn(RequestModel):
    backup_path: str
    """A backup directory, as listed by /vector/restore/list."""
    timestamp: str
    """The backup's timestamp (YYYYMMDD_HHMMSS), as listed."""
    tables: list[Literal["langchain_pg_collection", "langchain_pg_embedding"]] | None = None
    """Which tables to restore; default: both."""
    truncate_before_restore: bool = False
    """Empty the tables first."""
