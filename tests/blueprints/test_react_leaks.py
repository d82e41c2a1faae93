"""One agent for the whole process: 100 streamed turns open no new connections or tasks."""

from __future__ import annotations

import asyncio

import asyncpg


async def backend_count(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(
            "SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = current_database()"
        )
    finally:
        await conn.close()


async def stream(client, question: str, user: str) -> str:
    response = await client.get(
        "/api/v0/ask_react_agent_stream", query_string={"question": question, "user_id": user}
    )
    return (await response.get_data()).decode()


async def test_100_streamed_turns_leak_nothing(client, services, fake_llm, settings):
    agent = services.react
    fake_llm.default_reply = "好的"
    # Warm up with the same concurrency, so the pools reach their working size first.
    await asyncio.gather(*(stream(client, "预热", f"warm{i}") for i in range(10)))
    citu_before = await backend_count(settings.database_url)
    business_before = await backend_count(settings.business_db_url)
    tasks_before = len(asyncio.all_tasks())

    for batch in range(10):
        bodies = await asyncio.gather(
            *(stream(client, f"问题{batch}-{i}", f"user{i}") for i in range(10))
        )
        assert all('"type": "completed"' in body for body in bodies)

    assert agent is services.react  # never rebuilt
    assert not agent._turns  # every turn task finished
    pool_stats = agent.memory.pool.get_stats()
    assert pool_stats["pool_size"] <= settings.react_pool_max
    citu_after = await backend_count(settings.database_url)
    business_after = await backend_count(settings.business_db_url)
    print(
        f"citu backends {citu_before}->{citu_after}, business {business_before}->{business_after}"
    )
    # Every backend belongs to one of the two long-lived pools, each within its maximum.
    assert citu_after == pool_stats["pool_size"] + services.db.get_size()
    assert pool_stats["pool_size"] <= settings.react_pool_max
    assert business_after == services.business_db.get_size() <= settings.business_pool_max
    assert len(asyncio.all_tasks()) <= tasks_before
    stats = await (await client.get("/api/v0/checkpoint/direct/stats")).get_json()
    assert stats["data"]["total_threads"] == 110
