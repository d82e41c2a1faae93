"""Conversations in Redis DB 1, on ``redis.asyncio``: the ask agents' side of the store.

The key layout (kept from the old service) and the message helpers are in
``conversation_keys``; listings, stats and cleanup for the management routes in
``conversation_admin``; the Lua scripts in ``conversation_scripts``.

Defects of the old manager, fixed: every write refreshes the TTLs of all three keys; trimming a user to
the limit deletes the dropped conversations' keys; every multi-key change runs as one Lua
script, so a concurrent write is never lost; key walks use SCAN.

The ask agents call the methods in "agent-facing operations" below. Those degrade like the old
manager when Redis is unreachable (no context, nothing saved, a fresh unsaved id); everything
else raises ``redis.exceptions.ConnectionError`` so the routes can answer 503.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from citu.conversation_ids import new_conversation_id
from citu.errors import BadRequest
from citu.responses import now_iso
from citu.settings import Settings
from citu.stores import conversation_scripts as lua
from citu.stores.caches import QuestionAnswerCache
from citu.stores.conversation_admin import ConversationAdmin
from citu.stores.conversation_keys import (
    check_user_consistency,
    conversation_title,
    enhance_question,
    extract_user_id,
    format_context,
    is_valid_user_id,
    messages_key,
    meta_key,
    parse_messages,
    user_key,
)

# Re-exported: callers import the helpers from the store's module.
__all__ = [
    "ConversationStore",
    "conversation_title",
    "enhance_question",
    "extract_user_id",
    "is_valid_user_id",
]

log = logging.getLogger("citu.stores.conversations")

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)

STATUS_CONTINUE_GIVEN = {"status": "continue", "message": "继续已有对话"}
STATUS_CONTINUE_RECENT = {"status": "continue", "message": "继续最近对话"}
STATUS_NEW = {"status": "new", "message": "创建新对话"}
MESSAGE_INVALID_ID = "您请求的对话不存在或无权访问，已为您创建新对话"


class ConversationStore(ConversationAdmin):
    """Conversation lists, metadata, messages and the QA cache of one Redis database."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        super().__init__(redis, settings)
        self.qa_cache = QuestionAnswerCache(redis, settings)
        self._create = redis.register_script(lua.CREATE)
        self._save_message = redis.register_script(lua.SAVE_MESSAGE)

    # --- agent-facing operations --------------------------------------------------------------

    def resolve_user_id(
        self,
        user_id: str | None = None,
        conversation_id: str | None = None,
        login_user_id: str | None = None,
    ) -> str:
        """The effective user of an ask request.

        Order: login user > request ``user_id`` > the user part of ``conversation_id`` >
        ``DEFAULT_ANONYMOUS_USER`` (``guest``). Raises ``BadRequest`` (400, ``invalid_params``)
        when ``user_id`` and the conversation's user disagree, or when the user id is not
        1..50 characters without ``:``, whitespace or glob characters.
        """
        check_user_consistency(conversation_id, user_id)
        resolved = login_user_id or user_id
        if not resolved and conversation_id:
            resolved = extract_user_id(conversation_id)
        resolved = resolved or self.settings.default_anonymous_user
        if not is_valid_user_id(resolved):
            raise BadRequest(
                f"无效的用户ID: '{resolved}'，用户ID长度为1-50个字符，且不能包含冒号、空白或通配符",
                invalid_params=["user_id"],
            )
        return resolved

    async def resolve_conversation_id(
        self,
        user_id: str,
        conversation_id: str | None = None,
        continue_conversation: bool = False,
    ) -> tuple[str, dict[str, str]]:
        """``(conversation_id, status_info)`` for an ask request.

        * a given id whose meta exists and belongs to ``user_id`` →
          ``{"status": "continue", "message": "继续已有对话"}``;
        * a given id that does not → a new conversation with
          ``{"status": "invalid_id_new", "message": …, "requested_id": <given id>}``;
        * no id and ``continue_conversation`` → the user's most recent conversation,
          ``{"status": "continue", "message": "继续最近对话"}`` (only if its meta still exists);
        * otherwise a new conversation, ``{"status": "new", "message": "创建新对话"}``.
        With Redis down every request gets a new (unsaved) id, as in the old service.
        """
        try:
            if conversation_id:
                meta = await self.redis.hgetall(meta_key(conversation_id))
                if meta and meta.get("user_id") == user_id:
                    return conversation_id, dict(STATUS_CONTINUE_GIVEN)
                new_id = await self.create_conversation(user_id)
                status = {
                    "status": "invalid_id_new",
                    "message": MESSAGE_INVALID_ID,
                    "requested_id": conversation_id,
                }
                return new_id, status
            if continue_conversation:
                recent = await self.redis.lrange(user_key(user_id), 0, 0)
                if recent and await self.redis.exists(meta_key(recent[0])):
                    return recent[0], dict(STATUS_CONTINUE_RECENT)
        except REDIS_DOWN as error:
            log.warning("Redis unavailable while resolving a conversation: %s", error)
            if conversation_id:
                status = {
                    "status": "invalid_id_new",
                    "message": MESSAGE_INVALID_ID,
                    "requested_id": conversation_id,
                }
                return new_conversation_id(user_id, datetime.now()), status
        return await self.create_conversation(user_id), dict(STATUS_NEW)

    async def create_conversation(self, user_id: str) -> str:
        """Create ``{user_id}:{YYYYMMDDHHMMSSmmm}`` (meta + head of the user's list).

        The user's list is trimmed to ``USER_MAX_CONVERSATIONS`` and the dropped conversations'
        keys are deleted in the same atomic step. Two creations in the same millisecond get
        consecutive millisecond values instead of sharing an id. With Redis down the id is
        returned unsaved.
        """
        moment = datetime.now()
        settings = self.settings
        try:
            while True:
                conversation_id = new_conversation_id(user_id, moment)
                dropped = await self._create(
                    keys=[meta_key(conversation_id), user_key(user_id)],
                    args=[
                        conversation_id,
                        user_id,
                        now_iso(),
                        settings.conversation_ttl,
                        settings.user_conversations_ttl,
                        settings.user_max_conversations,
                    ],
                )
                if dropped >= 0:
                    break
                moment += timedelta(milliseconds=1)
        except REDIS_DOWN as error:
            log.warning("Redis unavailable, conversation not stored: %s", error)
            return new_conversation_id(user_id, moment)
        if dropped:
            log.info("user %s over the limit: %d old conversations deleted", user_id, dropped)
        return conversation_id

    async def save_message(
        self,
        conversation_id: str,
        role: str,
        content: str,
        metadata: dict[str, Any] | None = None,
    ) -> bool:
        """Append a message (``role`` ``user`` or ``assistant``) to an existing conversation.

        Atomically: push, trim to ``CONVERSATION_MAX_LENGTH``, set meta ``updated_at`` and
        ``message_count``, refresh the TTLs of messages, meta and the user's list. Returns
        False (and stores nothing) when the conversation does not exist or Redis is down.
        Metadata written by the ask agent: ``{}`` for user messages, ``{type, sql,
        execution_path}`` for answers (stream adds ``classification_info``), ``{from_cache:
        true}`` for answers served from the QA cache.
        """
        if not conversation_id:
            return False
        message = {
            "message_id": str(uuid.uuid4()),
            "timestamp": now_iso(),
            "role": role,
            "content": content,
            "metadata": metadata or {},
        }
        settings = self.settings
        try:
            count = await self._save_message(
                keys=[
                    messages_key(conversation_id),
                    meta_key(conversation_id),
                    user_key(extract_user_id(conversation_id)),
                ],
                args=[
                    json.dumps(message, ensure_ascii=False, default=str),
                    settings.conversation_max_length,
                    message["timestamp"],
                    settings.conversation_ttl,
                    settings.user_conversations_ttl,
                ],
            )
        except REDIS_DOWN as error:
            log.warning("Redis unavailable, message of %s not saved: %s", conversation_id, error)
            return False
        if count < 0:
            log.warning("message not saved: conversation %s does not exist", conversation_id)
            return False
        return True

    async def get_context(self, conversation_id: str, count: int | None = None) -> str:
        """The agent's context: the newest ``2*count`` messages, oldest first, one line each.

        Lines are ``User: <content>`` / ``Assistant: <content>`` joined by ``\\n``; ``count``
        (exchanges) defaults to ``CONVERSATION_CONTEXT_COUNT`` (2). Empty when
        ``ENABLE_CONVERSATION_CONTEXT`` is off, there are no messages, or Redis is down. Pass the
        result to ``enhance_question(question, context)``.
        """
        if not self.settings.enable_conversation_context or not conversation_id:
            return ""
        try:
            return await self.get_context_for_display(conversation_id, count)
        except REDIS_DOWN as error:
            log.warning("Redis unavailable, no context for %s: %s", conversation_id, error)
            return ""

    async def get_context_for_display(self, conversation_id: str, count: int | None = None) -> str:
        """``get_context`` regardless of the enable switch; raises when Redis is down."""
        if count is None:
            count = self.settings.conversation_context_count
        raw = await self.redis.lrange(messages_key(conversation_id), 0, count * 2 - 1)
        return format_context(parse_messages(raw))

    async def get_context_type(self, conversation_id: str) -> str | None:
        """``metadata.type`` of the newest answer among the last 10 messages, e.g. ``DATABASE``."""
        try:
            raw = await self.redis.lrange(messages_key(conversation_id), 0, 9)
        except REDIS_DOWN:
            return None
        for message in reversed(parse_messages(raw)):
            metadata = message.get("metadata")
            if message.get("role") == "assistant" and isinstance(metadata, dict):
                if metadata.get("type"):
                    return metadata["type"]
        return None

    async def get_conversation_meta(self, conversation_id: str) -> dict[str, str]:
        """The meta hash (all values strings), or ``{}`` when unknown or Redis is down."""
        try:
            return await self.redis.hgetall(meta_key(conversation_id))
        except REDIS_DOWN:
            return {}

    async def get_cached_answer(self, question: str, context: str = "") -> dict[str, Any] | None:
        """The cached agent ``final_response`` for this question in this context, or None.

        None as well when ``ENABLE_QUESTION_ANSWER_CACHE`` is off (the default) or Redis is
        down. The entry also carries ``cached_at`` and ``original_question``.
        """
        try:
            return await self.qa_cache.get(question, context)
        except REDIS_DOWN:
            return None

    async def cache_answer(self, question: str, result: dict[str, Any], context: str = "") -> bool:
        """Cache a successful agent ``final_response`` under (question, context) for 24 h.

        Ignored when the cache is off, the result is not ``success``, it is not JSON
        serialisable, or Redis is down. Returns whether it was stored.
        """
        try:
            return await self.qa_cache.put(question, result, context)
        except REDIS_DOWN:
            return False
