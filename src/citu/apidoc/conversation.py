"""The ``data`` of each answer of the conversation routes, as ``/openapi.json`` shows it."""

from __future__ import annotations

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
