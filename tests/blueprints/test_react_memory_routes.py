"""Conversation, status and checkpoint routes of the ReAct agent, on real checkpoint data."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from datetime import datetime

import pytest

A = "wang1:20250730101522123"
B = "wang1:20250731090000000"
C = "li:20250730101522123"
SQL = "SELECT count(*) AS 档口数量 FROM bss_branch"
LOCAL_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")


async def until(predicate) -> None:
    """Wait for a condition instead of guessing a sleep (the machine may be busy)."""
    import asyncio

    async with asyncio.timeout(10):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.02)


async def ask(client, question, thread_id):
    response = await client.post(
        "/api/v0/ask_react_agent", json={"question": question, "thread_id": thread_id}
    )
    assert response.status_code == 200, await response.get_json()


@pytest.fixture
async def threads(client, fake_llm):
    """A: a data question then a chat question; B: one chat question; C: another user."""
    fake_llm.reply_tool_call("generate_sql", {"question": "档口总数？"})
    fake_llm.reply(f"```sql\n{SQL}\n```")
    fake_llm.reply_tool_call("run_sql", {"sql": SQL})
    fake_llm.reply("共有若干档口。")
    await ask(client, "档口总数？", A)
    fake_llm.reply("不客气。")
    await ask(client, "谢谢", A)
    fake_llm.reply("你好！")
    await ask(client, "你好", B)
    fake_llm.reply("在的。")
    await ask(client, "在吗", C)
    return client


async def get(client, path, **query):
    response = await client.get(path, query_string=query)
    return response.status_code, await response.get_json()


async def checkpoint_rows(services, thread_id):
    pool = services.react.memory.pool
    async with pool.connection() as conn:
        counts = {}
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            row = await (
                await conn.execute(
                    f"SELECT count(*) AS n FROM {table} WHERE thread_id = %s", (thread_id,)
                )
            ).fetchone()
            counts[table] = row["n"]
        orphans = await (
            await conn.execute(
                "SELECT (SELECT count(*) FROM checkpoint_blobs b WHERE NOT EXISTS ("
                "  SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id"
                "  AND c.checkpoint->'channel_versions'->>b.channel = b.version)) AS blobs,"
                " (SELECT count(*) FROM checkpoint_writes w WHERE NOT EXISTS ("
                "  SELECT 1 FROM checkpoints c WHERE c.thread_id = w.thread_id"
                "  AND c.checkpoint_id = w.checkpoint_id)) AS writes"
            )
        ).fetchone()
    return counts, orphans


async def test_status_of_a_finished_thread(threads):
    for path in ("/api/v0/react/status/", "/api/v0/react/direct/status/"):
        status, body = await get(threads, path + A)
        assert status == 200
        assert body["code"] == 200 and body["message"] == "获取状态成功"
        assert {k: body["data"][k] for k in ("status", "name", "icon")} == {
            "status": "completed",
            "name": "完成",
            "icon": "✅",
        }
        status, body = await get(threads, path + "nobody:1")
        assert status == 404
        assert body == {"code": 404, "success": False, "message": "未找到执行线程", "data": None}


async def test_status_while_the_agent_thinks(client, fake_llm):
    fake_llm.hang(3.0, "好的")
    turn = asyncio.create_task(ask(client, "慢问题", A))
    await until(lambda: len(fake_llm.requests) == 1)
    status, body = await get(client, f"/api/v0/react/status/{A}")
    assert (
        status == 200 and body["data"]["name"] == "AI思考中" and body["data"]["status"] == "running"
    )
    await turn


async def test_user_conversations(threads):
    status, body = await get(threads, "/api/v0/react/users/wang1/conversations")
    assert status == 200 and body["message"] == "操作成功"
    data = body["data"]
    assert data["response"] == "获取用户对话列表成功"
    assert data["user_id"] == "wang1" and data["limit"] == 10 and data["total_count"] == 2
    newest, older = data["conversations"]
    assert newest["thread_id"] == newest["conversation_id"] == B
    assert older["thread_id"] == A and older["user_id"] == "wang1"
    assert older["message_count"] == 8  # 2 human, 2 AI tool calls, 2 tool replies, 2 answers
    assert older["last_message"] == "谢谢" and older["conversation_title"] == "档口总数？"
    assert older["created_at"] == "2025-07-30 10:15:22.123"
    assert LOCAL_TIME.match(older["updated_at"])

    status, body = await get(threads, "/api/v0/react/users/wang1/conversations", limit="1")
    assert [c["thread_id"] for c in body["data"]["conversations"]] == [B]
    status, body = await get(threads, "/api/v0/react/users/wang1/conversations", limit="x")
    assert body["data"]["limit"] == 10
    status, body = await get(threads, "/api/v0/react/users/nobody/conversations")
    assert status == 200 and body["data"]["conversations"] == []


@pytest.fixture
def utc_host():
    """The process's local time zone is UTC, as on most servers."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC0"
    time.tzset()
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


