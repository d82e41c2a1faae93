"""The conversation blueprint over the real Redis: every route, every cleanup mode, the caches."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import pytest

from citu.stores.caches import qa_cache_key


def conversations(services):
    return services.conversations


async def get(client, path, **params):
    response = await client.get(path, query_string=params)
    return response.status_code, await response.get_json()


async def post(client, path, body=None, **kwargs):
    if body is not None:
        kwargs["json"] = body
    response = await client.post(path, **kwargs)
    return response.status_code, await response.get_json()


def assert_success(status, body, text):
    assert status == 200 and body["code"] == 200 and body["success"] is True, body
    assert body["message"] == "操作成功" and body["data"]["response"] == text
    assert datetime.fromisoformat(body["data"]["timestamp"])


def assert_bad_request(status, body, text=None):
    assert status == 400 and body["code"] == 400 and body["success"] is False, body
    assert body["message"] == "请求参数错误"
    assert body["data"]["error_type"] == "missing_required_params"
    if text is not None:
        assert body["data"]["response"] == text


async def conversation_with(store, user_id, *pairs):
    cid = await store.create_conversation(user_id)
    for question, answer in pairs:
        await store.save_message(cid, "user", question)
        if answer is not None:
            await store.save_message(cid, "assistant", answer, {"type": "DATABASE", "sql": "S"})
    return cid


# --- conversations ------------------------------------------------------------------------------


async def test_user_conversations_with_titles(client, services, redis):
    store = conversations(services)
    long_question = "查询" * 30
    first = await conversation_with(store, "wang1", ("  查询各服务区今年的营业收入 ", "很多"))
    second = await conversation_with(store, "wang1", (long_question, None))
    empty = await store.create_conversation("wang1")
    await redis.rpush("user:wang1:conversations", "wang1:20250101000000000")  # meta gone
    status, body = await get(client, "/api/v0/user/wang1/conversations")
    assert_success(status, body, "获取用户对话列表成功")
    data = body["data"]
    assert data["user_id"] == "wang1" and data["total_count"] == 3
    ids = [item["conversation_id"] for item in data["conversations"]]
    assert ids == [empty, second, first]
    titles = [item["conversation_title"] for item in data["conversations"]]
    assert titles == ["空对话", long_question[:47] + "...", "查询各服务区今年的营业收入"]
    item = data["conversations"][2]
    assert item["message_count"] == "2" and item["user_id"] == "wang1"
    assert set(item) == {
        "conversation_id",
        "user_id",
        "created_at",
        "updated_at",
        "message_count",
        "conversation_title",
    }
    status, body = await get(client, "/api/v0/user/wang1/conversations", limit=1)
    assert [c["conversation_id"] for c in body["data"]["conversations"]] == [empty]
    status, body = await get(client, "/api/v0/user/wang1/conversations", limit="abc")
    assert status == 200 and body["data"]["total_count"] == 3  # lenient like werkzeug


async def test_title_when_no_user_message_and_partial_meta(client, services, redis):
    store = conversations(services)
    cid = await store.create_conversation("wang1")
    await store.save_message(cid, "assistant", "只有回答")
    await redis.hset("conversation:wang1:20250101000000000:meta", "message_count", "0")
    await redis.lpush("user:wang1:conversations", "wang1:20250101000000000")
    status, body = await get(client, "/api/v0/user/wang1/conversations")
    assert status == 200
    items = body["data"]["conversations"]
    assert items[0]["conversation_id"] == "wang1:20250101000000000"  # filled in, no 500
    assert items[1]["conversation_title"] == "对话"


async def test_user_conversations_full(client, services):
    store = conversations(services)
    cids = [
        await conversation_with(store, "wang1", (f"q{i}a", "a"), (f"q{i}b", "b")) for i in range(3)
    ]
    status, body = await get(client, "/api/v0/user/wang1/conversations/full", message_limit=3)
    assert_success(status, body, "获取用户完整对话数据成功")
    data = body["data"]
    assert [c["conversation_id"] for c in data["conversations"]] == cids[::-1]
    newest = data["conversations"][0]
    assert newest["message_count"] == 3 and newest["meta"]["message_count"] == "4"
    assert [m["content"] for m in newest["messages"]] == ["a", "q2b", "b"]
    assert data["total_conversations"] == 3 and data["total_messages"] == 9
    assert data["conversation_limit_applied"] is None and data["message_limit_applied"] == 3
    assert datetime.fromisoformat(data["query_time"])
    status, body = await get(client, "/api/v0/user/wang1/conversations/full", conversation_limit=2)
    assert body["data"]["total_conversations"] == 2 and body["data"]["total_messages"] == 8


async def test_conversation_messages(client, services):
    store = conversations(services)
    cid = await conversation_with(
        store, "wang1", ("查询收入", "收入如下"), ("上个月呢", "上月如下")
    )
    status, body = await get(client, f"/api/v0/conversation/{cid}/messages")
    assert_success(status, body, "获取对话消息成功")
    data = body["data"]
    assert data["conversation_id"] == cid and data["message_count"] == 4
    assert data["conversation_meta"]["message_count"] == "4"
    assert [m["role"] for m in data["messages"]] == ["user", "assistant", "user", "assistant"]
    assert data["messages"][1]["metadata"] == {"type": "DATABASE", "sql": "S"}
    assert set(data["messages"][0]) == {"message_id", "timestamp", "role", "content", "metadata"}
    status, body = await get(client, f"/api/v0/conversation/{cid}/messages", limit=2)
    assert [m["content"] for m in body["data"]["messages"]] == ["上个月呢", "上月如下"]
    status, body = await get(client, "/api/v0/conversation/nobody:20250101000000000/messages")
    assert status == 200 and body["data"]["messages"] == []
    assert body["data"]["conversation_meta"] == {} and body["data"]["message_count"] == 0


async def test_conversation_context(client, services):
    store = conversations(services)
    cid = await conversation_with(store, "wang1", ("q1", "a1"), ("q2", "a2"), ("q3", "a3"))
    status, body = await get(client, f"/api/v0/conversation/{cid}/context")
    assert_success(status, body, "获取对话上下文成功")
    assert body["data"]["context"] == "User: q2\nAssistant: a2\nUser: q3\nAssistant: a3"
    assert body["data"]["context_message_count"] == 2
    status, body = await get(client, f"/api/v0/conversation/{cid}/context", count=1)
    assert body["data"]["context"] == "User: q3\nAssistant: a3"
    assert body["data"]["context_message_count"] == 1
    status, body = await get(client, "/api/v0/conversation/x:1/context")
    assert status == 200 and body["data"]["context"] == ""


async def test_conversation_stats(client, services, redis):
    store = conversations(services)
    await conversation_with(store, "wang1", ("q", "a"))
    await conversation_with(store, "li2", ("q", "a"))
    await redis.set("qa_cache:0123456789abcdef", "{}")
    status, body = await get(client, "/api/v0/conversation_stats")
    assert_success(status, body, "获取统计信息成功")
    data = body["data"]
    assert data["available"] is True
    assert (data["total_users"], data["total_conversations"], data["cached_qa_count"]) == (2, 2, 1)
    assert data["redis_info"]["memory_usage_mb"] > 0
    assert data["redis_info"]["connected_clients"] >= 1


async def test_app_client_serves_more_writers_than_its_pool(services, redis):
    """500 concurrent saves through the app's Redis pool (50 connections): none is dropped."""
    store = conversations(services)
    store.settings.conversation_max_length = 1000
    cid = await store.create_conversation("wang1")
    results = await asyncio.gather(*(store.save_message(cid, "user", f"q{i}") for i in range(500)))
    assert all(results)
    assert await redis.llen(f"conversation:{cid}:messages") == 500


