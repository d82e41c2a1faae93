"""Service-level routes: ``/``, ``/health`` and the Redis debug probe ``/api/test/redis``."""

from __future__ import annotations

import asyncio
import logging

from quart import Blueprint

from citu import failures
from citu import responses as r
from citu.apidoc import responds
from citu.apidoc import system as docs
from citu.db.business import role_health
from citu.services import services

bp = Blueprint("system", __name__)
log = logging.getLogger("citu.system")


@bp.get("/")
@responds(docs.IndexOut, raw=True)
async def index():
    """Service banner, with where to go next."""
    links = {"docs": "/docs", "openapi": "/openapi.json", "health": "/health"}
    return {"message": "统一API服务正在运行", "version": "1.0.0", "links": links}


@bp.get("/health")
@responds(docs.HealthOut, raw=True)
async def health():
    """Component health; ``degraded`` names what is down but the service keeps serving."""
    svc = services()
    checks = await asyncio.gather(
        _pool_ok(svc.db),
        _pool_ok(svc.business_db),
        svc.redis_ok(),
        svc.endpoint_probe.all(),
    )
    endpoints = checks[3]
    components = {
        "database": checks[0],
        "business_database": checks[1],
        "redis": checks[2],
        "llm": svc.llm is not None and endpoints["llm"].ok,
        "embeddings": svc.embeddings is not None and endpoints["embeddings"].ok,
    }
    down = [name for name, ok in components.items() if not ok]
    role = role_health(svc.business_role, svc.settings)
    if role is not None:
        down.append("business_database_role")
    body = {
        "status": "degraded" if down else "healthy",
        "react_agent_initialized": svc.react is not None,
        "timestamp": r.now_iso(),
        "services": {
            "redis": components["redis"],
            "vanna": components["database"] and components["llm"],
            **components,
        },
        "endpoints": {name: status.as_dict() for name, status in endpoints.items()},
    }
    if down:
        body["degraded_components"] = down
        problems = [status.detail for status in endpoints.values() if not status.ok]
        if problems:
            body["problems"] = problems
    if role is not None:
        body["business_database_role"] = role
    return body, 200


async def _pool_ok(pool) -> bool:
    if pool is None:
        return False
    try:
        async with asyncio.timeout(3):
            async with pool.acquire() as conn:
                return await conn.fetchval("SELECT 1") == 1
    except Exception:  # noqa: BLE001 - any failure means "down"
        return False


@bp.get("/api/test/redis")
@responds(docs.RedisProbeOut, raw=True, other={500: docs.RedisProbeFailure})
async def test_redis():
    """Debug probe of Redis: connectivity, and each user's ReAct checkpoints (the keys found in
    Redis, at most 500 scanned, plus those of the PostgreSQL checkpointer)."""
    try:
        redis = services().require_redis()
        keys: list[str] = []
        async for key in redis.scan_iter(match="checkpoint:*", count=100):
            keys.append(key)
            if len(keys) > 500:
                break
        counts: dict[str, int] = {}
        for key in keys:
            parts = key.split(":")
            if len(parts) > 1:
                counts[parts[1]] = counts.get(parts[1], 0) + 1
        connected = bool(await redis.ping())
    except Exception as error:  # noqa: BLE001 - the old route answered every failure this way
        log.warning("Redis test failed: %s", error)
        failure = failures.describe(error)
        body = {"success": False, "error": failure.text, "timestamp": r.now_iso()}
        return {**body, "error_type": failure.error_type}, 500
    for user, count in (await _postgres_checkpoint_counts()).items():
        counts[user] = counts.get(user, 0) + count
    data = {
        "redis_connected": connected,
        "total_checkpoint_keys": sum(counts.values()),
        "users_found": sorted(counts),
        "user_key_counts": counts,
        "sample_keys": keys[:5],
    }
    return {"success": True, "data": data, "timestamp": r.now_iso()}


async def _postgres_checkpoint_counts() -> dict[str, int]:
    """Checkpoints per user in the ReAct agent's PostgreSQL memory (where the old service's
    Redis keys went); empty when the agent is not running or its database is away."""
    agent = services().react
    if agent is None:
        return {}
    try:
        stats = await agent.views.stats(None)
    except Exception as error:  # noqa: BLE001 - a Redis probe must not fail on PostgreSQL
        log.warning("checkpoint counts unavailable: %s", error)
        return {}
    return {user["user_id"]: user["total_checkpoints"] for user in stats["users"]}