async def test_created_at_and_updated_at_read_the_same_clock(client, fake_llm, utc_host):
    fake_llm.reply("你好！")
    response = await client.post(
        "/api/v0/ask_react_agent", json={"question": "你好", "user_id": "zhao"}
    )
    assert response.status_code == 200
    for path in (
        "/api/v0/react/users/zhao/conversations",
        "/api/v0/react/direct/users/zhao/conversations",
    ):
        (item,) = (await get(client, path))[1]["data"]["conversations"]
        created = datetime.fromisoformat(item["created_at"])
        updated = datetime.fromisoformat(item["updated_at"])
        assert abs((updated - created).total_seconds()) < 60, (path, item)


async def test_direct_user_conversations(threads):
    status, body = await get(threads, "/api/v0/react/direct/users/wang1/conversations", limit="99")
    assert status == 200 and body["data"]["limit"] == 50 and body["data"]["total_count"] == 2
    item = body["data"]["conversations"][1]
    assert set(item) == {
        "conversation_id",
        "user_id",
        "message_count",
        "conversation_title",
        "created_at",
        "updated_at",
    }
    assert item["conversation_id"] == A and item["message_count"] == 8
    assert LOCAL_TIME.match(item["updated_at"])


async def test_conversation_history(threads):
    status, body = await get(threads, f"/api/v0/react/conversations/{A}")
    assert status == 200
    data = body["data"]
    assert data["response"] == "获取对话详情成功"
    assert data["user_id"] == "wang1" and data["thread_id"] == data["conversation_id"] == A
    assert [(m["role"], m["content"]) for m in data["messages"]] == [
        ("human", "档口总数？"),
        ("ai", "共有若干档口。"),
        ("human", "谢谢"),
        ("ai", "不客气。"),
    ]
    assert data["message_count"] == 4 and data["created_at"] == "2025-07-30 10:15:22.123"
    stamps = [m["timestamp"] for m in data["messages"]]
    assert all(LOCAL_TIME.match(t) for t in stamps) and stamps == sorted(stamps)
    assert stamps[0] < stamps[2]  # each message keeps the time it first appeared
    assert data["total_checkpoints"] > 8

    status, body = await get(threads, f"/api/v0/react/conversations/{A}", include_tools="TRUE")
    roles = [m["role"] for m in body["data"]["messages"]]
    assert roles == ["human", "ai", "tool", "ai", "tool", "ai", "human", "ai"]

    status, body = await get(threads, "/api/v0/react/conversations/wang1:404")
    assert status == 404 and body["data"]["response"] == "未找到对话 wang1:404"


