"""The ReAct agent object: turns run to the end even when nobody listens any more."""

from __future__ import annotations

import asyncio

from citu.agents.react.agent import ThreadBusy, new_thread_id
from citu.agents.react.reporting import api_data

THREAD = "amy:20250730101522123"


async def wait_idle(agent) -> None:
    for _ in range(100):
        if not agent._turns:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("turn still running")


async def test_a_turn_completes_after_the_listener_leaves(services, fake_llm):
    agent = services.react
    fake_llm.reply_tool_call("generate_sql", {"question": "q"})
    fake_llm.reply("SELECT 1 AS 一")
    fake_llm.hang(0.5, "最后的回答")
    events = await agent.start_turn("档口有几个？", "amy", THREAD)
    first = await anext(events)
    assert first["type"] == "progress" and first["node"] == "agent"
    await events.aclose()  # the client disconnected

    await wait_idle(agent)
    latest = await agent.memory.latest(THREAD)
    assert latest.messages[-1].content == "最后的回答"
    assert await agent.memory.lock_thread(THREAD) is not None  # the lease was released


async def test_busy_thread_is_refused_at_start(services, fake_llm):
    agent = services.react
    fake_llm.hang(0.5, "好")
    events = await agent.start_turn("一", "amy", THREAD)
    try:
        await agent.start_turn("二", "amy", THREAD)
    except ThreadBusy:
        pass
    else:
        raise AssertionError("second turn was accepted")
    assert [e["type"] async for e in events][-1] == "completed"


def test_new_thread_id_format():
    user, stamp = new_thread_id("wang1").split(":")
    assert user == "wang1" and len(stamp) == 17 and stamp.isdigit()


def test_api_data_reports_the_sql_that_ran():
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    generated = "SELECT 1"
    ran = "SELECT 2 AS 二"
    messages = [
        HumanMessage("q"),
        AIMessage("", tool_calls=[{"name": "generate_sql", "args": {"question": "q"}, "id": "1"}]),
        ToolMessage(generated, tool_call_id="1", name="generate_sql"),
        AIMessage("", tool_calls=[{"name": "run_sql", "args": {"sql": ran}, "id": "2"}]),
        ToolMessage(
            '[{"二": 2}]',
            tool_call_id="2",
            name="run_sql",
            artifact={
                "sql": ran,
                "columns": ["二"],
                "rows": [{"二": 2}],
                "row_count": 1,
                "total_row_count": 1,
                "is_limited": False,
            },
        ),
        AIMessage("是2"),
    ]
    data = api_data(messages, "summarize_final_answer", "t:1")
    assert data["sql"] == ran and data["response"] == "是2"
    assert data["records"] == {
        "columns": ["二"],
        "rows": [{"二": 2}],
        "total_row_count": 1,
        "is_limited": False,
    }
    without_run = api_data(messages[:3] + [AIMessage("没跑")], None, "t:1")
    assert without_run["sql"] == generated and "records" not in without_run


async def test_shutdown_cancels_a_running_turn_and_frees_its_thread(settings, fake_llm):
    import time

    import asyncpg

    from citu.app import create_app

    fake_llm.hang(10.0, "太晚了")
    app = create_app(settings)
    async with app.test_app():
        agent = app.extensions["citu"].react
        events = await agent.start_turn("慢问题", "amy", THREAD)
        async with asyncio.timeout(10):
            while True:  # until the turn waits on the LLM
                if fake_llm.requests:
                    break
                await asyncio.sleep(0.02)
        started = time.perf_counter()
    assert time.perf_counter() - started < 3  # did not wait for the LLM
    assert [e async for e in events][-1]["error"] == "服务正在停止，请稍后重试"
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM react_turn_locks") == 0
    finally:
        await conn.close()


async def test_a_turn_longer_than_its_lease_is_stopped(services, fake_llm):
    agent = services.react
    services.settings.react_turn_lease_seconds = 1
    fake_llm.hang(5.0, "太晚了")
    events = await agent.start_turn("慢问题", "amy", THREAD)
    last = [e async for e in events][-1]
    assert last == {
        "type": "error",
        "error": "处理超时，请稍后重试",
        "retry_suggested": True,
        "error_type": "timeout",
    }
    assert await agent.memory.lock_thread(THREAD) is not None
