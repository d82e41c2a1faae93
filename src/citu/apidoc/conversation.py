"""The ``data`` of each answer of the conversation and cache routes, as ``/openapi.json``
shows it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from citu.apidoc.base import RouteData

# ---- conversations ------------------------------------------------------------------------


class ConversationMeta(BaseModel):
    """As stored in Redis: every value is text."""

    conversation_id: str | None = None
    user_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    message_count: str | None = None


class MessageMetadata(BaseModel):
    model_config = {"extra": "allow"}

    type: str | None = Field(None, description="the answer's type (DATABASE, CHAT …)")
    sql: str | None = Field(None, description="the SQL the answer ran")


class Message(BaseModel):
    message_id: str
    timestamp: str
    role: str = Field(description="user | assistant")
    content: str
    metadata: MessageMetadata


class ConversationSummary(BaseModel):
    conversation_id: str
    user_id: str
    created_at: str | None = None
    updated_at: str | None = None
    message_count: str
    conversation_title: str = Field(description="the first retained question")


class UserConversationsData(RouteData):
    user_id: str
    conversations: list[ConversationSummary]
    total_count: int


class FullConversation(BaseModel):
    conversation_id: str
    user_id: str
    created_at: str
    updated_at: str
    message_count: int
    meta: ConversationMeta
    messages: list[Message]


class UserConversationsFullData(RouteData):
    user_id: str
    conversations: list[FullConversation]
    total_conversations: int
    total_messages: int
    conversation_limit_applied: int | None
    message_limit_applied: int | None
    query_time: str


class ConversationMessagesData(RouteData):
    conversation_id: str
    conversation_meta: ConversationMeta
    messages: list[Message]
    message_count: int


class ConversationContextData(RouteData):
    conversation_id: str
    context: str = Field(description="``User:`` / ``Assistant:`` lines, as the agent sees them")
    context_message_count: int


class RedisInfo(BaseModel):
    memory_usage_mb: float
    connected_clients: int


class ConversationStats(BaseModel):
    available: bool
    total_users: int
    total_conversations: int
    cached_qa_count: int
    redis_info: RedisInfo


class ConversationStatsData(RouteData, ConversationStats):
    pass


class CleanupConversationsData(RouteData):
    """Keys depend on the mode (``operation_mode``)."""

    operation_mode: str
    conversation_id: str | None = None
    user_id: str | None = None
    existed: bool | None = None
    deleted_messages: int | None = None
    deleted_conversations: int | None = None
    deleted_conversation_metas: int | None = None
    deleted_conversation_messages: int | None = None
    deleted_user_conversations: int | None = None
    total_keys_deleted: int | None = None
    processed_users: int | None = None
    cleaned_references: int | None = None
    execution_time_ms: int | None = None


class LimitParameters(BaseModel):
    user_max_conversations: int
    conversation_max_length: int


class LimitUserResult(BaseModel):
    user_id: str
    original_conversations: int
    kept_conversations: int
    deleted_conversations: int
    messages_trimmed: int


class EnforceLimitsData(RouteData):
    mode: str = Field(description="one user or all users")
    dry_run: bool
    parameters: LimitParameters
    processed_users: int
    total_conversations_processed: int
    total_conversations_deleted: int
    total_messages_trimmed: int
    execution_summary: list[LimitUserResult]
    execution_time_ms: int


# ---- caches -------------------------------------------------------------------------------


class EmbeddingCacheStats(BaseModel):
    enabled: bool
    available: bool
    total_count: int
    memory_usage_mb: float


class EmbeddingCacheStatsData(RouteData, EmbeddingCacheStats):
    pass


class CacheClearedData(RouteData):
    cleared: bool


class QaCacheStats(BaseModel):
    available: bool
    enabled: bool
    total_count: int
    memory_usage_mb: float
    ttl_seconds: int
    ttl_hours: float


class QaCacheStatsData(RouteData, QaCacheStats):
    pass


class QaCacheEntry(BaseModel):
    cache_key: str
    question: str
    cached_at: str
    ttl_seconds: int
    response_type: str
    has_sql: bool
    has_summary: bool


class QaCacheListData(RouteData):
    cache_list: list[QaCacheEntry]
    total_returned: int
    limit_applied: int
    note: str


class QaCacheCleanupData(RouteData):
    deleted_count: int
    cleared: bool
    cleanup_time: str


class OverviewSummary(BaseModel):
    total_conversations: int
    total_sessions: int
    query_time: str


class RecentConversation(BaseModel):
    conversation_id: str
    conversation_start_time: str
    session_id: str | None
    has_question: bool
    has_sql: bool
    has_data: bool
    question_preview: str
    conversation_duration_seconds: float


class CacheOverviewData(RouteData):
    overview_summary: OverviewSummary
    recent_conversations: list[RecentConversation]
    session_summary: list[dict[str, Any]]


class ConversationAwareCache(BaseModel):
    enabled: bool
    total_items: int
    sessions: list[str]
    cache_type: str


class CacheOverviewFullData(RouteData):
    conversation_aware_cache: ConversationAwareCache
    question_answer_cache: QaCacheStats
    embedding_cache: EmbeddingCacheStats
    redis_conversation_stats: ConversationStats


class AgeBuckets(BaseModel):
    last_1_hour: int
    last_6_hours: int
    last_24_hours: int
    last_7_days: int
    older: int


class CacheBasicStats(BaseModel):
    total_sessions: int
    total_conversations: int
    active_sessions: int
    average_conversations_per_session: float


class CacheTimeDistribution(BaseModel):
    sessions: AgeBuckets
    conversations: AgeBuckets


class CacheTimeRanges(BaseModel):
    oldest_session: str | None
    newest_session: str | None
    oldest_conversation: str | None
    newest_conversation: str | None


class CacheStatsData(RouteData):
    basic_stats: CacheBasicStats
    time_distribution: CacheTimeDistribution
    session_details: list[dict[str, Any]]
    time_ranges: CacheTimeRanges


class ExportMetadata(BaseModel):
    export_time: str
    total_conversations: int
    total_sessions: int
    cache_type: str
    cache_object_info: str
    has_session_times: bool
    has_conversation_times: bool


class ExportedConversation(BaseModel):
    conversation_id: str
    conversation_start_time: str | None
    session_id: str | None
    session_start_time: str | None
    field_count: int
    fields: dict[str, dict[str, Any]] = Field(
        description="per cached field: field_name, data_type, is_none and its content"
    )
    conversation_duration_seconds: float | None = None
    conversation_duration_formatted: str | None = None


class CacheStatistics(BaseModel):
    field_frequency: dict[str, int]
    data_types_found: list[str]
    total_dataframes: int
    total_questions: int
    has_session_timing: bool
    has_conversation_timing: bool


class CacheExportData(RouteData):
    export_metadata: ExportMetadata
    session_info: dict[str, Any]
    conversation_times: dict[str, str]
    conversation_to_session_mapping: dict[str, Any]
    conversations: dict[str, ExportedConversation] = Field(description="by conversation id")
    cache_statistics: CacheStatistics


class RemovedConversation(BaseModel):
    conversation_id: str
    question: str
    start_time: str


class WillBeRemoved(BaseModel):
    sessions: list[Any]
    conversations: list[RemovedConversation]


class WillBeKept(BaseModel):
    sessions_count: int
    conversations_count: int


class PreviewSummary(BaseModel):
    sessions_to_remove: int
    conversations_to_remove: int
    sessions_to_keep: int
    conversations_to_keep: int


class CachePreviewCleanupData(RouteData):
    time_condition: str
    cutoff_time: str
    will_be_removed: WillBeRemoved
    will_be_kept: WillBeKept
    summary: PreviewSummary


class CacheCleanupData(RouteData):
    time_condition: str
    cutoff_time: str
    sessions_removed: int
    conversations_removed: int
    sessions_kept: int
    conversations_kept: int
    removed_session_ids: list[Any]
    removed_conversation_ids: list[str]