# --- conversation_cleanup -----------------------------------------------------------------------


async def test_cleanup_delete_conversation_and_thread_alias(client, services, redis):
    store = conversations(services)
    cid = await conversation_with(store, "wang1", ("q", "a"), ("q2", "a2"))
    other = await conversation_with(store, "wang1", ("q", "a"))
    status, body = await post(client, "/api/v0/conversation_cleanup", {"conversation_id": cid})
    assert_success(status, body, "对话删除完成")
    data = body["data"]
    assert (data["conversation_id"], data["user_id"], data["deleted_messages"]) == (cid, "wang1", 4)
    assert data["existed"] is True and data["operation_mode"] == "delete_conversation"
    assert isinstance(data["execution_time_ms"], int)
    assert await redis.lrange("user:wang1:conversations", 0, -1) == [other]
    assert await redis.exists(f"conversation:{cid}:meta", f"conversation:{cid}:messages") == 0
    status, body = await post(client, "/api/v0/conversation_cleanup", {"thread_id": cid})
    assert status == 200 and body["data"]["existed"] is False and body["data"]["user_id"] is None


async def test_cleanup_delete_user(client, services, redis):
    store = conversations(services)
    await conversation_with(store, "wang1", ("q", "a"))
    await conversation_with(store, "wang1", ("q", None))
    keep = await conversation_with(store, "li2", ("q", "a"))
    status, body = await post(client, "/api/v0/conversation_cleanup", {"user_id": "wang1"})
    assert_success(status, body, "用户对话数据删除完成")
    data = body["data"]
    assert (data["deleted_conversations"], data["deleted_messages"]) == (2, 3)
    assert data["user_id"] == "wang1" and data["operation_mode"] == "delete_user"
    assert sorted(await redis.keys("*")) == sorted(
        [f"conversation:{keep}:meta", f"conversation:{keep}:messages", "user:li2:conversations"]
    )


