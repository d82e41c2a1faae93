"""The LLM HTTP client: sharded connection pools."""

from __future__ import annotations

import asyncio

import httpx

from citu.llm.clients import ShardedTransport


async def test_requests_are_spread_over_the_shards(fake_llm):
    transport = ShardedTransport(max_connections=16, shards=4)
    used = []
    for shard in transport._transports:
        forward = shard.handle_async_request

        async def observed(request, forward=forward, shard=shard):
            used.append(shard)
            return await forward(request)

        shard.handle_async_request = observed
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(transport=transport) as client:
        responses = await asyncio.gather(
            *(client.post(f"{fake_llm.base_url}/chat/completions", json=body) for _ in range(8))
        )
    assert all(r.status_code == 200 for r in responses)
    assert [used.count(s) for s in transport._transports] == [2, 2, 2, 2]


def test_each_shard_gets_its_share_of_the_connection_limit():
    transport = ShardedTransport(max_connections=500, shards=8)
    assert [t._pool._max_connections for t in transport._transports] == [63] * 8
