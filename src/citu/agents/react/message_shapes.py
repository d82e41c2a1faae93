"""How one ReAct thread and its messages look on the wire: times, roles, titles, the thread's
status and each message's detail, in the shapes the old Redis readers gave.

Pure functions over LangChain messages; ``history.py`` feeds them from the checkpointer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from citu.agents.react.context import text_of
from citu.agents.react.registry import TOOLS

_STATUS_LABELS = {tool.name: (tool.status, tool.icon) for tool in TOOLS}


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


def thread_sort_key(thread_id: str) -> str:
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
    """What the thread is doing, judged by its newest message: a pending tool call names the
    tool's status, a tool reply says the tool is done and the AI is at work, an answer is
    completed, a pending question is the AI thinking."""
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
    """One message in the full mode of the conversation detail route: AI messages add their
    tool calls, tool messages their tool's name, call id and status."""
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


def visible_without_tools(message: BaseMessage) -> bool:
    """Shown when tools are hidden: no tool replies, no AI messages that only call tools."""
    if isinstance(message, ToolMessage):
        return False
    if isinstance(message, AIMessage) and message.tool_calls and not text_of(message).strip():
        return False
    return True
