"""The ``data`` of each answer of the data pipeline routes, as ``/openapi.json`` shows it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from citu.apidoc.base import RouteData


class TaskCreatedData(RouteData):
    task_id: str
    task_name: str | None
    status: str
    created_at: str
    file_upload_mode: bool
    next_step: str = Field(description="what to do before executing the task")


class TaskExecutionData(RouteData):
    task_id: str
    execution_mode: str
    step_name: str | None
    message: str


class TaskCancelData(RouteData):
    task_id: str


class StepStatus(BaseModel):
    ddl_generation: str
    qa_generation: str
    sql_validation: str
    training_load: str


class TaskParameters(BaseModel):
    model_config = {"extra": "allow"}

    db_connection: str = Field(description="the connection URL, password hidden")
    table_list_file: str | None = None
    business_context: str | None = None
    file_upload_mode: bool | None = None
    enable_llm_repair: bool | None = None
    modify_original_file: bool | None = None
    enable_sql_validation: bool | None = None
    enable_training_data_load: bool | None = None


class CurrentStep(BaseModel):
    execution_id: str
    step: str
    status: str
    started_at: str


class TaskStep(BaseModel):
    step_name: str
    step_status: str
    started_at: str | None
    completed_at: str | None
    error_message: str | None


class TaskStatusData(RouteData):
    task_id: str
    task_name: str | None
    status: str = Field(description="pending | in_progress | partial_completed | completed …")
    step_status: StepStatus
    created_at: str
    started_at: str | None
    completed_at: str | None
    parameters: TaskParameters
    result: Any = Field(description="the run's result summary, once finished")
    error_message: str | None
    current_step: CurrentStep | None
    total_steps: int
    steps: list[TaskStep]


class TaskSummary(BaseModel):
    task_id: str
    task_name: str | None
    status: str
    step_status: str = Field(description="aggregate of the steps' states")
    created_at: str
    started_at: str | None
    completed_at: str | None
    created_by: str
    db_name: str
    business_context: str | None
    directory_exists: bool
    updated_at: str | None


class TaskListData(RouteData):
    tasks: list[TaskSummary]
    total: int
    limit: int
    offset: int


class PipelinePagination(BaseModel):
    page: int
    page_size: int
    total: int
    total_pages: int
    has_next: bool
    has_prev: bool


class SortApplied(BaseModel):
    sort_by: str
    sort_order: str


class TaskQueryData(RouteData):
    tasks: list[TaskSummary]
    pagination: PipelinePagination
    filters_applied: dict[str, Any] = Field(description="the filters that were given")
    sort_applied: SortApplied
    query_time: str


class DeletedTask(BaseModel):
    model_config = {"extra": "allow"}

    success: bool
    task_id: str
    directory_deleted: bool | None = None
    database_records_deleted: bool | None = None
    deleted_files_count: int | None = None
    deleted_size: str | None = None
    deleted_at: str | None = None
    operation_message: str | None = None
    error: str | None = None


class DeleteSummary(BaseModel):
    total_requested: int
    successfully_deleted: int
    failed: int


class TasksDeletedData(RouteData):
    deleted_tasks: list[DeletedTask]
    failed_tasks: list[DeletedTask]
    summary: DeleteSummary
    deleted_at: str


class TaskLogLine(BaseModel):
    timestamp: str
    level: str
    logger: str
    message: str
    step: str | None = None
    line_number: int | None = None


class TaskLogsData(RouteData):
    task_id: str
    logs: list[TaskLogLine]
    total: int
    source: str
    log_file: str


class LogFileInfo(BaseModel):
    exists: bool
    file_path: str | None = None
    file_size: int | None = None
    file_size_formatted: str | None = None
    last_modified: str | None = None
    total_lines: int | None = Field(None, description="parsed entries, not lines; 0 without a file")
    error: str | None = Field(None, description="why there is nothing to read")


class TaskLogQueryData(RouteData):
    logs: list[TaskLogLine]
    pagination: PipelinePagination
    log_file_info: LogFileInfo
    query_time: str


class TaskFile(BaseModel):
    file_name: str
    file_type: str
    file_size: int
    file_size_formatted: str
    created_at: str
    modified_at: str
    is_readable: bool


class DirectoryInfo(BaseModel):
    exists: bool
    directory_path: str
    total_files: int
    total_size: int
    total_size_formatted: str


class TaskFilesData(RouteData):
    task_id: str
    files: list[TaskFile]
    directory_info: DirectoryInfo


class UploadedFile(BaseModel):
    filename: str
    size: int | None = None
    size_formatted: str | None = None
    uploaded_at: str | None = None
    overwrite_mode: str | None = None
    existed: bool | None = None
    action: str | None = None


class BackupInfo(BaseModel):
    had_existing_file: bool
    backup_filename: str
    backup_version: int
    backup_created_at: str


class TaskFileUploadedData(RouteData):
    success: bool
    task_id: str
    uploaded_file: UploadedFile
    backup_info: BackupInfo | None = Field(None, description="overwrite_mode backup")
    skipped: bool | None = Field(None, description="overwrite_mode skip, file existed")
    message: str | None = None


class TableListUploadedData(RouteData):
    task_id: str
    filename: str
    file_size: int
    file_size_formatted: str
    upload_time: str


class TableListInfoData(RouteData):
    task_id: str
    has_file: bool
    exists: bool
    file_name: str
    expected_path: str | None = None
    file_path: str | None = None
    file_size: int | None = None
    file_size_formatted: str | None = None
    uploaded_at: str | None = None
    created_at: str | None = None
    table_count: int | None = None
    table_names: list[str] | None = None
    is_readable: bool | None = None


class TableListCreatedData(RouteData):
    task_id: str
    filename: str
    table_count: int
    unique_table_count: int
    file_size: int
    file_size_formatted: str
    created_time: str
    original_count: int


class VectorBackupData(RouteData):
    backup_performed: bool
    truncate_performed: bool
    tables_backed_up: dict[str, dict[str, Any]] | None = Field(
        None, description="per table: success, row_count, file_size, backup_file, duration"
    )
    truncate_results: dict[str, dict[str, Any]] | None = None
    errors: list[str] | None = None
    backup_directory: str | None = None
    duration: float | None = Field(None, description="seconds")


class BackupSet(BaseModel):
    model_config = {"extra": "allow"}

    timestamp: str = Field(description="YYYYMMDD_HHMMSS; pass it to /vector/restore")
    collection_file: str
    embedding_file: str
    collection_size: str
    embedding_size: str
    backup_date: str
    has_log: bool
    log_file: str | None


class BackupLocation(BaseModel):
    type: str = Field(description="global | task")
    relative_path: str = Field(description="pass it to /vector/restore as backup_path")
    task_id: str | None = None
    backups: list[BackupSet]


class BackupScanSummary(BaseModel):
    total_locations: int
    total_backup_sets: int
    global_backups: int
    task_backups: int
    scan_time: str


class VectorBackupListData(RouteData):
    backup_locations: list[BackupLocation]
    summary: BackupScanSummary


class RestoredBackup(BaseModel):
    backup_path: str
    timestamp: str
    backup_date: str


class VectorRestoreData(RouteData):
    restore_performed: bool
    truncate_performed: bool
    truncate_results: dict[str, dict[str, Any]]
    restore_results: dict[str, dict[str, Any]] = Field(
        description="per table: success, source_file, rows_restored, duration"
    )
    errors: list[str]
    duration: float
    backup_info: RestoredBackup