async def test_cleanup_clear_all_agent_data(client, services, redis):
    store = conversations(services)
    await conversation_with(store, "wang1", ("q", "a"))
    await conversation_with(store, "li2", ("q", "a"))
    await redis.set("qa_cache:0123456789abcdef", "{}")
    await redis.set("embedding_cache:0123456789abcdef:m:8", "{}")
    status, body = await post(
        client, "/api/v0/conversation_cleanup", {"clear_all_agent_data": True}
    )
    assert_success(status, body, "所有agent对话数据清空完成")
    data = body["data"]
    assert data["deleted_conversation_metas"] == 2 and data["deleted_conversation_messages"] == 2
    assert data["deleted_user_conversations"] == 2 and data["total_keys_deleted"] == 6
    assert sorted(await redis.keys("*")) == [
        "embedding_cache:0123456789abcdef:m:8",
        "qa_cache:0123456789abcdef",
    ]


async def test_cleanup_invalid_refs(client, services, redis):
    store = conversations(services)
    cid = await conversation_with(store, "wang1", ("q", "a"))
    await redis.rpush("user:wang1:conversations", "wang1:20250101000000000")
    status, body = await post(
        client, "/api/v0/conversation_cleanup", {"cleanup_invalid_refs": True}
    )
    assert_success(status, body, "无效引用清理完成")
    assert body["data"]["processed_users"] == 1 and body["data"]["cleaned_references"] == 1
    assert body["data"]["operation_mode"] == "cleanup_invalid_refs"
    assert await redis.lrange("user:wang1:conversations", 0, -1) == [cid]


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        (
            {"data": "x", "headers": {"Content-Type": "text/plain"}},
            "请求格式错误：需要JSON格式的数据",
        ),
        (
            {"data": "{bad", "headers": {"Content-Type": "application/json"}},
            "请求格式错误：需要JSON格式的数据",
        ),
        (
            {"data": "", "headers": {"Content-Type": "application/json"}},
            "请求格式错误：需要JSON格式的数据",
        ),
        ({"json": [1, 2]}, "请求格式错误：需要JSON格式的数据"),
        (
            {"json": {"conversation_id": "a:1", "thread_id": "a:1"}},
            "参数冲突：conversation_id 和 thread_id 不能同时提供",
        ),
        ({"json": {"clear_all_agent_data": "false"}}, "clear_all_agent_data 必须是布尔值"),
        ({"json": {"user_id": 5}}, "user_id 必须是字符串"),
    ],
)
async def test_cleanup_rejects_bad_bodies(client, services, redis, kwargs, text):
    await conversation_with(conversations(services), "wang1", ("q", "a"))
    before = await redis.dbsize()
    status, body = await post(client, "/api/v0/conversation_cleanup", **kwargs)
    assert_bad_request(status, body, text)
    assert await redis.dbsize() == before


