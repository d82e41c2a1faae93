"""The management side of the conversation store: listings, stats, deletion and limits.

These back the conversation and cache routes; unlike the agent-facing operations they raise
``redis.exceptions.ConnectionError`` when Redis is down, so the routes can answer 503.
"""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis

from citu.settings import Settings
from citu.stores import conversation_scripts as lua
from citu.stores.caches import QA_PREFIX, SCAN_COUNT, delete_keys, scan_keys
from citu.stores.conversation_keys import (
    USER_LIST_PATTERN,
    elapsed_ms,
    escape_glob,
    extract_user_id,
    messages_key,
    meta_key,
    parse_messages,
    user_key,
)


class ConversationAdmin:
    """Reads, stats and cleanup over every conversation of one Redis database."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self._delete_conversation = redis.register_script(lua.DELETE_CONVERSATION)
        self._remove_invalid_refs = redis.register_script(lua.REMOVE_INVALID_REFS)
        self._enforce_limits = redis.register_script(lua.ENFORCE_LIMITS)

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
        pattern = f"conversation:{escape_glob(user_id)}:*"
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
        """Apply the per-user and per-conversation limits now (the cleanup route).

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
