"""The question-answer cache and the administration of the Redis caches.

Keys stay those of the old service's Redis DB 1, so an existing deployment's entries remain
readable: ``qa_cache:<16 hex>`` and ``embedding_cache:<16 hex>:<model>:<dimension>``. The
embedding cache's get/put belongs to ``citu.training.embedding_cache``; only its statistics
and clearing live here. Every key walk uses SCAN, never KEYS.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from citu.responses import now_iso
from citu.settings import Settings

log = logging.getLogger("citu.stores.caches")

QA_PREFIX = "qa_cache:"
EMBEDDING_PREFIX = "embedding_cache:"
SCAN_COUNT = 500
MEMORY_SAMPLE = 20  # values read to estimate the average entry size

# Delete an entry only while it still holds the ``cached_at`` the caller judged, so an answer
# re-cached between the read and the delete survives a time-based cleanup.
_DELETE_IF_UNCHANGED = """
local deleted = {}
for i, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value then
    local ok, entry = pcall(cjson.decode, value)
    local cached_at = ''
    if ok and type(entry) == 'table' and type(entry['cached_at']) == 'string' then
      cached_at = entry['cached_at']
    end
    if cached_at == ARGV[i] and redis.call('DEL', key) == 1 then
      table.insert(deleted, key)
    end
  end