async def test_cleanup_mode_conflicts_and_missing_mode(client):
    status, body = await post(
        client, "/api/v0/conversation_cleanup", {"user_id": "wang1", "cleanup_invalid_refs": True}
    )
    assert_bad_request(status, body)
    assert body["data"]["response"] == (
        "参数冲突：不能同时提供多个操作模式参数，检测到: user_id, cleanup_invalid_refs"
    )
    assert body["data"]["conflicting_params"] == ["user_id", "cleanup_invalid_refs"]
    assert len(body["data"]["valid_modes"]) == 4
    for empty in ({}, None):
        status, body = await post(client, "/api/v0/conversation_cleanup", empty, json=empty)
        assert_bad_request(status, body, "参数错误：必须指定操作模式")
        assert body["data"]["error"].startswith("请提供以下参数组合之一")


# --- conversation_limit_enforcement -------------------------------------------------------------


async def seed_user(store, user_id, conversations_count, exchanges):
    for _ in range(conversations_count):
        pairs = [(f"q{i}", f"a{i}") for i in range(exchanges)]
        await conversation_with(store, user_id, *pairs)


@pytest.mark.parametrize("dry_run", ["absent", None, "", True])
async def test_limit_enforcement_without_explicit_false_changes_nothing(
    client, redis, services, dry_run
):
    store = conversations(services)
    await seed_user(store, "wang1", 4, 5)
    before = {key: await redis.dump(key) for key in await redis.keys("*")}
    body = {"user_max_conversations": 2, "conversation_max_length": 4}
    if dry_run != "absent":
        body["dry_run"] = dry_run
    status, reply = await post(client, "/api/v0/conversation_limit_enforcement", body)
    assert_success(status, reply, "限额执行完成")
    data = reply["data"]
    assert data["dry_run"] is True and data["mode"] == "global"
    assert data["total_conversations_deleted"] == 2 and data["total_messages_trimmed"] == 12
    assert {key: await redis.dump(key) for key in await redis.keys("*")} == before


async def test_limit_enforcement_real_run(client, redis, services):
    store = conversations(services)
    await seed_user(store, "wang1", 4, 5)
    await seed_user(store, "li2", 1, 1)
    body = {"user_id": "wang1", "user_max_conversations": 2, "dry_run": False}
    status, reply = await post(client, "/api/v0/conversation_limit_enforcement", body)
    assert_success(status, reply, "限额执行完成")
    data = reply["data"]
    assert data["mode"] == "user_specific" and data["dry_run"] is False
    assert data["parameters"] == {"user_max_conversations": 2, "conversation_max_length": 10}
    assert data["processed_users"] == 1 and data["total_conversations_processed"] == 4
    assert data["execution_summary"] == [
        {
            "user_id": "wang1",
            "original_conversations": 4,
            "kept_conversations": 2,
            "deleted_conversations": 2,
            "messages_trimmed": 0,
        }
    ]
    assert len(await redis.keys("conversation:wang1:*:meta")) == 2
    assert len(await redis.keys("conversation:wang1:*:messages")) == 2
    assert len(await redis.keys("conversation:li2:*")) == 2


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"user_max_conversations": 0}, "user_max_conversations 必须是大于0的整数"),
        ({"user_max_conversations": True}, "user_max_conversations 必须是大于0的整数"),
        ({"conversation_max_length": "5"}, "conversation_max_length 必须是大于0的整数"),
        ({"dry_run": "no"}, "dry_run 必须是布尔值"),
    ],
)
async def test_limit_enforcement_validation(client, body, text):
    status, reply = await post(client, "/api/v0/conversation_limit_enforcement", body)
    assert_bad_request(status, reply, text)