async def test_direct_conversation_detail(threads):
    status, body = await get(
        threads, f"/api/v0/react/direct/conversations/{A}", include_tools="true"
    )
    assert status == 200
    data = body["data"]
    assert data["response"] == "获取对话详情成功 (完整模式)"
    assert data["include_tools"] is True and data["message_count"] == 8
    assert data["stats"] == {
        "total_messages": 8,
        "human_messages": 2,
        "ai_messages": 4,
        "conversation_rounds": 2,
        "include_tools_mode": True,
        "tool_messages": 2,
        "system_messages": 0,
        "messages_with_tools": 2,
        "unique_tools_used": ["generate_sql", "run_sql"],
    }
    tool = data["messages"][2]
    assert (
        tool["role"] == "tool"
        and tool["tool_name"] == "generate_sql"
        and tool["status"] == "success"
    )
    assert data["messages"][1]["has_tool_calls"] is True
    assert data["metadata"]["filter_mode"] == "full_conversation"
    assert data["metadata"]["latest_checkpoint_key"].startswith(f"checkpoint:{A}:__empty__:")
    assert data["api_metadata"]["endpoint"] == "get_conversation_detail"
    assert data["api_metadata"]["query_params"] == {"include_tools": True, "user_id": None}

    status, body = await get(threads, f"/api/v0/react/direct/conversations/{A}")
    data = body["data"]
    assert data["response"] == "获取对话详情成功 (简化模式)" and data["message_count"] == 4
    assert data["messages"][1] == {
        "role": "ai",
        "content": "共有若干档口。",
        "message_id": data["messages"][1]["message_id"],
        "timestamp": data["messages"][1]["timestamp"],
        "simplified": True,
    }

    status, body = await get(threads, "/api/v0/react/direct/conversations/nocolon")
    assert (
        status == 400 and body["success"] is False and "Invalid thread_id format" in body["error"]
    )
    status, body = await get(threads, f"/api/v0/react/direct/conversations/{A}", user_id="li")
    assert status == 400 and body["data"]["response"] == f"Thread ID {A} does not belong to user li"
    status, body = await get(threads, "/api/v0/react/direct/conversations/wang1:1")
    assert status == 404 and body["data"]["error_type"] == "resource_not_found"
    # the old service answered this 404 with an internal-error body, which carried can_retry
    assert body["data"]["can_retry"] is True


async def test_ai_messages_that_called_tools_show_them_in_additional_kwargs(threads):
    status, body = await get(
        threads, f"/api/v0/react/direct/conversations/{A}", include_tools="true"
    )
    calling = [m for m in body["data"]["messages"] if m.get("has_tool_calls")]
    assert [m["additional_kwargs"]["tool_calls"][0]["function"]["name"] for m in calling] == [
        "generate_sql",
        "run_sql",
    ]
    for message in calling:
        (raw,) = message["additional_kwargs"]["tool_calls"]
        (call,) = message["tool_calls"]
        assert raw["id"] == call["id"] and raw["type"] == "function"
        assert json.loads(raw["function"]["arguments"]) == call["args"]
    status, body = await get(threads, f"/api/v0/react/direct/conversations/{A}/compare")
    sample = body["data"]["full_mode"]["sample_messages"][1]
    assert sample["additional_kwargs"]["tool_calls"][0]["function"]["name"] == "generate_sql"


async def test_compare_and_summary(threads):
    status, body = await get(threads, f"/api/v0/react/direct/conversations/{A}/compare")
    assert status == 200 and body["success"] is True
    summary = body["data"]["comparison_summary"]
    assert summary == {
        "message_count_difference": 4,
        "tools_filtered_out": 2,
        "ai_messages_with_tools": 2,
        "filtering_effectiveness": "有效",
    }
    assert len(body["data"]["full_mode"]["sample_messages"]) == 3
    status, body = await get(threads, "/api/v0/react/direct/conversations/wang1:1/compare")
    assert status == 404 and body["error"] == "无法获取对话数据进行比较"
    # this route's failures keep the old plain shape: no envelope, so no data.can_retry
    assert set(body) == {"success", "error", "timestamp"} and body["success"] is False

    status, body = await get(threads, f"/api/v0/react/direct/conversations/{A}/summary")
    assert status == 200
    data = body["data"]
    assert data["response"] == "获取对话摘要成功"
    assert data["first_message_preview"] == data["conversation_preview"] == "档口总数？"
    assert data["last_message_preview"] == "不客气。"
    assert data["api_metadata"]["endpoint"] == "get_conversation_summary"
    status, body = await get(threads, "/api/v0/react/direct/conversations/wang1:1/summary")
    assert status == 404 and body["data"]["response"] == "未找到对话 wang1:1"
    assert body["data"]["can_retry"] is True
    status, body = await get(threads, "/api/v0/react/direct/conversations/bad/summary")
    assert status == 400 and body["data"]["error_type"] == "missing_required_params"


