"""Status decisions and time formats of the ReAct conversation views."""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from citu.agents.react.agent import new_thread_id
from citu.agents.react.message_shapes import (
    local_time,
    message_detail,
    thread_created_at,
    thread_status,
)


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


@contextmanager
def machine_zone(tz: str):
    """Run with the process's local time zone set to ``tz`` (a POSIX TZ string)."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.mark.parametrize(
    ("tz", "expected"),
    [("UTC0", "2025-07-17 13:21:52.868"), ("CST-8", "2025-07-17 21:21:52.868")],
)
def test_checkpoint_times_are_in_the_machine_zone_like_thread_ids(tz, expected):
    # Thread ids (and so created_at) carry the machine's local time: updated_at and message
    # times use the same clock, or the two are 8 hours apart on a UTC host.
    with machine_zone(tz):
        assert local_time("2025-07-17T13:21:52.868292+00:00") == expected
        now = datetime.now(UTC).isoformat()
        created = thread_created_at(new_thread_id("wang1"))
        gap = datetime.fromisoformat(local_time(now)) - datetime.fromisoformat(created)
        assert abs(gap.total_seconds()) < 5


def test_times():
    assert local_time(None) is None
    assert thread_created_at("wang1:20250730101522123") == "2025-07-30 10:15:22.123"
    assert thread_created_at("wang1:abc") is None and thread_created_at("nocolon") is None


def test_an_ai_message_that_called_tools_carries_them_in_additional_kwargs():
    # The old service's messages came from the OpenAI client with the raw calls in
    # additional_kwargs; readers of the detail routes look for them there.
    message = AIMessage(
        "",
        id="m1",
        tool_calls=[{"name": "run_sql", "args": {"sql": "SELECT 1"}, "id": "call_1"}],
    )
    item = message_detail(message, "2025-07-17 21:21:52.868")
    assert item["additional_kwargs"]["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "run_sql", "arguments": json.dumps({"sql": "SELECT 1"})},
        }
    ]
    assert item["tool_calls"][0]["name"] == "run_sql" and item["has_tool_calls"] is True


def test_raw_tool_calls_already_in_additional_kwargs_are_kept():
    raw = [{"id": "c", "type": "function", "function": {"name": "x", "arguments": "{}"}}]
    message = AIMessage(
        "",
        id="m1",
        tool_calls=[{"name": "x", "args": {}, "id": "c"}],
        additional_kwargs={"tool_calls": raw, "refusal": None},
    )
    assert message_detail(message, "t")["additional_kwargs"]["tool_calls"] == raw


def test_an_answer_without_tool_calls_has_no_additional_kwargs():
    assert "additional_kwargs" not in message_detail(AIMessage("答案", id="m2"), "t")