# --- embedding cache ----------------------------------------------------------------------------


async def test_embedding_cache_stats_and_cleanup(client, redis):
    vector = json.dumps({"question": "q", "vector": [0.1] * 1024, "version": "1.0"})
    for i in range(3):
        await redis.set(f"embedding_cache:{i:016x}:text-embedding-v4:1024", vector)
    await redis.set("qa_cache:0123456789abcdef", "{}")
    status, body = await get(client, "/api/v0/embedding_cache_stats")
    assert_success(status, body, "获取embedding缓存统计成功")
    data = body["data"]
    assert data["enabled"] is True and data["available"] is True and data["total_count"] == 3
    assert data["memory_usage_mb"] == round(len(vector) * 3 / 1048576, 2)
    status, body = await post(client, "/api/v0/embedding_cache_cleanup")
    assert_success(status, body, "所有embedding缓存已清空")
    assert body["data"]["cleared"] is True
    assert await redis.keys("*") == ["qa_cache:0123456789abcdef"]


async def test_embedding_cache_cleanup_when_disabled(settings, redis):
    from citu.app import create_app

    settings.enable_embedding_cache = False
    app = create_app(settings)
    await redis.set("embedding_cache:0123456789abcdef:m:8", "{}")
    async with app.test_app():
        status, body = await post(app.test_client(), "/api/v0/embedding_cache_cleanup")
        stats_status, stats = await get(app.test_client(), "/api/v0/embedding_cache_stats")
    assert status == 400 and body["code"] == 500 and body["message"] == "系统内部错误"
    assert body["data"]["response"] == "Embedding缓存功能未启用或不可用"
    assert stats_status == 200 and stats["data"]["enabled"] is False
    assert await redis.exists("embedding_cache:0123456789abcdef:m:8") == 1


# --- question-answer cache ----------------------------------------------------------------------


def cached_answer(question, cached_at, sql="SELECT 1", rows=None):
    return json.dumps(
        {
            "success": True,
            "type": "DATABASE",
            "response": "回答",
            "sql": sql,
            "summary": "摘要" if sql else None,
            "query_result": {"columns": ["n"], "rows": rows or [], "row_count": len(rows or [])},
            "execution_path": ["start", "format_response"],
            "cached_at": cached_at.isoformat(),
            "original_question": question,
        },
        ensure_ascii=False,
    )


async def seed_qa(redis, ages_hours):
    now = datetime.now()
    keys = []
    for i, hours in enumerate(ages_hours):
        key = qa_cache_key(f"问题{i}")
        await redis.set(key, cached_answer(f"问题{i}", now - timedelta(hours=hours)), ex=86_400)
        keys.append(key)
    return keys


async def test_qa_cache_stats(client, redis):
    await seed_qa(redis, [1, 2])
    status, body = await get(client, "/api/v0/qa_cache_stats")
    assert_success(status, body, "获取问答缓存统计成功")
    data = body["data"]
    assert data["available"] is True and data["enabled"] is False and data["total_count"] == 2
    assert data["ttl_seconds"] == 86_400 and data["ttl_hours"] == 24.0
    assert isinstance(data["memory_usage_mb"], int | float)


