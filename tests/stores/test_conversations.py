"""ConversationStore against the real Redis: key layout, atomic writes, TTLs, limits, cleanup."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from citu.errors import BadRequest
from citu.settings import Settings
from citu.stores.conversations import (
    ConversationStore,
    enhance_question,
    extract_user_id,
    is_valid_user_id,
)

ID_FORMAT = re.compile(r"^wang1:\d{17}$")


def make_store(redis, **overrides) -> ConversationStore:
    return ConversationStore(redis, Settings(_env_file=None, **overrides))


@pytest.fixture
def store(redis):
    return make_store(redis)


async def seed(redis, user_id: str, conversation_id: str, created_at: str, messages: int = 0):
    """A conversation written the way the old service wrote it (for compatibility tests)."""
    await redis.hset(
        f"conversation:{conversation_id}:meta",
        mapping={
            "conversation_id": conversation_id,
            "user_id": user_id,
            "created_at": created_at,
            "updated_at": created_at,
            "message_count": str(messages),
        },
    )
    for i in range(messages):
        role = "user" if i % 2 == 0 else "assistant"
        message = {"message_id": str(i), "timestamp": created_at, "role": role}
        await redis.lpush(
            f"conversation:{conversation_id}:messages",
            json.dumps({**message, "content": f"m{i}", "metadata": {}}),
        )
    await redis.lpush(f"user:{user_id}:conversations", conversation_id)


async def test_create_writes_the_old_layout_with_ttls(store, redis):
    cid = await store.create_conversation("wang1")
    assert ID_FORMAT.match(cid)
    meta = await redis.hgetall(f"conversation:{cid}:meta")
    assert meta["conversation_id"] == cid and meta["user_id"] == "wang1"
    assert meta["message_count"] == "0" and meta["created_at"] == meta["updated_at"]
    assert await redis.lrange("user:wang1:conversations", 0, -1) == [cid]
    assert 604_000 < await redis.ttl(f"conversation:{cid}:meta") <= 604_800
    assert 604_000 < await redis.ttl("user:wang1:conversations") <= 604_800


async def test_same_millisecond_creations_get_distinct_ids(store, redis):
    ids = await asyncio.gather(*(store.create_conversation("wang1") for _ in range(5)))
    assert len(set(ids)) == 5 and all(ID_FORMAT.match(cid) for cid in ids)
    assert sorted(await redis.lrange("user:wang1:conversations", 0, -1)) == sorted(ids)


async def test_save_message_updates_meta_and_refreshes_every_ttl(store, redis):
    cid = await store.create_conversation("wang1")
    for key in (f"conversation:{cid}:meta", "user:wang1:conversations"):
        await redis.expire(key, 100)  # as if created long ago
    assert await store.save_message(cid, "user", "你好", None)
    meta = await redis.hgetall(f"conversation:{cid}:meta")
    assert meta["message_count"] == "1" and meta["updated_at"] >= meta["created_at"]
    for key in (
        f"conversation:{cid}:meta",
        f"conversation:{cid}:messages",
        "user:wang1:conversations",
    ):
        assert await redis.ttl(key) > 604_000, key
    stored = json.loads((await redis.lrange(f"conversation:{cid}:messages", 0, 0))[0])
    assert stored["role"] == "user" and stored["content"] == "你好" and stored["metadata"] == {}
    assert set(stored) == {"message_id", "timestamp", "role", "content", "metadata"}


async def test_save_message_never_resurrects_a_deleted_conversation(store, redis):
    cid = await store.create_conversation("wang1")
    await store.delete_conversation(cid)
    assert await store.save_message(cid, "assistant", "late answer") is False
    assert await redis.exists(f"conversation:{cid}:meta", f"conversation:{cid}:messages") == 0


async def test_fifty_concurrent_writers_lose_no_message(redis):
    store = make_store(redis, conversation_max_length=100)
    cid = await store.create_conversation("wang1")
    results = await asyncio.gather(
        *(store.save_message(cid, "user", f"question {i}") for i in range(50))
    )
    assert all(results)
    messages = await redis.lrange(f"conversation:{cid}:messages", 0, -1)
    contents = {json.loads(m)["content"] for m in messages}
    assert contents == {f"question {i}" for i in range(50)}
    assert (await redis.hgetall(f"conversation:{cid}:meta"))["message_count"] == "50"


async def test_concurrent_writers_keep_count_consistent_when_trimmed(store, redis):
    cid = await store.create_conversation("wang1")
    await asyncio.gather(*(store.save_message(cid, "user", f"q{i}") for i in range(50)))
    assert await redis.llen(f"conversation:{cid}:messages") == 10
    assert (await redis.hgetall(f"conversation:{cid}:meta"))["message_count"] == "10"


async def test_trimming_the_user_list_deletes_dropped_conversations(store, redis):
    ids = []
    for i in range(7):
        ids.append(await store.create_conversation("wang1"))
        await store.save_message(ids[-1], "user", f"q{i}")
    listed = await redis.lrange("user:wang1:conversations", 0, -1)
    assert listed == list(reversed(ids[2:]))
    for dropped in ids[:2]:
        assert await redis.exists(f"conversation:{dropped}:meta") == 0
        assert await redis.exists(f"conversation:{dropped}:messages") == 0
    assert len(await redis.keys("conversation:*:meta")) == 5


async def test_get_context_formats_the_newest_exchanges(store, redis):
    cid = await store.create_conversation("wang1")
    for i in range(3):
        await store.save_message(cid, "user", f"问题{i}")
        await store.save_message(cid, "assistant", f"回答{i}", {"type": "DATABASE"})
    context = await store.get_context(cid)
    assert context == "User: 问题1\nAssistant: 回答1\nUser: 问题2\nAssistant: 回答2"
    assert await store.get_context(cid, count=1) == "User: 问题2\nAssistant: 回答2"
    assert enhance_question("那上个月呢", context) == (
        "\n[CONTEXT]\n" + context + "\n\n[CURRENT]\n那上个月呢"
    )
    assert enhance_question("q", "") == "q"
    assert await store.get_context_type(cid) == "DATABASE"


async def test_get_context_respects_the_switch(redis):
    store = make_store(redis, enable_conversation_context=False)
    cid = await store.create_conversation("wang1")
    await store.save_message(cid, "user", "q")
    assert await store.get_context(cid) == ""
    assert await store.get_context_for_display(cid) == "User: q"


async def test_resolve_conversation_statuses(store):
    new_id, status = await store.resolve_conversation_id("wang1")
    assert status == {"status": "new", "message": "创建新对话"}
    same, status = await store.resolve_conversation_id("wang1", new_id)
    assert same == new_id and status == {"status": "continue", "message": "继续已有对话"}
    recent, status = await store.resolve_conversation_id("wang1", None, True)
    assert recent == new_id and status == {"status": "continue", "message": "继续最近对话"}
    other, status = await store.resolve_conversation_id("li2", new_id)
    assert other != new_id and other.startswith("li2:")
    assert status == {
        "status": "invalid_id_new",
        "message": "您请求的对话不存在或无权访问，已为您创建新对话",
        "requested_id": new_id,
    }


async def test_continue_skips_a_recent_id_whose_meta_is_gone(store, redis):
    await redis.lpush("user:wang1:conversations", "wang1:20250101000000000")
    cid, status = await store.resolve_conversation_id("wang1", None, True)
    assert cid != "wang1:20250101000000000" and status["status"] == "new"


def test_resolve_user_id_rules(redis):
    store = make_store(redis)
    assert store.resolve_user_id() == "guest"
    assert store.resolve_user_id(None, "wang1:20250101000000000") == "wang1"
    assert store.resolve_user_id("wang1", "wang1:20250101000000000") == "wang1"
    assert store.resolve_user_id("wang1", None, login_user_id="boss") == "boss"
    with pytest.raises(BadRequest) as mismatch:
        store.resolve_user_id("li2", "wang1:20250101000000000")
    assert "用户ID不匹配" in str(mismatch.value)
    assert mismatch.value.invalid_params == ["user_id", "conversation_id"]
    with pytest.raises(BadRequest):
        store.resolve_user_id("a*b")
    assert extract_user_id("nocolon") == "unknown"
    assert is_valid_user_id("张三") and not is_valid_user_id("a:b") and not is_valid_user_id("")


async def test_qa_cache_round_trip_keyed_by_context(redis):
    store = make_store(redis, enable_question_answer_cache=True)
    result = {"success": True, "type": "DATABASE", "sql": "SELECT 1", "response": "一"}
    assert await store.cache_answer(" Top 3 ", result)
    hit = await store.get_cached_answer("top 3")
    assert hit["sql"] == "SELECT 1" and hit["original_question"] == " Top 3 " and hit["cached_at"]
    assert await store.get_cached_answer("top 3", context="User: x") is None
    assert await store.cache_answer("top 3", {**result, "sql": "SELECT 2"}, context="User: x")
    assert (await store.get_cached_answer("top 3", context="User: x"))["sql"] == "SELECT 2"
    assert not await store.cache_answer("q", {"success": False})


async def test_qa_cache_disabled_by_default(store, redis):
    assert not await store.cache_answer("q", {"success": True})
    await redis.set("qa_cache:0000000000000000", "{}")
    assert await store.get_cached_answer("q") is None
    assert await redis.dbsize() == 1


async def test_enforce_limits_deletes_without_orphans(store, redis):
    for i in range(8):
        await seed(redis, "wang1", f"wang1:2025010100000{i}000", f"2025-01-01T00:00:0{i}", 12)
    report = await store.enforce_limits(user_id="wang1", dry_run=False)
    assert report["execution_summary"] == [
        {
            "user_id": "wang1",
            "original_conversations": 8,
            "kept_conversations": 5,
            "deleted_conversations": 3,
            "messages_trimmed": 10,
        }
    ]
    kept = await redis.lrange("user:wang1:conversations", 0, -1)
    assert kept == [f"wang1:2025010100000{i}000" for i in (7, 6, 5, 4, 3)]
    metas = {key.split(":", 1)[1].rsplit(":", 1)[0] for key in await redis.keys("*:meta")}
    messages = {key.split(":", 1)[1].rsplit(":", 1)[0] for key in await redis.keys("*:messages")}
    assert metas == messages == set(kept)  # nothing left behind by the deleted three
    for cid in kept:
        assert await redis.llen(f"conversation:{cid}:messages") == 10
        assert (await redis.hgetall(f"conversation:{cid}:meta"))["message_count"] == "10"
    assert await redis.ttl("user:wang1:conversations") > 604_000


async def test_enforce_limits_dry_run_changes_nothing(store, redis):
    for i in range(7):
        await seed(redis, "wang1", f"wang1:2025010100000{i}000", f"2025-01-01T00:00:0{i}", 12)
    before = {key: await redis.dump(key) for key in await redis.keys("*")}
    report = await store.enforce_limits(max_conversations=2, max_length=3, dry_run=True)
    assert report["mode"] == "global" and report["dry_run"] is True
    assert report["total_conversations_deleted"] == 5 and report["total_messages_trimmed"] == 18
    after = {key: await redis.dump(key) for key in await redis.keys("*")}
    assert after == before


async def test_cleanup_invalid_refs_keeps_order_and_valid_ids(store, redis):
    await seed(redis, "wang1", "wang1:20250101000000001", "2025-01-01T00:00:01")
    await redis.lpush("user:wang1:conversations", "wang1:20250101000000002")  # meta gone
    await redis.rpush(f"conversation:{'wang1:20250101000000002'}:messages", "{}")
    await seed(redis, "wang1", "wang1:20250101000000003", "2025-01-01T00:00:03")
    assert await store.cleanup_invalid_refs() == {"processed_users": 1, "cleaned_references": 1}
    assert await redis.lrange("user:wang1:conversations", 0, -1) == [
        "wang1:20250101000000003",
        "wang1:20250101000000001",
    ]
    assert await redis.exists("conversation:wang1:20250101000000002:messages") == 0


async def test_delete_user_includes_unlisted_conversations(store, redis):
    await seed(redis, "wang1", "wang1:20250101000000001", "2025-01-01T00:00:01", 3)
    await seed(redis, "wang1", "wang1:20250101000000002", "2025-01-01T00:00:02", 2)
    await redis.lrem("user:wang1:conversations", 0, "wang1:20250101000000002")  # old LTRIM
    await seed(redis, "wang10", "wang10:20250101000000001", "2025-01-01T00:00:01", 1)
    report = await store.delete_user_conversations("wang1")
    assert report["deleted_conversations"] == 2 and report["deleted_messages"] == 5
    assert sorted(await redis.keys("*")) == [
        "conversation:wang10:20250101000000001:messages",
        "conversation:wang10:20250101000000001:meta",
        "user:wang10:conversations",
    ]


async def test_list_rebuild_does_not_lose_a_concurrent_creation(store, redis):
    for i in range(6):
        await seed(redis, "wang1", f"wang1:2025010100000{i}000", f"2025-01-01T00:00:0{i}")
    created, _ = await asyncio.gather(
        store.create_conversation("wang1"),
        store.enforce_limits(user_id="wang1", max_conversations=3, dry_run=False),
    )
    assert created in await redis.lrange("user:wang1:conversations", 0, -1)
