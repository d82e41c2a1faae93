"""The ``data`` of each answer of the training-data routes, as ``/openapi.json`` shows it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from citu.apidoc.base import RouteData


class TrainingStatsData(RouteData):
    total_count: int
    type_breakdown: dict[str, int] = Field(description="items per type")
    type_percentages: dict[str, float] = Field(description="percent per type")
    last_updated: str


class TrainingRecord(BaseModel):
    id: str
    question: str | None
    content: str = Field(description="the SQL, documentation or DDL text")
    training_data_type: str = Field(description="sql | error_sql | documentation | ddl")


class TrainingPagination(BaseModel):
    page: int
    page_size: int
    total: int
    total_pages: int
    has_next: bool
    has_prev: bool


class TrainingFilters(BaseModel):
    training_data_type: str | None
    search_keyword: str | None


class TrainingQueryData(RouteData):
    records: list[TrainingRecord]
    pagination: TrainingPagination
    filters_applied: TrainingFilters


class ItemResult(BaseModel):
    """What one submitted item became."""

    index: int
    success: bool
    type: str
    message: str
    training_id: str | None = Field(None, description="present when stored")
    duplicate: bool | None = Field(None, description="already stored: nothing new was added")
    generated_question: str | None = Field(None, description="the question the LLM wrote")
    error: str | None = Field(None, description="why the item was refused")


class TrainingCreateData(RouteData):
    total_requested: int
    successfully_created: int
    failed_count: int
    newly_stored: int
    duplicates: int
    results: list[ItemResult]
    summary: dict[str, int] = Field(description="stored items per type")
    current_total_count: int


class TrainingDeleteFailure(BaseModel):
    id: Any
    error: str


class TrainingDeleteData(RouteData):
    total_requested: int
    successfully_deleted: int
    failed_count: int
    deleted_ids: list[Any]
    failed_ids: list[Any]
    failed_details: list[TrainingDeleteFailure]
    current_total_count: int


class TrainingUpdateData(RouteData):
    original_id: str
    new_training_id: str
    type: str
    duplicate: bool
    current_total_count: int
    question: str | None = None


class TrainingUploadData(RouteData):
    filename: str
    file_type: str
    file_size: int = Field(description="bytes")
    status: str = Field(description="completed | partially_completed | failed")
    total_items: int
    stored_count: int
    duplicate_count: int
    failed_count: int
    results: list[ItemResult]


class CollectionStats(BaseModel):
    model_config = {"extra": "allow"}

    before: int
    after: int
    duplicates_to_remove: int | None = Field(None, description="dry run")
    duplicates_removed: int | None = Field(None, description="real run")


class CombineSummary(BaseModel):
    total_records_before: int
    total_records_after: int
    collections_stats: dict[str, CollectionStats]


class DuplicateGroup(BaseModel):
    model_config = {"extra": "allow"}

    collection_name: str
    document_content: str = Field(description="the repeated document, cut at 100 characters")
    duplicate_count: int
    records_to_keep: Any = Field(None, description="dry run: the id kept")
    records_to_remove: list[Any] | None = Field(None, description="dry run: ids to delete")
    kept_record_id: Any = Field(None, description="real run: the id kept")
    removed_record_ids: list[Any] | None = Field(None, description="real run: ids deleted")


class TrainingCombineData(RouteData):
    dry_run: bool
    collections_processed: list[str]
    summary: CombineSummary
    duplicate_groups: list[DuplicateGroup] | None = Field(None, description="dry run")
    merged_groups: list[DuplicateGroup] | None = Field(None, description="real run")


class QuestionSqlTrainedData(RouteData):
    training_id: str
    question: str | None = Field(description="as stored (written by the LLM when absent)")
    duplicate: bool
    message: str


class ErrorSqlStoredData(RouteData):
    id: str
    duplicate: bool
    message: str
