"""Conversation, status and checkpoint views over the ReAct memory (agents spec §3.5–3.17).

The wire shapes are the old Redis readers'; the data comes from the PostgreSQL checkpointer.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from citu import failures
from citu.agents.react.context import is_answer, text_of
from citu.agents.react.memory import ReactMemory, ThreadSummary, user_of
from citu.agents.react.registry import TOOLS

_STATUS_LABELS = {tool.name: (tool.status, tool.icon) for tool in TOOLS}

log = logging.getLogger("citu.agents.react.history")


def local_time(ts: str | None) -> str | None:
    """A checkpoint's UTC ISO time as ``YYYY-MM-DD HH:MM:SS.mmm`` in the machine's time zone.

    Thread ids (hence ``created_at``) carry the machine's local time, so ``updated_at`` and
    message times must read the same clock; the old hosts ran in UTC+8, where both agree with
    what their clients saw."""
    if not ts:
        return None
    moment = datetime.fromisoformat(ts)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def thread_created_at(thread_id: str) -> str | None:
    """The thread id's 17-digit local timestamp, reformatted; None when it has none."""
    stamp = thread_id.split(":", 1)[1] if ":" in thread_id else ""
    if len(stamp) != 17 or not stamp.isdigit():
        return None
    moment = datetime.strptime(stamp[:14], "%Y%m%d%H%M%S")
    return f"{moment:%Y-%m-%d %H:%M:%S}.{stamp[14:]}"


def _thread_sort_key(thread_id: str) -> str:
    return thread_id.split(":", 1)[1] if ":" in thread_id else ""


def role_of(message: BaseMessage) -> str:
    if isinstance(message, HumanMessage):
        return "human"
    if isinstance(message, AIMessage):
        return "ai"
    if isinstance(message, ToolMessage):
        return "tool"
    if isinstance(message, SystemMessage):
        return "system"
    return "unknown"


def conversation_title(messages: list[BaseMessage]) -> str:
    for message in messages:
        if isinstance(message, HumanMessage):
            text = text_of(message)
            return text[:50] + "..." if len(text) > 50 else text
    return "空对话"


def thread_status(messages: list[BaseMessage]) -> dict[str, str]:
    """What the thread is doing, judged by its newest message (spec §3.6 table)."""
    if not messages:
        return {"status": "running", "name": "初始化中", "icon": "🚀"}
    last = messages[-1]
    if isinstance(last, AIMessage):
        if last.tool_calls:
            name = last.tool_calls[0]["name"]
            label, icon = _STATUS_LABELS.get(name, (f"调用{name}中", "🔧"))
            return {"status": "running", "name": label, "icon": icon}
        if text_of(last).strip():
            return {"status": "completed", "name": "完成", "icon": "✅"}
    if isinstance(last, ToolMessage):
        if last.status == "success":
            label = _STATUS_LABELS.get(last.name or "", ("处理中", ""))[0].removesuffix("中")
            return {"status": "running", "name": f"{label}完成，AI处理中", "icon": "🤖"}
        label, icon = _STATUS_LABELS.get(last.name or "", (f"执行{last.name}中", "⚙️"))
        return {"status": "running", "name": label, "icon": icon}
    if isinstance(last, HumanMessage):
        return {"status": "running", "name": "AI思考中", "icon": "🤖"}
    return {"status": "running", "name": "执行中", "icon": "⚙️"}


def message_detail(message: BaseMessage, timestamp: str) -> dict[str, Any]:
    """One message in the full mode of the detail route (spec §3.13)."""
    item: dict[str, Any] = {
        "role": role_of(message),
        "content": text_of(message),
        "message_id": message.id,
        "timestamp": timestamp,
    }
    if isinstance(message, AIMessage):
        item["tool_calls"] = [dict(call) for call in message.tool_calls]
        item["has_tool_calls"] = bool(message.tool_calls)
        extra = _with_raw_tool_calls(message)
        if extra:
            item["additional_kwargs"] = extra
        if message.response_metadata:
            item["response_metadata"] = message.response_metadata
    elif isinstance(message, ToolMessage):
        item["tool_name"] = message.name
        item["tool_call_id"] = message.tool_call_id
        item["status"] = message.status or "unknown"
    return item


def _with_raw_tool_calls(message: AIMessage) -> dict[str, Any]:
    """``additional_kwargs`` with the calls in the OpenAI wire form, as the old service's
    messages carried them; the client library keeps them only in ``tool_calls`` now."""
    extra = dict(message.additional_kwargs)
    if message.tool_calls and not extra.get("tool_calls"):
        extra["tool_calls"] = [
            {
                "id": call["id"],
                "type": "function",
                "function": {
                    "name": call["name"],
                    "arguments": json.dumps(call["args"], ensure_ascii=False),
                },
            }
            for call in message.tool_calls
        ]
    return extra


