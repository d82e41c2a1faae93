"""QA cache keys and administration against the real Redis."""

from __future__ import annotations

import hashlib
import json

from citu.settings import Settings
from citu.stores.caches import EmbeddingCacheAdmin, QuestionAnswerCache, qa_cache_key


def test_key_without_context_is_the_old_services_key():
    expected = "qa_cache:" + hashlib.md5("查询 top 3".encode()).hexdigest()[:16]
    assert qa_cache_key("  查询 TOP 3 \n") == expected
    assert qa_cache_key("查询 top 3", context="User: q") != expected


async def test_time_based_delete_spares_an_entry_recached_meanwhile(redis):
    cache = QuestionAnswerCache(redis, Settings(_env_file=None, enable_question_answer_cache=True))
    await cache.put("old", {"success": True})
    await cache.put("also old", {"success": True})
    entries = await cache.entries()
    key = qa_cache_key("old")
    payload = json.loads(await redis.get(key))
    await redis.set(key, json.dumps({**payload, "cached_at": "2999-01-01T00:00:00"}))
    deleted = await cache.delete_entries(entries)
    assert deleted == [qa_cache_key("also old")]
    assert await redis.exists(key) == 1


async def test_entries_skip_unparsable_values_and_sort_newest_first(redis):
    cache = QuestionAnswerCache(redis, Settings(_env_file=None))
    await redis.set("qa_cache:aaaaaaaaaaaaaaaa", json.dumps({"cached_at": "2025-01-01T00:00:00"}))
    await redis.set("qa_cache:bbbbbbbbbbbbbbbb", json.dumps({"cached_at": "2025-02-01T00:00:00"}))
    await redis.set("qa_cache:cccccccccccccccc", "not json")
    keys = [entry.key for entry in await cache.entries()]
    assert keys == ["qa_cache:bbbbbbbbbbbbbbbb", "qa_cache:aaaaaaaaaaaaaaaa"]


async def test_embedding_admin_counts_only_embedding_keys(redis):
    admin = EmbeddingCacheAdmin(redis, Settings(_env_file=None))
    await redis.set("embedding_cache:0123456789abcdef:text-embedding-v4:1024", "x" * 1000)
    await redis.set("qa_cache:0123456789abcdef", "{}")
    stats = await admin.stats()
    assert stats["total_count"] == 1 and stats["available"] is True
    assert await admin.clear() == 1 and await redis.dbsize() == 1
