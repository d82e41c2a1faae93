"""The Redis embedding cache: key layout, TTL, eviction, and its use by the embedder."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from citu.training.embedder import Embedder
from citu.training.embedding_cache import EmbeddingCache, cache_key


def test_key_format():
    digest = hashlib.sha256("服务区有多少个？".encode()).hexdigest()[:16]
    assert cache_key("服务区有多少个？", "text-embedding-v4", 1024) == (
        f"embedding_cache:{digest}:text-embedding-v4:1024"
    )


async def test_put_get_value_and_ttl(services, redis, settings):
    cache = EmbeddingCache(services.redis, settings)
    vector = [0.5] * settings.embedding_dimension
    assert await cache.put("问题", vector)
    key = cache.key("问题")
    value = json.loads(await redis.get(key))
    assert value["question"] == "问题" and value["vector"] == vector
    assert value["model_name"] == "fake-embedding" and value["dimension"] == 1024
    assert value["version"] == "1.0" and value["created_at"]
    assert 0 < await redis.ttl(key) <= settings.embedding_cache_ttl
    assert await cache.get("问题") == vector
    assert await cache.get("别的问题") is None
    assert not await cache.put("空", [])


async def test_eviction_drops_keys_closest_to_expiry(services, redis, settings):
    settings.embedding_cache_max_size = 10
    cache = EmbeddingCache(services.redis, settings)
    vector = [0.1] * settings.embedding_dimension
    for i in range(10):
        await cache.put(f"q{i}", vector)
        await redis.expire(cache.key(f"q{i}"), 1000 + i)
    await redis.expire(cache.key("q3"), 10)  # the least remaining life
    await redis.set("conversation:x:meta", "untouched")
    cache._puts_before_count = 0  # as if the headroom seen last was used up (other workers)
    await cache.put("q10", vector)
    keys = {k async for k in redis.scan_iter(match="embedding_cache:*")}
    # Down to 90 % of the maximum: q3 and then q0 (next closest to expiry) go.
    assert keys == {cache.key(f"q{i}") for i in (1, 2, 4, 5, 6, 7, 8, 9, 10)}
    assert await redis.get("conversation:x:meta") == "untouched"


async def test_keys_are_not_counted_on_every_write(services, redis, settings):
    settings.embedding_cache_max_size = 100
    cache = EmbeddingCache(services.redis, settings)
    await cache.put("first", [0.1] * settings.embedding_dimension)
    assert cache._puts_before_count == 49  # half the headroom: other workers write too


async def test_second_query_embedding_comes_from_the_cache(services, redis, fake_llm):
    embedder = services.embedder
    first = await embedder.embed_query("各服务区的营业收入")
    calls = len(fake_llm.embedding_requests)
    second = await embedder.embed_query("各服务区的营业收入")
    assert len(fake_llm.embedding_requests) == calls
    assert np.allclose(first, second) and abs(float(np.linalg.norm(second)) - 1) < 1e-5
    assert await redis.exists(embedder.cache.key("各服务区的营业收入"))


async def test_retrieval_uses_the_cache(services, fake_llm):
    retriever = services.retriever
    await retriever.retrieve("哪个服务区车流量最大")
    calls = len(fake_llm.embedding_requests)
    await retriever.retrieve("哪个服务区车流量最大")
    assert len(fake_llm.embedding_requests) == calls == 1


async def test_unreachable_redis_only_skips_the_cache(services, settings, fake_llm):
    from redis.asyncio import Redis

    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    embedder = Embedder(services.embeddings, EmbeddingCache(down, settings), settings)
    vector = await embedder.embed_query("问题")
    assert vector.shape == (settings.embedding_dimension,)
    assert len(fake_llm.embedding_requests) == 1
    await down.aclose()
