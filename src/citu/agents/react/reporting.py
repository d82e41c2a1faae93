"""What a ReAct turn reports to its client: progress events while it runs and the answer's
``api_data`` when it ends (text, the SQL that ran, its rows and ``react_agent_meta``).

Pure functions over the graph's messages and node updates, so they can be tested without a
graph or an LLM.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from citu.agents.react import prompts
from citu.agents.react.context import last_human_index, last_tool_output, text_of
from citu.agents.react.registry import GENERATE_SQL, RUN_SQL
from citu.llm.text import looks_like_sql

AGENT_VERSION = "custom_react_v1"

NODE_NAMES = {
    "__start__": "开始处理",
    "trim_messages": "检查问题上下文",
    "agent": "AI分析中",
    "prepare_tool_input": "准备工具参数",
    "tools": "执行操作",
    "update_state_after_tool": "检查结果",
    "format_final_response": "生成回答",
    "__end__": "完成",
}


def detect_tool(update: Any) -> str | None:
    """The tool a node update is about: the first call of an AI message, or a tool reply."""
    if not isinstance(update, dict):
        return None
    messages = update.get("messages") or []
    if not messages:
        return None
    last = messages[-1]
    if isinstance(last, AIMessage) and last.tool_calls:
        return last.tool_calls[0]["name"]
    return getattr(last, "name", None) or None


def display_name(node: str, tool: str | None) -> str:
    label = prompts.TOOL_LABELS.get(tool or "")
    if label and node == "agent":
        return f"准备{label}"
    if label and node == "tools":
        return label
    return NODE_NAMES.get(node, "处理中")


def progress_event(node: str, update: Any) -> dict[str, Any]:
    tool = detect_tool(update)
    event = {"type": "progress", "node": node, "display_name": display_name(node, tool)}
    if tool:
        event["tool_name"] = tool
    return event


def api_data(
    messages: list[BaseMessage], suggested_next_step: str | None, thread_id: str
) -> dict[str, Any]:
    """The answer of the turn that just ended: ``response``, optional ``sql`` and ``records``,
    and ``react_agent_meta``. When SQL generation failed and the model answered from common
    sense, the failure's reason is put before the answer, as the old agent did."""
    turn = messages[last_human_index(messages) :]
    response = text_of(messages[-1]) if messages else ""
    sql_failure = last_tool_output(turn, GENERATE_SQL)
    if (
        suggested_next_step == "answer_with_common_sense"
        and sql_failure
        and ("failed" in sql_failure.lower() or "失败" in sql_failure)
    ):
        reason = sql_failure.removeprefix("Database query failed. Reason:").strip()
        response = f"{reason}\n\n{response}"
    data: dict[str, Any] = {"response": response}
    sql, records = _turn_sql_and_records(turn)
    if sql:
        data["sql"] = sql
    if records:
        data["records"] = records
    data["react_agent_meta"] = agent_meta(messages, thread_id)
    return data


def _turn_sql_and_records(turn: list[BaseMessage]) -> tuple[str | None, dict[str, Any] | None]:
    """The SQL that actually ran (last successful ``run_sql``) and its rows; falling back to
    the last query ``generate_sql`` produced when nothing ran."""
    for message in reversed(turn):
        if isinstance(message, ToolMessage) and message.name == RUN_SQL and message.artifact:
            artifact = message.artifact
            records = None
            if artifact.get("rows"):
                records = {
                    "columns": artifact["columns"],
                    "rows": artifact["rows"],
                    "total_row_count": artifact["total_row_count"],
                    "is_limited": artifact["is_limited"],
                }
            return artifact["sql"], records
    for message in reversed(turn):
        if isinstance(message, ToolMessage) and message.name == GENERATE_SQL:
            output = text_of(message).strip()
            if looks_like_sql(output):
                return output, None
    return None, None


def agent_meta(messages: list[BaseMessage], thread_id: str) -> dict[str, Any]:
    """``react_agent_meta``: cumulative over the whole thread, as the old agent reported."""
    tools_used: list[str] = []
    context_injected = False
    for message in messages:
        names: list[str] = []
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                names.append(call["name"])
                if call["name"] == GENERATE_SQL and call["args"].get("history_messages"):
                    context_injected = True
        elif isinstance(message, ToolMessage) and message.name:
            names.append(message.name)
        tools_used += [name for name in names if name not in tools_used]
    path = ["agent"] + (["prepare_tool_input", "tools"] if tools_used else [])
    return {
        "thread_id": thread_id,
        "conversation_rounds": sum(isinstance(m, HumanMessage) for m in messages),
        "tools_used": tools_used,
        "execution_path": path + ["format_final_response"],
        "total_messages": len(messages),
        "sql_execution_count": sum(
            isinstance(m, ToolMessage) and m.name == RUN_SQL for m in messages
        ),
        "context_injected": context_injected,
        "agent_version": AGENT_VERSION,
    }
