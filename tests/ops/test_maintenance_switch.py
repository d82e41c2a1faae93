"""The maintenance switch on real Redis: write/read classification, caching, failing open."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from citu.ops.maintenance import (
    READ_ONLY_POST_RULES,
    REDIS_KEY,
    MaintenanceSwitch,
    is_write_request,
    normalise_rule,
)


@pytest.mark.parametrize(
    ("method", "rule", "writes"),
    [
        ("GET", "/api/v0/qa_feedback/stats", False),
        ("HEAD", "/health", False),
        ("OPTIONS", "/api/v0/qa_feedback/add", False),
        ("POST", "/api/v0/qa_feedback/add", True),
        ("PUT", "/api/v0/qa_feedback/update/<int:feedback_id>", True),
        ("DELETE", "/api/v0/qa_feedback/delete/<int:feedback_id>", True),
        ("PATCH", "/anything/new", True),
        ("POST", "/api/v0/conversation_cleanup", True),
        ("POST", "/api/v0/data_pipeline/vector/restore", True),
        ("POST", "/api/v0/training_data/create", True),
        ("DELETE", "/api/v0/data_pipeline/tasks", True),
        ("POST", "/api/v0/some_route_added_later", True),  # blocked by default
        ("POST", "/api/v0/ask_agent", False),
        ("POST", "/api/v0/ask", False),
        ("POST", "/api/v0/citu_run_sql", False),
        ("POST", "/api/v0/qa_feedback/query", False),
        ("POST", "/api/v0/data_pipeline/tasks/<task_id>/logs/query", False),
        ("POST", "/api/v0/data_pipeline/tasks/<string:task_id>/logs/query", False),
        ("POST", "/api/v0/maintenance/readonly", False),
    ],
)
def test_which_requests_write(method, rule, writes):
    assert is_write_request(method, rule) is writes


def test_allow_list_rules_are_normalised():
    assert normalise_rule("/a/<int:x>/b/<y>") == "/a/<>/b/<>"
    assert all(normalise_rule(rule) == rule for rule in READ_ONLY_POST_RULES)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_state_is_shared_through_redis_and_cached_briefly(redis: Redis):
    clock = Clock()
    writer = MaintenanceSwitch(redis, cache_seconds=2, clock=clock)
    reader = MaintenanceSwitch(redis, cache_seconds=2, clock=clock)
    assert (await reader.current()).enabled is False  # nothing stored: off
    state = await writer.set(True, "upgrade")
    assert state.enabled and state.reason == "upgrade" and state.since
    assert '"enabled": true' in await redis.get(REDIS_KEY)
    assert (await writer.current()).enabled is True  # the writer knows at once
    assert (await reader.current()).enabled is False  # the reader trusts its copy for 2 s
    clock.now = 2.5
    assert (await reader.current()).enabled is True
    assert (await reader.read()).reason == "upgrade"


async def test_redis_outage_keeps_the_last_state_or_fails_open(redis: Redis):
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    clock = Clock()
    switch = MaintenanceSwitch(dead, cache_seconds=1, clock=clock)
    assert (await switch.current()).enabled is False  # never read: fail open
    with pytest.raises(RedisConnectionError):
        await switch.read()
    live = MaintenanceSwitch(redis, cache_seconds=1, clock=clock)
    await live.set(True)
    live.redis = dead
    clock.now = 5
    assert (await live.current()).enabled is True  # last known state survives the outage
    await dead.aclose()


async def test_garbage_in_redis_reads_as_off(redis: Redis):
    await redis.set(REDIS_KEY, "not json")
    assert (await MaintenanceSwitch(redis).read()).enabled is False