end
return deleted
"""


def qa_cache_key(question: str, context: str = "") -> str:
    """``qa_cache:`` + 16 hex of MD5 over the normalised question, plus the context if any.

    Without context the key is the old service's, so existing entries still hit; with context
    the context is part of the hash, so a follow-up such as "那上个月呢" never receives an
    answer cached for the same words asked in another conversation.
    """
    material = question.strip().lower()
    if context:
        material = f"{material}\n[CONTEXT]\n{context}"
    return QA_PREFIX + hashlib.md5(material.encode("utf-8")).hexdigest()[:16]


async def scan_keys(redis: Redis, pattern: str) -> list[str]:
    """All keys matching ``pattern``, walked with SCAN (never the blocking KEYS)."""
    return [key async for key in redis.scan_iter(match=pattern, count=SCAN_COUNT)]


async def delete_keys(redis: Redis, keys: list[str]) -> int:
    """DEL in batches, so one call never carries an unbounded argument list."""
    deleted = 0
    for start in range(0, len(keys), SCAN_COUNT):
        deleted += await redis.delete(*keys[start : start + SCAN_COUNT])
    return deleted


async def estimate_memory_mb(redis: Redis, keys: list[str]) -> float:
    """Average size of a few values times the key count, in MB with 2 decimals."""
    if not keys:
        return 0
    sample = keys[:MEMORY_SAMPLE]
    async with redis.pipeline(transaction=False) as pipe:
        for key in sample:
            pipe.strlen(key)
        sizes = await pipe.execute()
    average = sum(sizes) / len(sample)
    return round(average * len(keys) / 1048576, 2)


def parse_local_iso(text: Any) -> datetime | None:
    """A naive local ISO timestamp as the old service wrote them, or None."""
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=None) if parsed.tzinfo else parsed


@dataclass
class QAEntry:
    """One cached answer as the admin routes see it."""

    key: str
    payload: dict[str, Any]
    ttl: int

    @property
    def question(self) -> str | None:
        return self.payload.get("original_question")

    @property
    def cached_at(self) -> str | None:
        value = self.payload.get("cached_at")
        return value if isinstance(value, str) else None

    @property
    def cached_time(self) -> datetime | None:
        return parse_local_iso(self.cached_at)

    @property
    def rows(self) -> list[Any]:
        result = self.payload.get("query_result")
        rows = result.get("rows") if isinstance(result, dict) else None
        return rows if isinstance(rows, list) else []


class QuestionAnswerCache:
    """The agent's answer cache (``ENABLE_QUESTION_ANSWER_CACHE``) and its administration."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self._delete_if_unchanged = redis.register_script(_DELETE_IF_UNCHANGED)

    @property
    def enabled(self) -> bool:
        return self.settings.enable_question_answer_cache

    async def get(self, question: str, context: str = "") -> dict[str, Any] | None:
        """The cached agent result for this question in this context, or None."""
        if not self.enabled:
            return None
        raw = await self.redis.get(qa_cache_key(question, context))
        if raw is None:
            return None
        try:
            payload = json.loads(raw)
        except ValueError:
            log.warning("unparsable QA cache entry for %r", question[:50])
            return None
        return payload if isinstance(payload, dict) else None

    async def put(self, question: str, result: dict[str, Any], context: str = "") -> bool:
        """Cache a successful agent result (``success`` true) for ``QUESTION_ANSWER_TTL``."""
        if not self.enabled or not result.get("success"):
            return False
        payload = {**result, "cached_at": now_iso(), "original_question": question}
        try:
            text = json.dumps(payload, ensure_ascii=False)
        except (TypeError, ValueError) as error:
            log.warning("QA cache skipped, result not serialisable: %s", error)
            return False
        await self.redis.set(
            qa_cache_key(question, context), text, ex=self.settings.question_answer_ttl
        )
        return True

    async def keys(self) -> list[str]:
        return await scan_keys(self.redis, QA_PREFIX + "*")

    async def stats(self) -> dict[str, Any]:
        """The ``qa_cache_stats`` object (without response/timestamp)."""
        keys = await self.keys()
        ttl = self.settings.question_answer_ttl
        return {
            "available": True,
            "enabled": self.enabled,
            "total_count": len(keys),
            "memory_usage_mb": await estimate_memory_mb(self.redis, keys),
            "ttl_seconds": ttl,
            "ttl_hours": ttl / 3600,
        }

    async def entries(self) -> list[QAEntry]:
        """Every parsable entry with its TTL, newest ``cached_at`` first."""
        keys = await self.keys()
        entries: list[QAEntry] = []
        for start in range(0, len(keys), SCAN_COUNT):
            batch = keys[start : start + SCAN_COUNT]
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in batch:
                    pipe.get(key)
                    pipe.ttl(key)
                replies = await pipe.execute()
            for key, raw, ttl in zip(batch, replies[::2], replies[1::2], strict=True):
                if raw is None:  # expired between SCAN and GET
                    continue
                try:
                    payload = json.loads(raw)
                except ValueError:
                    payload = None
                if not isinstance(payload, dict):
                    log.warning("skipping unparsable QA cache entry %s", key)
                    continue
                entries.append(QAEntry(key, payload, int(ttl)))
        entries.sort(key=lambda entry: entry.cached_at or "", reverse=True)
        return entries

    async def listing(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` entries as ``qa_cache_list`` items (empty while disabled)."""
        if not self.enabled:
            return []
        items = []
        for entry in (await self.entries())[:limit]:
            payload = entry.payload
            items.append(
                {
                    "cache_key": entry.key,
                    "question": entry.question or "未知问题",
                    "cached_at": entry.cached_at or "未知时间",
                    "ttl_seconds": entry.ttl,
                    # The cached value is the agent's flat final_response: read the top level.
                    "response_type": payload.get("type") or "未知类型",
                    "has_sql": bool(payload.get("sql")),
                    "has_summary": bool(payload.get("summary")),
                }
            )
        return items

    async def clear(self) -> int:
        """Delete every ``qa_cache:*`` entry; the number deleted."""
        return await delete_keys(self.redis, await self.keys())

    async def delete_entries(self, entries: list[QAEntry]) -> list[str]:
        """Delete these entries unless they were re-cached since they were read; the keys
        actually deleted."""
        deleted: list[str] = []
        for start in range(0, len(entries), SCAN_COUNT):
            batch = entries[start : start + SCAN_COUNT]
            deleted += await self._delete_if_unchanged(
                keys=[entry.key for entry in batch],
                args=[entry.cached_at or "" for entry in batch],
            )
        return deleted


class EmbeddingCacheAdmin:
    """Statistics and clearing of ``embedding_cache:*`` (get/put live with the training code)."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings

    @property
    def enabled(self) -> bool:
        return self.settings.enable_embedding_cache

    async def stats(self) -> dict[str, Any]:
        """The ``embedding_cache_stats`` object (without response/timestamp)."""
        keys = await scan_keys(self.redis, EMBEDDING_PREFIX + "*") if self.enabled else []
        return {
            "enabled": self.enabled,
            "available": self.enabled,
            "total_count": len(keys),
            "memory_usage_mb": await estimate_memory_mb(self.redis, keys),
        }

    async def clear(self) -> int:
        """Delete every ``embedding_cache:*`` entry; the number deleted."""
        return await delete_keys(self.redis, await scan_keys(self.redis, EMBEDDING_PREFIX + "*"))
