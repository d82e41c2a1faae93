"""The ``data`` of each answer of the ReAct agent routes, as ``/openapi.json`` shows it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, RootModel

from citu.apidoc.agents import CHART
from citu.apidoc.base import RouteData, error_envelope


class ReactRecords(BaseModel):
    columns: list[str]
    rows: list[dict[str, Any]]
    total_row_count: int
    is_limited: bool


class ReactMeta(BaseModel):
    thread_id: str
    conversation_rounds: int
    tools_used: list[str]
    execution_path: list[str]
    total_messages: int
    sql_execution_count: int
    context_injected: bool
    agent_version: str


class ReactAnswerData(RouteData):
    sql: str | None = Field(None, description="the last SQL run, if any")
    records: ReactRecords | None = Field(None, description="its rows")
    chart: dict[str, Any] | None = Field(None, description=CHART)
    react_agent_meta: ReactMeta
    conversation_id: str = Field(description="the thread id; send it back to continue")
    user_id: str


class ReactFailureData(BaseModel):
    conversation_id: str
    user_id: str
    timestamp: str


class ReactFailure(BaseModel):
    """The ReAct routes' own error shape: ``error`` names the reason."""

    code: int
    message: str
    success: bool
    error: str
    retry_suggested: bool | None = Field(None, description="whether asking again may work")
    details: str | None = Field(None, description="where a body was not valid JSON")
    data: ReactFailureData | None = Field(None, description="present once a thread was chosen")


class ReactStatusData(BaseModel):
    status: str
    name: str
    icon: str
    timestamp: str


class ReactUserConversation(BaseModel):
    conversation_id: str
    thread_id: str
    user_id: str
    message_count: int
    last_message: str | None
    updated_at: str | None
    conversation_title: str
    created_at: str


class ReactUserConversationsData(RouteData):
    user_id: str
    limit: int
    total_count: int
    conversations: list[ReactUserConversation]


class HistoryMessage(BaseModel):
    message_id: str
    role: str
    content: str
    timestamp: str


class ReactHistoryData(RouteData):
    user_id: str
    thread_id: str
    conversation_id: str
    message_count: int
    messages: list[HistoryMessage]
    created_at: str
    total_checkpoints: int


class DirectConversation(BaseModel):
    conversation_id: str
    user_id: str
    message_count: int
    conversation_title: str
    created_at: str
    updated_at: str


class DirectUserConversationsData(RouteData):
    user_id: str
    conversations: list[DirectConversation]
    total_count: int
    limit: int


class ToolCall(BaseModel):
    name: str
    args: dict[str, Any]
    id: str
    type: str


class DetailMessage(BaseModel):
    role: str = Field(description="human | ai | tool | system")
    content: str
    message_id: str
    timestamp: str
    tool_calls: list[ToolCall] | None = None
    has_tool_calls: bool | None = None
    additional_kwargs: dict[str, Any] | None = None
    response_metadata: dict[str, Any] | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    status: str | None = None
    simplified: bool | None = Field(None, description="tool traffic removed from this message")


class MessageStats(BaseModel):
    total_messages: int
    human_messages: int
    ai_messages: int
    conversation_rounds: int
    include_tools_mode: bool
    tool_messages: int | None = None
    system_messages: int | None = None
    messages_with_tools: int | None = None
    unique_tools_used: list[str] | None = None


class CheckpointMetadata(BaseModel):
    latest_checkpoint_key: str
    total_raw_messages: int
    filtered_message_count: int
    filter_mode: str


class ApiMetadata(BaseModel):
    model_config = {"extra": "allow"}

    timestamp: str
    api_version: str
    endpoint: str
    query_params: dict[str, Any] | None = None


class ReactDetailData(RouteData):
    thread_id: str
    conversation_id: str
    created_at: str
    user_id: str
    include_tools: bool
    message_count: int
    messages: list[DetailMessage]
    stats: MessageStats
    metadata: CheckpointMetadata
    api_metadata: ApiMetadata


class CompareMode(BaseModel):
    message_count: int
    stats: MessageStats
    sample_messages: list[DetailMessage]


class CompareSummary(BaseModel):
    message_count_difference: int
    tools_filtered_out: int
    ai_messages_with_tools: int
    filtering_effectiveness: str


class CompareMetadata(BaseModel):
    timestamp: str
    note: str


class CompareData(BaseModel):
    thread_id: str
    full_mode: CompareMode
    simple_mode: CompareMode
    comparison_summary: CompareSummary
    metadata: CompareMetadata


class CompareOut(BaseModel):
    """Its own shape (no envelope)."""

    success: bool
    data: CompareData
    timestamp: str


class PlainShapeFailure(BaseModel):
    """The plain shape's failure: ``success`` false and the reason in ``error``."""

    model_config = {"extra": "allow"}

    success: bool
    error: str
    timestamp: str


class ReactSummaryData(RouteData):
    thread_id: str
    user_id: str
    include_tools: bool
    message_count: int
    stats: MessageStats
    metadata: CheckpointMetadata
    first_message_preview: str | None
    last_message_preview: str | None
    conversation_preview: str | None
    api_metadata: ApiMetadata


class ThreadCleanup(BaseModel):
    original_count: int
    deleted_count: int
    remaining_count: int
    status: str
    deleted_blobs: int
    deleted_writes: int


class CheckpointCleanupData(RouteData):
    operation_type: str
    target: str
    keep_count: int
    dry_run: bool
    total_processed: int
    total_deleted: int
    details: dict[str, ThreadCleanup] = Field(description="by thread id")


class ThreadCheckpoints(BaseModel):
    thread_id: str
    checkpoint_count: int


class UserCheckpoints(BaseModel):
    user_id: str
    thread_count: int
    total_checkpoints: int
    threads: list[ThreadCheckpoints]


class CheckpointStatsData(RouteData):
    """All users (``users``) or one user (``user_id``, ``threads``)."""

    operation_type: str
    total_checkpoints: int
    total_users: int | None = None
    total_threads: int | None = None
    users: list[UserCheckpoints] | None = None
    user_id: str | None = None
    thread_count: int | None = None
    threads: list[ThreadCheckpoints] | None = None


class PlainFailure(BaseModel):
    """Failed; the reason is in ``message`` and ``data`` is null."""

    code: int
    success: bool
    message: str
    data: None = None


class DetailBadRequest(RootModel[PlainShapeFailure | error_envelope(400)]):  # type: ignore[misc]
    """A malformed thread id: the plain shape; a missing parameter: the envelope."""