async def test_qa_cache_list_sorted_newest_first_with_top_level_fields(settings, redis):
    from citu.app import create_app

    settings.enable_question_answer_cache = True
    keys = await seed_qa(redis, [5, 1, 3])
    await redis.set(qa_cache_key("无SQL"), cached_answer("无SQL", datetime.now(), sql=None))
    app = create_app(settings)
    async with app.test_app():
        status, body = await get(app.test_client(), "/api/v0/qa_cache_list", limit=3)
        _, everything = await get(app.test_client(), "/api/v0/qa_cache_list", limit=9999)
    assert_success(status, body, "获取问答缓存列表成功")
    items = body["data"]["cache_list"]
    assert [item["cache_key"] for item in items] == [qa_cache_key("无SQL"), keys[1], keys[2]]
    assert items[1] == {
        "cache_key": keys[1],
        "question": "问题1",
        "cached_at": items[1]["cached_at"],
        "ttl_seconds": items[1]["ttl_seconds"],
        "response_type": "DATABASE",
        "has_sql": True,
        "has_summary": True,
    }
    assert 86_000 < items[1]["ttl_seconds"] <= 86_400
    assert items[0]["has_sql"] is False
    assert body["data"]["limit_applied"] == 3 and body["data"]["total_returned"] == 3
    assert body["data"]["note"] == "按缓存时间倒序排列，最新的在前面"
    assert everything["data"]["limit_applied"] == 500 and everything["data"]["total_returned"] == 4


async def test_qa_cache_list_empty_while_disabled(client, redis):
    await seed_qa(redis, [1])
    status, body = await get(client, "/api/v0/qa_cache_list", limit=0)
    assert (
        status == 200 and body["data"]["cache_list"] == [] and body["data"]["limit_applied"] == 50
    )


async def test_qa_cache_cleanup(client, redis):
    await seed_qa(redis, [1, 2])
    await redis.set("embedding_cache:0123456789abcdef:m:8", "{}")
    status, body = await post(client, "/api/v0/qa_cache_cleanup")
    assert_success(status, body, "问答缓存清理完成")
    assert body["data"]["deleted_count"] == 2 and body["data"]["cleared"] is True
    assert datetime.fromisoformat(body["data"]["cleanup_time"])
    assert await redis.keys("*") == ["embedding_cache:0123456789abcdef:m:8"]
    status, body = await post(client, "/api/v0/qa_cache_cleanup")
    assert body["data"] == {**body["data"], "deleted_count": 0, "cleared": False}


# --- the old in-process cache routes over the answer cache --------------------------------------


async def test_cache_overview(client, redis):
    keys = await seed_qa(redis, [0.5, 30])
    status, body = await get(client, "/api/v0/cache_overview")
    assert_success(status, body, "缓存概览查询完成")
    data = body["data"]
    assert data["overview_summary"]["total_conversations"] == 2
    assert data["overview_summary"]["total_sessions"] == 0 and data["session_summary"] == []
    recent = data["recent_conversations"]
    assert [item["conversation_id"] for item in recent] == keys
    assert recent[0]["has_question"] and recent[0]["has_sql"] and not recent[0]["has_data"]
    assert recent[0]["question_preview"] == "问题0" and recent[0]["session_id"] is None
    assert 1700 < recent[0]["conversation_duration_seconds"] < 1900


async def test_cache_overview_full(client, services, redis):
    await seed_qa(redis, [1])
    await redis.set("embedding_cache:0123456789abcdef:m:8", "{}")
    await conversation_with(conversations(services), "wang1", ("q", "a"))
    status, body = await get(client, "/api/v0/cache_overview_full")
    assert_success(status, body, "获取综合缓存概览成功")
    data = body["data"]
    assert data["conversation_aware_cache"]["total_items"] == 1
    assert data["conversation_aware_cache"]["sessions"] == [qa_cache_key("问题0")]
    assert data["question_answer_cache"]["total_count"] == 1
    assert data["embedding_cache"]["total_count"] == 1
    assert data["redis_conversation_stats"]["total_conversations"] == 1


