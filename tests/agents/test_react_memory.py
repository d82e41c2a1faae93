"""The checkpointer's start-up: several workers open it on a fresh database at once."""

from __future__ import annotations

import asyncio

from citu.agents.react.memory import ReactMemory


async def test_workers_starting_together_all_finish_setup(settings):
    # Each opens its own pool, as separate hypercorn workers do; the saver's migrations build
    # indexes CONCURRENTLY, which once deadlocked against a worker waiting for the setup lock.
    memories = await asyncio.wait_for(
        asyncio.gather(*(ReactMemory.open(settings.database_url, settings) for _ in range(3))),
        timeout=30,
    )
    try:
        async with memories[0].pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'checkpoints_user_idx'"
                )
            ).fetchone()
        assert row["n"] == 1
        assert await memories[1].threads() == []
    finally:
        for memory in memories:
            await memory.aclose()
