"""The ``data`` of each answer of the feedback routes, as ``/openapi.json`` shows it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from citu.apidoc.base import RouteData


class Pagination(BaseModel):
    page: int
    page_size: int
    total: int
    total_pages: int
    has_next: bool
    has_prev: bool


class FeedbackRecord(BaseModel):
    id: int
    question: str
    sql: str
    is_thumb_up: bool
    user_id: str
    create_time: str
    is_in_training_data: bool
    update_time: str | None


class FeedbackQueryData(RouteData):
    records: list[FeedbackRecord]
    pagination: Pagination


class FeedbackAddedData(RouteData):
    feedback_id: int


class FeedbackDeletedData(RouteData):
    deleted_id: int


class FeedbackUpdatedData(RouteData):
    updated_id: int
    updated_fields: list[str]


class PromotionSummary(BaseModel):
    total_requested: int
    total_processed: int
    positive_trained: int
    negative_trained: int
    already_trained: int
    errors: int


class TrainingDetails(BaseModel):
    sql_training_count: int = Field(description="thumbs-up records stored as sql examples")
    error_sql_training_count: int = Field(description="thumbs-down records stored as error_sql")


class AddToTrainingData(RouteData):
    summary: PromotionSummary
    successfully_trained_ids: list[int]
    training_details: TrainingDetails


class FeedbackStatsData(RouteData):
    total_feedback: int
    positive_feedback: int
    negative_feedback: int
    trained_feedback: int
    untrained_feedback: int
    positive_rate: float = Field(description="percent")
    training_rate: float = Field(description="percent")
