"""Conversations in Redis DB 1, on ``redis.asyncio``.

Key layout kept from the old service, so an existing deployment's data stays readable:

* ``user:{user_id}:conversations`` - LIST of conversation ids, newest first;
* ``conversation:{id}:meta`` - HASH ``conversation_id, user_id, created_at, updated_at,
  message_count`` (all strings);
* ``conversation:{id}:messages`` - LIST of JSON messages, newest first.

Fixed defects of the old manager: every write refreshes the TTLs of all three keys; trimming a user to
the limit deletes the dropped conversations' keys; every multi-key change runs as one Lua
script, so a concurrent write is never lost; key walks use SCAN.

The ask agents call the methods in "agent-facing operations" below. Those degrade like the old
manager when Redis is unreachable (no context, nothing saved, a fresh unsaved id); everything
else raises ``redis.exceptions.ConnectionError`` so the routes can answer 503.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from citu.errors import BadRequest
from citu.responses import now_iso
from citu.settings import Settings
from citu.stores import conversation_scripts as lua
from citu.stores.caches import (
    QA_PREFIX,
    SCAN_COUNT,
    QuestionAnswerCache,
    delete_keys,
    scan_keys,
)

log = logging.getLogger("citu.stores.conversations")

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
USER_LIST_PATTERN = "user:*:conversations"
# Glob characters are escaped wherever a user id goes into a SCAN pattern; ``:`` is refused
# because ids are split on the first colon (``user:timestamp``).
_INVALID_USER_ID = re.compile(r"[:\s*?\[\]\\]")
USER_ID_MAX_LENGTH = 50

STATUS_CONTINUE_GIVEN = {"status": "continue", "message": "继续已有对话"}
STATUS_CONTINUE_RECENT = {"status": "continue", "message": "继续最近对话"}
STATUS_NEW = {"status": "new", "message": "创建新对话"}
MESSAGE_INVALID_ID = "您请求的对话不存在或无权访问，已为您创建新对话"


def user_key(user_id: str) -> str:
    return f"user:{user_id}:conversations"


def meta_key(conversation_id: str) -> str:
    return f"conversation:{conversation_id}:meta"


def messages_key(conversation_id: str) -> str:
    return f"conversation:{conversation_id}:messages"


def extract_user_id(conversation_id: str) -> str:
    """The user part of ``{user_id}:{17 digits}``: text before the first ``:``, or ``unknown``."""
    if not conversation_id or ":" not in conversation_id:
        return "unknown"
    return conversation_id.split(":", 1)[0]


def is_valid_user_id(user_id: str) -> bool:
    """1..50 characters, no ``:``, whitespace or glob characters."""
    return 0 < len(user_id) <= USER_ID_MAX_LENGTH and not _INVALID_USER_ID.search(user_id)


def check_user_consistency(conversation_id: str | None, user_id: str | None) -> None:
    """Raise the 400 the old service meant to give (it answered 500) when ``conversation_id``
    belongs to another user."""
    if not conversation_id or not user_id:
        return
    owner = extract_user_id(conversation_id)
    if owner != user_id:
        raise BadRequest(
            f"用户ID不匹配：conversation_id中的用户ID '{owner}' 与提供的用户ID '{user_id}' 不一致",
            invalid_params=["user_id", "conversation_id"],
        )


def enhance_question(question: str, context: str) -> str:
    """The question the agent sees: ``[CONTEXT]``/``[CURRENT]`` framing when there is context."""
    if not context:
        return question
    return f"\n[CONTEXT]\n{context}\n\n[CURRENT]\n{question}"


def format_context(messages: list[dict[str, Any]]) -> str:
    """``User: …`` / ``Assistant: …`` lines of chronological messages; other roles skipped."""
    labels = {"user": "User", "assistant": "Assistant"}
    return "\n".join(
        f"{labels[m['role']]}: {m.get('content', '')}" for m in messages if m.get("role") in labels
    )


def parse_messages(raw: list[str]) -> list[dict[str, Any]]:
    """Stored messages (newest first) → dicts in chronological order; bad entries skipped."""
    messages = []
    for item in reversed(raw):
        try:
            message = json.loads(item)
        except ValueError:
            continue
        if isinstance(message, dict):
            messages.append(message)
    return messages


def conversation_title(messages: list[dict[str, Any]]) -> str:
    """The conversation list's title: the first retained user message, cut to 50 characters."""
    if not messages:
        return "空对话"
    for message in messages:
        if message.get("role") == "user":
            text = str(message.get("content", "")).strip()
            return text[:47] + "..." if len(text) > 50 else text
    return "对话"


def elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


class ConversationStore:
    """Conversation lists, metadata, messages and the QA cache of one Redis database."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.qa_cache = QuestionAnswerCache(redis, settings)
        self._create = redis.register_script(lua.CREATE)
        self._save_message = redis.register_script(lua.SAVE_MESSAGE)
        self._delete_conversation = redis.register_script(lua.DELETE_CONVERSATION)
        self._remove_invalid_refs = redis.register_script(lua.REMOVE_INVALID_REFS)
        self._enforce_limits = redis.register_script(lua.ENFORCE_LIMITS)

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
                return self._new_conversation_id(user_id, datetime.now()), status
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
                conversation_id = self._new_conversation_id(user_id, moment)
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
            return self._new_conversation_id(user_id, moment)
        if dropped:
            log.info("user %s over the limit: %d old conversations deleted", user_id, dropped)
        return conversation_id

    @staticmethod
    def _new_conversation_id(user_id: str, moment: datetime) -> str:
        return f"{user_id}:{moment:%Y%m%d%H%M%S}{moment.microsecond // 1000:03d}"

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

    # --- reads for the management routes (raise when Redis is down) ---------------------------

    async def get_conversations(
        self, user_id: str, limit: int | None = None, message_limit: int | None = None
    ) -> list[dict]:
        """The user's conversations, newest first, each ``meta`` plus ``messages`` (chronological).

        ``limit`` follows the old LRANGE: None → ``USER_MAX_CONVERSATIONS``, 0 → all, negative →
        Redis negative index; a positive ``message_limit`` keeps the newest messages. One round
        trip for all conversations. Conversations whose meta is gone are skipped.
        """
        if limit is None:
            limit = self.settings.user_max_conversations
        ids = await self.redis.lrange(user_key(user_id), 0, limit - 1)
        if not ids:
            return []
        stop = message_limit - 1 if message_limit else -1
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id in ids:
                pipe.hgetall(meta_key(conversation_id))
                pipe.lrange(messages_key(conversation_id), 0, stop)
            replies = await pipe.execute()
        conversations = []
        for conversation_id, meta, raw in zip(ids, replies[::2], replies[1::2], strict=True):
            if not meta:
                continue
            # A hash left without these fields by the old service must not break the listing.
            meta.setdefault("conversation_id", conversation_id)
            meta.setdefault("user_id", extract_user_id(conversation_id))
            conversations.append({"meta": meta, "messages": parse_messages(raw)})
        return conversations

    async def read_conversation(
        self, conversation_id: str, limit: int | None = None
    ) -> tuple[dict[str, str], list[dict]]:
        """Meta and messages of one conversation in one round trip."""
        stop = limit - 1 if limit else -1
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(meta_key(conversation_id))
            pipe.lrange(messages_key(conversation_id), 0, stop)
            meta, raw = await pipe.execute()
        return meta, parse_messages(raw)

    async def stats(self) -> dict[str, Any]:
        """The ``conversation_stats`` object (without response/timestamp)."""
        users = metas = cached = 0
        # One SCAN pass classifies every key instead of one pass per pattern.
        async for key in self.redis.scan_iter(count=SCAN_COUNT):
            if key.startswith("user:") and key.endswith(":conversations"):
                users += 1
            elif key.startswith("conversation:") and key.endswith(":meta"):
                metas += 1
            elif key.startswith(QA_PREFIX):
                cached += 1
        memory = await self.redis.info("memory")
        clients = await self.redis.info("clients")
        return {
            "available": True,
            "total_users": users,
            "total_conversations": metas,
            "cached_qa_count": cached,
            "redis_info": {
                "memory_usage_mb": round(memory.get("used_memory", 0) / 1048576, 2),
                "connected_clients": clients.get("connected_clients", 0),
            },
        }

    # --- cleanup and limits ------------------------------------------------------------------

    async def delete_user_conversations(self, user_id: str) -> dict[str, Any]:
        """Delete a user's list and every conversation of theirs, listed or not."""
        started = time.perf_counter()
        ids = set(await self.redis.lrange(user_key(user_id), 0, -1))
        # Conversations trimmed from the list by the old service still belong to the user.
        pattern = f"conversation:{_escape_glob(user_id)}:*"
        for key in await scan_keys(self.redis, pattern):
            conversation_id = key[len("conversation:") :].rsplit(":", 1)[0]
            if extract_user_id(conversation_id) == user_id:
                ids.add(conversation_id)
        ordered = sorted(ids)
        async with self.redis.pipeline(transaction=True) as pipe:
            for conversation_id in ordered:
                pipe.llen(messages_key(conversation_id))
                pipe.delete(meta_key(conversation_id))
                pipe.delete(messages_key(conversation_id))
            pipe.delete(user_key(user_id))
            replies = await pipe.execute()
        return {
            "user_id": user_id,
            "deleted_conversations": sum(replies[1:-1:3]),
            "deleted_messages": sum(replies[0:-1:3]),
            "execution_time_ms": elapsed_ms(started),
        }

    async def delete_conversation(self, conversation_id: str) -> dict[str, Any]:
        """Delete one conversation's keys and its entry in the owner's list."""
        started = time.perf_counter()
        existed, owner, messages = await self._delete_conversation(
            keys=[meta_key(conversation_id), messages_key(conversation_id)],
            args=[conversation_id, extract_user_id(conversation_id)],
        )
        return {
            "conversation_id": conversation_id,
            "user_id": owner or None if existed else None,
            "deleted_messages": int(messages),
            "execution_time_ms": elapsed_ms(started),
            "existed": bool(existed),
        }

    async def clear_all_agent_data(self) -> dict[str, Any]:
        """Delete every conversation meta, message list and user list."""
        started = time.perf_counter()
        metas = await delete_keys(self.redis, await scan_keys(self.redis, "conversation:*:meta"))
        messages = await delete_keys(
            self.redis, await scan_keys(self.redis, "conversation:*:messages")
        )
        users = await delete_keys(self.redis, await scan_keys(self.redis, USER_LIST_PATTERN))
        return {
            "deleted_conversation_metas": metas,
            "deleted_conversation_messages": messages,
            "deleted_user_conversations": users,
            "total_keys_deleted": metas + messages + users,
            "execution_time_ms": elapsed_ms(started),
        }

    async def cleanup_invalid_refs(self) -> dict[str, int]:
        """Remove list entries whose conversation meta is gone."""
        lists = await scan_keys(self.redis, USER_LIST_PATTERN)
        cleaned = 0
        for key in lists:
            cleaned += await self._remove_invalid_refs(
                keys=[key], args=[self.settings.user_conversations_ttl]
            )
        return {"processed_users": len(lists), "cleaned_references": cleaned}

    async def enforce_limits(
        self,
        user_id: str | None = None,
        max_conversations: int | None = None,
        max_length: int | None = None,
        dry_run: bool = True,
    ) -> dict[str, Any]:
        """Apply the per-user and per-conversation limits now (``conversation_limit_enforcement``).

        Each user's list is judged and rebuilt in one atomic script; a dry run only counts.
        """
        started = time.perf_counter()
        max_conversations = max_conversations or self.settings.user_max_conversations
        max_length = max_length or self.settings.conversation_max_length
        keys = [user_key(user_id)] if user_id else await scan_keys(self.redis, USER_LIST_PATTERN)
        summary = []
        totals = {"processed": 0, "deleted": 0, "trimmed": 0}
        for key in keys:
            original, kept, deleted, trimmed = await self._enforce_limits(
                keys=[key],
                args=[
                    max_conversations,
                    max_length,
                    "1" if dry_run else "0",
                    self.settings.user_conversations_ttl,
                ],
            )
            totals["processed"] += original
            totals["deleted"] += deleted
            totals["trimmed"] += trimmed
            summary.append(
                {
                    "user_id": key[len("user:") : -len(":conversations")],
                    "original_conversations": original,
                    "kept_conversations": kept,
                    "deleted_conversations": deleted,
                    "messages_trimmed": trimmed,
                }
            )
        return {
            "mode": "user_specific" if user_id else "global",
            "dry_run": dry_run,
            "parameters": {
                "user_max_conversations": max_conversations,
                "conversation_max_length": max_length,
            },
            "processed_users": len(keys),
            "total_conversations_processed": totals["processed"],
            "total_conversations_deleted": totals["deleted"],
            "total_messages_trimmed": totals["trimmed"],
            "execution_summary": summary,
            "execution_time_ms": elapsed_ms(started),
        }


def _escape_glob(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)
