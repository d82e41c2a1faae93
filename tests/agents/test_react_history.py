"""Status decisions and time formats of the ReAct conversation views."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from citu.agents.react.history import local_time, thread_created_at, thread_status


def call(name):
    return AIMessage("", tool_calls=[{"name": name, "args": {}, "id": "c1"}])


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([], ("running", "初始化中", "🚀")),
        ([HumanMessage("q")], ("running", "AI思考中", "🤖")),
        ([call("generate_sql")], ("running", "生成SQL中", "🔍")),
        ([call("valid_sql")], ("running", "验证SQL中", "✅")),
        ([call("run_sql")], ("running", "执行查询中", "⚡")),
        ([call("other")], ("running", "调用other中", "🔧")),
        (
            [ToolMessage("ok", tool_call_id="c1", name="generate_sql")],
            ("running", "生成SQL完成，AI处理中", "🤖"),
        ),
        (
            [ToolMessage("ok", tool_call_id="c1", name="mystery")],
            ("running", "处理完成，AI处理中", "🤖"),
        ),
        (
            [ToolMessage("x", tool_call_id="c1", name="run_sql", status="error")],
            ("running", "执行查询中", "⚡"),
        ),
        ([AIMessage("答案")], ("completed", "完成", "✅")),
        ([AIMessage("  ")], ("running", "执行中", "⚙️")),
        ([SystemMessage("s")], ("running", "执行中", "⚙️")),
    ],
)
def test_thread_status(messages, expected):
    status = thread_status(messages)
    assert (status["status"], status["name"], status["icon"]) == expected


def test_times():
    assert local_time("2025-07-17T13:21:52.868292+00:00") == "2025-07-17 21:21:52.868"
    assert local_time(None) is None
    assert thread_created_at("wang1:20250730101522123") == "2025-07-30 10:15:22.123"
    assert thread_created_at("wang1:abc") is None and thread_created_at("nocolon") is None
