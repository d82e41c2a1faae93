"""Nothing grows without bound: after a burst of concurrent requests on a real server, the
event loop's tasks, the database and Redis connections and the open descriptors return to
where the same burst left them before, pools stay within their caps, and the per-request
records stay capped."""

from __future__ import annotations

import asyncio
import json

import psutil

from citu.app import create_app
from fakes.served import served

BURST = 300
MIX = [
    ("GET", "/health", None),
    ("GET", "/api/v0/user/burst{n}/conversations", None),
    ("GET", "/api/v0/training_data/stats", None),
    ("GET", "/api/v0/qa_cache_stats", None),
    ("GET", "/api/v0/conversation_stats", None),
    ("POST", "/api/v0/training_data/query", {"page": 1, "page_size": 5}),
    ("POST", "/api/v0/citu_train_question_sql", {"sql": "SELECT {n} AS n"}),  # LLM + embeddings
    (
        "POST",
        "/api/v0/ask_agent",
        {"question": "你好", "user_id": "b{n}", "routing_mode": "chat_direct"},
    ),
    ("GET", "/api/v0/no_such_route", None),
    ("POST", "/api/v0/training_data/query", "not json"),
]


async def one_request(port: int, n: int) -> int:
    method, path, body = MIX[n % len(MIX)]
    path = path.format(n=n)
    if isinstance(body, dict):
        payload = json.dumps(body).replace("{n}", str(n)).encode()
    else:
        payload = (body or "").encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
        + payload
    )
    raw = await reader.read()
    writer.close()
    return int(raw.split(b" ", 2)[1])


def snapshot(svc) -> dict[str, int]:
    redis_pool = svc.redis.connection_pool
    return {
        "tasks": len(asyncio.all_tasks()),
        "fds": psutil.Process().num_fds(),
        "db_in_use": svc.db.get_size() - svc.db.get_idle_size(),
        "business_in_use": svc.business_db.get_size() - svc.business_db.get_idle_size(),
        "redis_in_use": len(redis_pool._in_use_connections),
        "redis_open": len(redis_pool._in_use_connections) + len(redis_pool._available_connections),
    }


async def settled(svc, before: dict[str, int], seconds: float = 10.0) -> dict[str, int]:
    """The first snapshot at or below ``before`` (within slack), or the last one taken."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        now = snapshot(svc)
        back = (
            now["tasks"] <= before["tasks"]
            and now["fds"] <= before["fds"] + 2
            and now["db_in_use"] == now["business_in_use"] == now["redis_in_use"] == 0
        )
        if back or asyncio.get_running_loop().time() > deadline:
            return now
        await asyncio.sleep(0.1)


async def test_tasks_connections_and_records_return_to_baseline(settings, fake_llm):
    settings.metrics_window_size = 100
    app = create_app(settings)
    async with served(app) as port:
        svc = app.extensions["citu"]
        # A first burst grows the pools to what this load needs (each one capped); a second
        # identical burst must then leave everything where the first one did.
        await asyncio.gather(*(one_request(port, n) for n in range(BURST)))
        before = await settled(svc, snapshot(svc))

        statuses = await asyncio.gather(*(one_request(port, n) for n in range(BURST)))
        assert statuses.count(200) >= BURST * 0.7 and 500 not in statuses
        after = await settled(svc, before)

        assert after["tasks"] <= before["tasks"], (before, after)
        assert after["fds"] <= before["fds"] + 2, (before, after)
        assert after["db_in_use"] == after["business_in_use"] == after["redis_in_use"] == 0
        assert after["redis_open"] <= settings.redis_max_connections
        assert svc.db.get_size() <= settings.db_pool_max
        assert svc.ops.requests.snapshot()["request_count"] == settings.metrics_window_size