def message_stats(items: list[dict[str, Any]], include_tools: bool) -> dict[str, Any]:
    """Counts by role (the old reader counted a key that did not exist and reported zeros)."""
    roles = [item["role"] for item in items]
    stats: dict[str, Any] = {
        "total_messages": len(items),
        "human_messages": roles.count("human"),
        "ai_messages": roles.count("ai"),
        "conversation_rounds": roles.count("human"),
        "include_tools_mode": include_tools,
    }
    if include_tools:
        tools: list[str] = []
        for item in items:
            for call in item.get("tool_calls") or []:
                if call["name"] not in tools:
                    tools.append(call["name"])
        stats.update(
            tool_messages=roles.count("tool"),
            system_messages=roles.count("system"),
            messages_with_tools=sum(bool(item.get("has_tool_calls")) for item in items),
            unique_tools_used=tools,
        )
    return stats


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
        threads.sort(key=lambda t: _thread_sort_key(t.thread_id), reverse=True)
        found = []
        for thread in threads[:limit]:
            latest = await self.memory.latest(thread.thread_id)
            if latest is not None and latest.messages:
                found.append((thread, latest))
        return found

    async def user_conversations(self, user_id: str, limit: int) -> list[dict[str, Any]]:
        """Spec §3.10: the user's newest threads that hold messages."""
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
        """Spec §3.12: the lighter list of the same threads."""
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
        """Spec §3.11 (newest checkpoint — the old reader took the oldest and found nothing)."""
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
            if include_tools or _visible_without_tools(m)
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
        """Spec §3.13: full mode (every message) or simple mode (questions and answers)."""
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
        threads = await self.memory.threads(user_id)
        by_user: dict[str, list[dict[str, Any]]] = {}
        for thread in threads:
            by_user.setdefault(user_of(thread.thread_id), []).append(
                {"thread_id": thread.thread_id, "checkpoint_count": thread.checkpoint_count}
            )
        for items in by_user.values():
            items.sort(key=lambda t: t["checkpoint_count"], reverse=True)
        if user_id is not None:
            items = by_user.get(user_id, [])
            return {
                "operation_type": "user_stats",
                "user_id": user_id,
                "thread_count": len(items),
                "total_checkpoints": sum(t["checkpoint_count"] for t in items),
                "threads": items,
            }
        users = [
            {
                "user_id": user,
                "thread_count": len(items),
                "total_checkpoints": sum(t["checkpoint_count"] for t in items),
                "threads": items,
            }
            for user, items in by_user.items()
        ]
        users.sort(key=lambda u: u["total_checkpoints"], reverse=True)
        return {
            "operation_type": "system_stats",
            "total_users": len(users),
            "total_threads": sum(u["thread_count"] for u in users),
            "total_checkpoints": sum(u["total_checkpoints"] for u in users),
            "users": users,
        }

    async def cleanup(
        self,
        keep_count: int,
        *,
        thread_id: str | None,
        user_id: str | None,
        dry_run: bool,
    ) -> dict[str, Any]:
        """Keep the newest ``keep_count`` checkpoints per thread (spec §3.16)."""
        if thread_id:
            operation, target = "cleanup_thread", thread_id
            threads = [
                t for t in await self.memory.threads(user_of(thread_id)) if t.thread_id == thread_id
            ]
        elif user_id:
            operation, target = "cleanup_user", user_id
            threads = await self.memory.threads(user_id)
        else:
            operation, target = "cleanup_all", "all"
            threads = await self.memory.threads()
        details: dict[str, Any] = {}
        total_deleted = 0
        for thread in sorted(threads, key=lambda t: t.thread_id):
            details[thread.thread_id] = await self._cleanup_thread(thread, keep_count, dry_run)
            total_deleted += details[thread.thread_id]["deleted_count"]
        return {
            "operation_type": operation,
            "target": target,
            "keep_count": keep_count,
            "dry_run": dry_run,
            "total_processed": len(threads),
            "total_deleted": total_deleted,
            "details": details,
        }

    async def _cleanup_thread(
        self, thread: ThreadSummary, keep_count: int, dry_run: bool
    ) -> dict[str, Any]:
        count = thread.checkpoint_count
        if count <= keep_count:
            return {
                "original_count": count,
                "deleted_count": 0,
                "remaining_count": count,
                "status": "no_cleanup_needed",
            }
        # A running turn writes checkpoints and blobs: prune only between turns.
        token = None if dry_run else await self.memory.lock_thread(thread.thread_id)
        if not dry_run and token is None:
            return {
                "original_count": count,
                "deleted_count": 0,
                "remaining_count": count,
                "status": "failed",
                "error": "会话正在处理中，稍后再清理",
            }
        try:
            result = await self.memory.prune_thread(thread.thread_id, keep_count, dry_run=dry_run)
        except Exception as error:  # noqa: BLE001 - one thread's failure is reported, not fatal
            log.warning("pruning %s failed: %s", thread.thread_id, error)
            return {
                "original_count": count,
                "deleted_count": 0,
                "remaining_count": count,
                "status": "failed",
                "error": failures.public_text(error),
            }
        finally:
            if token is not None:
                await self.memory.unlock_thread(thread.thread_id, token)
        return {
            "original_count": result.original_count,
            "deleted_count": result.deleted_count,
            "remaining_count": result.remaining_count,
            "status": "success",
            "deleted_blobs": result.deleted_blobs,
            "deleted_writes": result.deleted_writes,
        }


def _visible_without_tools(message: BaseMessage) -> bool:
    if isinstance(message, ToolMessage):
        return False
    if isinstance(message, AIMessage) and message.tool_calls and not text_of(message).strip():
        return False
    return True
