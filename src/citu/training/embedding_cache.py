"""Redis cache of question embeddings, in the old service's key layout.

Key ``embedding_cache:<first 16 hex of sha256(question)>:<model>:<dimension>``, value JSON
``{question, vector, model_name, dimension, created_at, version}``, SETEX with the configured
TTL. When more than ``embedding_cache_max_size`` keys exist after a write, the keys with the
least remaining life are deleted. A Redis failure never fails a request: the cache is skipped.

Counting and evicting cost a SCAN (and a TTL per key) over up to max_size keys, ~100 ms at
5000: so the count is taken only when the headroom seen last time may be used up, and an
eviction goes down to 90 % of the maximum rather than to exactly the maximum.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from citu.settings import Settings

log = logging.getLogger("citu.training.embedding_cache")

KEY_PREFIX = "embedding_cache:"
KEY_PATTERN = f"{KEY_PREFIX}*"
VALUE_VERSION = "1.0"
_SCAN_COUNT = 1000
_LOW_WATER = 0.9  # an eviction leaves this share of max_size


def cache_key(question: str, model_name: str, dimension: int | str) -> str:
    digest = hashlib.sha256(question.encode("utf-8")).hexdigest()[:16]
    return f"{KEY_PREFIX}{digest}:{model_name}:{dimension}"


class EmbeddingCache:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.model_name = settings.embedding_model
        self.dimension = settings.embedding_dimension
        self.ttl = settings.embedding_cache_ttl
        self.max_size = settings.embedding_cache_max_size
        self._puts_before_count = 0  # writes left before the keys must be counted again

    def key(self, question: str) -> str:
        return cache_key(question, self.model_name, self.dimension)

    async def get(self, question: str) -> list[float] | None:
        try:
            raw = await self.redis.get(self.key(question))
        except RedisError as error:
            log.warning("embedding cache read failed: %s", error)
            return None
        if not raw:
            return None
        try:
            vector = json.loads(raw).get("vector")
        except (ValueError, AttributeError):
            return None
        if not vector or len(vector) != self.dimension:
            return None
        return vector

    async def put(self, question: str, vector: list[float]) -> bool:
        if not vector:
            return False
        value = {
            "question": question,
            "vector": [float(x) for x in vector],
            "model_name": self.model_name,
            "dimension": len(vector),
            "created_at": datetime.now().isoformat(),
            "version": VALUE_VERSION,
        }
        try:
            payload = json.dumps(value, ensure_ascii=False)
            await self.redis.set(self.key(question), payload, ex=self.ttl)
            self._puts_before_count -= 1
            if self._puts_before_count <= 0:
                await self.evict_if_needed()
        except RedisError as error:
            log.warning("embedding cache write failed: %s", error)
            return False
        return True

    async def evict_if_needed(self) -> int:
        """Over ``max_size`` keys: drop those closest to expiry down to 90 % of it. Returns
        how many were deleted."""
        keys = [key async for key in self.redis.scan_iter(match=KEY_PATTERN, count=_SCAN_COUNT)]
        victims: list[str] = []
        if len(keys) > self.max_size:
            keep = int(self.max_size * _LOW_WATER)
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.ttl(key)
                ttls = await pipe.execute()
            ranked = sorted((ttl, key) for key, ttl in zip(keys, ttls, strict=True) if ttl > 0)
            victims = [key for _, key in ranked[: len(keys) - keep]]
            if victims:
                await self.redis.delete(*victims)
                log.info("embedding cache evicted %d keys (max %d)", len(victims), self.max_size)
        # Other workers write too: only half of the headroom seen is trusted.
        headroom = self.max_size - (len(keys) - len(victims))
        self._puts_before_count = max(1, headroom // 2)
        return len(victims)
