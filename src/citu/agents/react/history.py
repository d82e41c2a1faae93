"""Conversation, status and checkpoint views over the ReAct memory, for the ReAct routes.

The wire shapes are the old Redis readers' (``message_shapes.py``); the data comes from the
PostgreSQL checkpointer.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage

from citu.agents.react.checkpoint_admin import checkpoint_stats, prune_checkpoints
from citu.agents.react.context import is_answer, text_of
from citu.agents.react.memory import ReactMemory, ThreadSummary, user_of
from citu.agents.react.message_shapes import (
    conversation_title,
    local_time,
    message_detail,
    message_stats,
    role_of,
    thread_created_at,
    thread_sort_key,
    thread_status,
    visible_without_tools,
)


class ConversationViews:
    """Reads the checkpointer and shapes what the conversation and checkpoint routes return."""

    def __init__(self, memory: ReactMemory) -> None:
        self.memory = memory

    async def status(self, thread_id: str) -> dict[str, Any] | None:
        latest = await self.memory.latest(thread_id)
        if latest is None:
            return None
        status = thread_status(latest.messages)
        if not latest.messages:
            status["debug_info"] = {
                "key_type": "postgres",
                "checkpoint_keys": sorted(latest.channel_values),
                "has_checkpoint": True,
                "has_channel_values": bool(latest.channel_values),
            }
        return status

    async def _recent(self, user_id: str, limit: int) -> list[tuple[ThreadSummary, Any]]:
        threads = await self.memory.threads(user_id)
        threads.sort(key=lambda t: thread_sort_key(t.thread_id), reverse=True)
        found = []
        for thread in threads[:limit]:
            latest = await self.memory.latest(thread.thread_id)
            if latest is not None and latest.messages:
                found.append((thread, latest))
        return found

    async def user_conversations(self, user_id: str, limit: int) -> list[dict[str, Any]]:
        """The user's newest threads that hold messages, each with its last question."""
        items = []
        for thread, latest in await self._recent(user_id, limit):
            messages = latest.messages
            humans = [m for m in messages if isinstance(m, HumanMessage)]
            items.append(
                {
                    "conversation_id": thread.thread_id,
                    "thread_id": thread.thread_id,
                    "user_id": user_id,
                    "message_count": len(messages),
                    "last_message": text_of(humans[-1]) if humans else None,
                    "updated_at": local_time(latest.ts),
                    "conversation_title": conversation_title(messages),
                    "created_at": thread_created_at(thread.thread_id),
                }
            )
        return items

    async def direct_user_conversations(self, user_id: str, limit: int) -> list[dict[str, Any]]:
        """The lighter list of the same threads (the ``/react/direct`` route)."""
        items = []
        for thread, latest in await self._recent(user_id, limit):
            created = thread_created_at(thread.thread_id)
            items.append(
                {
                    "conversation_id": thread.thread_id,
                    "user_id": user_id,
                    "message_count": len(latest.messages),
                    "conversation_title": conversation_title(latest.messages),
                    "created_at": created,
                    "updated_at": local_time(thread.last_ts) or created,
                }
            )
        return items

    async def _timed_messages(
        self, thread_id: str
    ) -> tuple[list[tuple[BaseMessage, str]], Any] | None:
        latest = await self.memory.latest(thread_id)
        if latest is None or not latest.messages:
            return None
        seen, oldest = await self.memory.first_seen(thread_id)
        fallback = local_time(oldest or latest.ts)
        timed = [
            (m, local_time(seen[m.id]) if m.id in seen else fallback)
            for m in latest.messages
            if m.id
        ]
        return timed, latest

    async def history(self, thread_id: str, include_tools: bool) -> dict[str, Any] | None:
        """The thread's messages from its newest checkpoint (the old reader took the oldest and
        found nothing for normal threads)."""
        found = await self._timed_messages(thread_id)
        if found is None:
            return None
        timed, _ = found
        messages = [
            {
                "message_id": m.id,
                "role": role_of(m),
                "content": text_of(m),
                "timestamp": ts,
            }
            for m, ts in timed
            if include_tools or visible_without_tools(m)
        ]
        if not messages:
            return None
        user = user_of(thread_id) if ":" in thread_id else "unknown"
        return {
            "user_id": user,
            "thread_id": thread_id,
            "conversation_id": thread_id,
            "message_count": len(messages),
            "messages": messages,
            "created_at": thread_created_at(thread_id) or (timed[0][1] if timed else None),
            "total_checkpoints": await self.memory.checkpoint_count(thread_id),
        }

    async def detail(self, thread_id: str, include_tools: bool) -> dict[str, Any] | None:
        """Full mode (every message) or simple mode (questions and non-empty answers, reduced
        to their text)."""
        found = await self._timed_messages(thread_id)
        if found is None:
            return None
        timed, latest = found
        items = []
        for message, ts in timed:
            item = message_detail(message, ts)
            if include_tools:
                items.append(item)
            elif isinstance(message, HumanMessage):
                items.append(item)
            elif is_answer(message):
                items.append(
                    {
                        "role": "ai",
                        "content": item["content"],
                        "message_id": item["message_id"],
                        "timestamp": ts,
                        "simplified": True,
                    }
                )
        return {
            "thread_id": thread_id,
            "conversation_id": thread_id,
            "created_at": thread_created_at(thread_id),
            "user_id": user_of(thread_id) if ":" in thread_id else "unknown",
            "include_tools": include_tools,
            "message_count": len(items),
            "messages": items,
            "stats": message_stats(items, include_tools),
            "metadata": {
                "latest_checkpoint_key": f"checkpoint:{thread_id}:__empty__:{latest.checkpoint_id}",
                "total_raw_messages": len(latest.messages),
                "filtered_message_count": len(items),
                "filter_mode": "full_conversation" if include_tools else "human_ai_only",
            },
        }

    # ---- checkpoints ---------------------------------------------------------------------

    async def stats(self, user_id: str | None) -> dict[str, Any]:
        return await checkpoint_stats(self.memory, user_id)

    async def cleanup(
        self,
        keep_count: int,
        *,
        thread_id: str | None,
        user_id: str | None,
        dry_run: bool,
    ) -> dict[str, Any]:
        return await prune_checkpoints(
            self.memory, keep_count, thread_id=thread_id, user_id=user_id, dry_run=dry_run
        )