async def test_cache_stats_age_buckets(client, redis):
    await seed_qa(redis, [0.5, 3, 12, 48])
    status, body = await get(client, "/api/v0/cache_stats")
    assert_success(status, body, "缓存统计信息查询完成")
    data = body["data"]
    assert data["basic_stats"]["total_conversations"] == 4
    assert data["time_distribution"]["conversations"] == {
        "last_1_hour": 1,
        "last_6_hours": 1,
        "last_24_hours": 1,
        "last_7_days": 1,
        "older": 0,
    }
    assert data["time_distribution"]["sessions"]["older"] == 0
    ranges = data["time_ranges"]
    assert ranges["oldest_conversation"] < ranges["newest_conversation"]


async def test_cache_export(client, redis):
    key = qa_cache_key("问题0")
    await redis.set(key, cached_answer("问题0", datetime.now(), rows=[{"n": 1}, {"n": 2}]))
    status, body = await get(client, "/api/v0/cache_export")
    assert_success(status, body, "缓存数据导出完成")
    data = body["data"]
    assert data["export_metadata"]["total_conversations"] == 1
    item = data["conversations"][key]
    assert item["fields"]["question"]["content"] == "问题0"
    assert item["fields"]["sql"]["text_length"] == len("SELECT 1")
    df = item["fields"]["df"]
    assert df["dataframe_info"]["shape"] == [2, 1] and df["data"] == [{"n": 1}, {"n": 2}]
    assert df["dataframe_info"]["dtypes"] == {"n": "int"}
    assert data["cache_statistics"]["total_dataframes"] == 1
    assert data["cache_statistics"]["total_questions"] == 1
    assert key in data["conversation_times"]


async def test_cache_preview_cleanup_changes_nothing(client, redis):
    keys = await seed_qa(redis, [1, 30, 50])
    status, body = await post(client, "/api/v0/cache_preview_cleanup", {"older_than_hours": 24})
    assert_success(status, body, "清理预览完成，将删除 0 个会话和 2 个对话")
    data = body["data"]
    assert data["time_condition"] == "older_than_hours: 24"
    removed = [item["conversation_id"] for item in data["will_be_removed"]["conversations"]]
    assert removed == keys[1:]
    assert data["summary"] == {
        "sessions_to_remove": 0,
        "conversations_to_remove": 2,
        "sessions_to_keep": 0,
        "conversations_to_keep": 1,
    }
    assert await redis.dbsize() == 3


async def test_cache_cleanup_by_age_and_timestamp(client, redis):
    keys = await seed_qa(redis, [1, 30, 50])
    status, body = await post(client, "/api/v0/cache_cleanup", {"older_than_days": 1.5})
    assert_success(status, body, "缓存清理完成，删除了 0 个会话和 1 个对话")
    assert body["data"]["removed_conversation_ids"] == [keys[2]]
    assert body["data"]["conversations_kept"] == 2
    stamp = (datetime.now() - timedelta(hours=10)).strftime("%Y-%m-%d %H:%M:%S")
    status, body = await post(client, "/api/v0/cache_cleanup", {"before_timestamp": stamp})
    assert body["data"]["removed_conversation_ids"] == [keys[1]]
    assert await redis.keys("*") == [keys[0]]


@pytest.mark.parametrize("path", ["/api/v0/cache_preview_cleanup", "/api/v0/cache_cleanup"])
async def test_cache_cleanup_validation(client, redis, path):
    await seed_qa(redis, [100])
    status, body = await post(client, path, {})
    assert_bad_request(status, body)
    assert body["data"]["missing_params"] == [
        "older_than_hours",
        "older_than_days",
        "before_timestamp",
    ]
    status, body = await post(client, path, {"before_timestamp": "yesterday"})
    assert status == 422 and body["code"] == 422 and body["message"] == "参数验证失败"
    assert body["data"]["response"] == "before_timestamp格式错误，请使用 YYYY-MM-DD HH:MM:SS 格式"
    status, body = await post(client, path, {"older_than_hours": "24"})
    assert_bad_request(status, body)
    assert body["data"]["invalid_params"] == ["older_than_hours"]
    assert await redis.dbsize() == 1
