"""The ``data`` of each answer of the cache routes, as ``/openapi.json`` shows it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from citu.apidoc.base import RouteData
from citu.apidoc.conversation import ConversationStats


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