async def test_checkpoint_stats(threads):
    status, body = await get(threads, "/api/v0/checkpoint/direct/stats")
    assert status == 200
    data = body["data"]
    assert data["response"] == "获取系统checkpoint统计成功"
    assert data["operation_type"] == "system_stats"
    assert data["total_users"] == 2 and data["total_threads"] == 3
    users = {u["user_id"]: u for u in data["users"]}
    assert data["users"][0]["user_id"] == "wang1"  # most checkpoints first
    assert data["total_checkpoints"] == sum(u["total_checkpoints"] for u in users.values())
    status, body = await get(threads, "/api/v0/checkpoint/direct/stats", user_id="wang1")
    data = body["data"]
    assert data["operation_type"] == "user_stats" and data["thread_count"] == 2
    assert [t["thread_id"] for t in data["threads"]] == [A, B]
    status, body = await get(threads, "/api/v0/checkpoint/direct/stats", user_id="nobody")
    assert status == 404 and body["data"]["response"] == "用户 nobody 没有任何checkpoint"


async def test_checkpoint_stats_empty(client):
    status, body = await get(client, "/api/v0/checkpoint/direct/stats")
    assert status == 200 and body["data"]["response"] == "系统中暂无checkpoint数据"
    assert body["data"]["total_checkpoints"] == 0 and body["data"]["users"] == []


async def test_checkpoint_cleanup_dry_run_then_real(threads, services, fake_llm):
    before, _ = await checkpoint_rows(services, A)
    response = await threads.post(
        "/api/v0/checkpoint/direct/cleanup",
        json={"keep_count": 2, "user_id": "wang1", "dry_run": True},
    )
    body = await response.get_json()
    assert response.status_code == 200
    data = body["data"]
    assert data["operation_type"] == "cleanup_user" and data["target"] == "wang1"
    assert data["total_processed"] == 2
    assert data["details"][A]["deleted_count"] == before["checkpoints"] - 2
    assert data["response"] == f"Checkpoint清理预览，将删除{data['total_deleted']}个checkpoint"
    assert (await checkpoint_rows(services, A))[0] == before  # nothing deleted

    response = await threads.post(
        "/api/v0/checkpoint/direct/cleanup", json={"keep_count": 2, "thread_id": A}
    )
    data = (await response.get_json())["data"]
    assert data["operation_type"] == "cleanup_thread" and data["target"] == A
    detail = data["details"][A]
    assert detail["status"] == "success" and detail["remaining_count"] == 2
    assert data["response"] == f"Checkpoint清理完成，删除了{detail['deleted_count']}个checkpoint"
    after, orphans = await checkpoint_rows(services, A)
    assert after["checkpoints"] == 2
    assert after["checkpoint_blobs"] < before["checkpoint_blobs"]
    assert after["checkpoint_writes"] < before["checkpoint_writes"]
    assert orphans == {"blobs": 0, "writes": 0}
    assert (await checkpoint_rows(services, B))[0]["checkpoints"] > 2  # other threads untouched

    # The pruned thread still reads and still continues.
    status, body = await get(threads, f"/api/v0/react/conversations/{A}")
    assert status == 200 and [m["content"] for m in body["data"]["messages"]][-1] == "不客气。"
    fake_llm.reply("还在。")
    await ask(threads, "还在吗", A)
    status, body = await get(threads, f"/api/v0/react/conversations/{A}")
    assert body["data"]["message_count"] == 6

    response = await threads.post("/api/v0/checkpoint/direct/cleanup", json={"keep_count": 1})
    data = (await response.get_json())["data"]
    assert data["operation_type"] == "cleanup_all" and data["target"] == "all"
    assert all(d["remaining_count"] == 1 for d in data["details"].values())
    assert (await checkpoint_rows(services, C))[1] == {"blobs": 0, "writes": 0}


async def test_checkpoint_cleanup_errors(client):
    for body, text in (
        ({"keep_count": 0}, "keep_count必须大于0"),
        ({"keep_count": "x"}, "keep_count必须是整数"),
        ({"thread_id": "nocolon"}, "thread_id格式错误，期望格式: user_id:timestamp"),
    ):
        response = await client.post("/api/v0/checkpoint/direct/cleanup", json=body)
        assert response.status_code == 400
        assert (await response.get_json())["data"]["response"] == text
    response = await client.post("/api/v0/checkpoint/direct/cleanup", json={})
    body = await response.get_json()
    assert response.status_code == 200 and body["data"]["response"] == "未找到需要清理的checkpoint"
    assert body["data"]["keep_count"] == 10 and body["data"]["details"] == {}
