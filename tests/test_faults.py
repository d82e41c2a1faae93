"""Faults of the components citu depends on: each answers a clear envelope, the service recovers
when the component returns, and nothing the service acknowledged is lost or half-written.

Redis: a private redis-server subprocess (killed, or frozen with SIGSTOP); the machine's shared
Redis is never touched. Business database: a TCP forwarder in front of the machine's PostgreSQL
that can refuse connections. LLM: the fake OpenAI server hangs or answers garbage.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from citu.app import create_app
from citu.settings import Settings
from fakes.own_redis import own_redis  # noqa: F401 - fixture
from fakes.served import free_port
from fakes.tcp_proxy import DelayProxy

ENVELOPE_KEYS = {"code", "success", "message", "data"}


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator:
    app = create_app(settings)
    async with app.test_app():
        yield app


async def call(client, method: str, path: str, body=None, **kwargs):
    response = await client.open(path, method=method, json=body, **kwargs)
    return response.status_code, await response.get_json()


def assert_clear_error(status: int, body, path: str) -> None:
    """An error the frontend can show: the envelope, a reason, no bare 500."""
    assert status != 500 and status >= 400, (path, status, body)
    assert ENVELOPE_KEYS <= body.keys() and body["success"] is False, (path, body)
    assert body["data"]["response"], (path, body)


async def get_routes(client) -> list[str]:
    """Every documented GET route, with sample path parameters."""
    spec = await (await client.get("/openapi.json")).get_json()
    return [
        path.replace("{user_id}", "wang1").replace("{conversation_id}", "wang1:20250101000000000")
        for path, operations in spec["paths"].items()
        if "get" in operations
        and "{" not in path.replace("{user_id}", "").replace("{conversation_id}", "")
    ]


# ---- Redis ---------------------------------------------------------------------------------------


async def test_redis_down_every_read_answers_clearly_and_the_rest_keeps_serving(
    settings, own_redis
):
    settings.redis_url = own_redis.url
    settings.redis_timeout = 1.0
    async with running(settings) as app:
        client = app.test_client()
        own_redis.kill()
        for path in await get_routes(client):
            status, body = await call(client, "GET", path)
            if status >= 400 and path not in ("/api/test/redis",):
                assert_clear_error(status, body, path)
        # Training does not need Redis (its embedding cache is skipped while Redis is down).
        item = {"data": {"training_data_type": "documentation", "content": "营业额为日营收合计"}}
        status, body = await call(client, "POST", "/api/v0/training_data/create", item)
        assert status == 200, body
        status, stats = await call(client, "GET", "/api/v0/training_data/stats")
        assert stats["data"]["total_count"] == 1
        health = await (await client.get("/health")).get_json()
        assert health["status"] == "degraded" and "redis" in health["degraded_components"]
        # Asking still works: the conversation store degrades (no history) instead of failing.
        ask = {"question": "你好", "user_id": "wang1", "routing_mode": "chat_direct"}
        status, body = await call(client, "POST", "/api/v0/ask_agent", ask)
        assert status == 200 and body["success"] is True, body


async def test_redis_frozen_then_thawed_loses_no_acknowledged_message(settings, own_redis):
    """A hung Redis (SIGSTOP): writes time out with 503/False, none half-applied; after it
    resumes, every acknowledged message is there and each conversation's count matches."""
    settings.redis_url = own_redis.url
    settings.redis_timeout = 0.5
    async with running(settings) as app:
        client = app.test_client()
        store = app.extensions["citu"].conversations
        acknowledged: dict[str, list[str]] = {}
        for user in ("u1", "u2"):
            cid = await store.create_conversation(user)
            acknowledged[cid] = []
            for i in range(3):
                text = f"{user}-before-{i}"
                assert await store.save_message(cid, "user", text)
                acknowledged[cid].append(text)

        own_redis.freeze()
        started = time.monotonic()
        for cid in acknowledged:
            if await store.save_message(cid, "user", f"{cid}-while-frozen"):
                acknowledged[cid].append(f"{cid}-while-frozen")
        status, body = await call(client, "GET", "/api/v0/user/u1/conversations")
        assert status == 503 and body["data"]["can_retry"] is True
        assert time.monotonic() - started < 10, "a frozen Redis must not hang requests"
        own_redis.thaw()

        for _ in range(100):
            status, body = await call(client, "GET", "/api/v0/user/u1/conversations")
            if status == 200:
                break
            await asyncio.sleep(0.05)
        assert status == 200
        for cid, texts in acknowledged.items():
            meta, messages = await store.read_conversation(cid, None)
            contents = [m["content"] for m in messages]
            assert contents[: len(texts)] == texts  # nothing acknowledged is missing
            # A write that timed out may still land once Redis resumes, but whole or not at all.
            assert int(meta["message_count"]) == len(messages)
            assert set(contents) - set(texts) <= {f"{cid}-while-frozen"}
        cid = next(iter(acknowledged))
        assert await store.save_message(cid, "assistant", "after")  # writes work again


# ---- LLM -------------------------------------------------------------------------------------------


# fault -> (how the fake misbehaves, the status citu answers)
LLM_FAULTS = {
    "timeout": (lambda fake: fake.hang(5.0), 504),
    "http_error": (lambda fake: fake.fail(502, "<html>bad gateway</html>"), 503),
    "garbage_json": (lambda fake: fake.fail(200, {"unexpected": ["shape"]}), 503),
    "empty_answer": (lambda fake: fake.reply(""), 503),
}


@pytest.mark.parametrize("fault", sorted(LLM_FAULTS))
async def test_llm_fault_answers_clearly_stores_nothing_and_recovers(settings, fake_llm, fault):
    settings.llm_timeout = 0.5
    async with running(settings) as app:
        client = app.test_client()
        example = {"sql": "SELECT count(*) FROM bss_service_area"}  # the LLM writes the question
        misbehave, expected = LLM_FAULTS[fault]
        misbehave(fake_llm)
        status, body = await call(client, "POST", "/api/v0/citu_train_question_sql", example)
        assert_clear_error(status, body, fault)
        assert status == expected and body["code"] == expected, body
        stats = await (await client.get("/api/v0/training_data/stats")).get_json()
        assert stats["data"]["total_count"] == 0  # no half-written example

        fake_llm.reply("服务区一共有多少个？")
        status, body = await call(client, "POST", "/api/v0/citu_train_question_sql", example)
        assert status == 200 and body["data"]["question"] == "服务区一共有多少个？"


async def test_embedding_fault_stores_nothing(settings, fake_llm):
    settings.embedding_timeout = 0.5
    async with running(settings) as app:
        client = app.test_client()
        item = {"data": {"training_data_type": "documentation", "content": "服务区按片区管理"}}
        fake_llm.hang(5.0, endpoint="embeddings")
        status, body = await call(client, "POST", "/api/v0/training_data/create", item)
        assert status >= 400 and body["success"] is False
        stats = await (await client.get("/api/v0/training_data/stats")).get_json()
        assert stats["data"]["total_count"] == 0
        status, body = await call(client, "POST", "/api/v0/training_data/create", item)
        assert status == 200


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    return urlunsplit(parts._replace(netloc=f"{netloc}:{port}"))


# ---- business database -------------------------------------------------------------------------


async def health_of(client) -> dict:
    return await (await client.get("/health")).get_json()


async def wait_for(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_business_db_unreachable_at_start_then_back(settings, business_db_url):
    """Start degraded (nothing listens where the business DB should be), recover when it comes."""
    target = urlsplit(business_db_url)
    port = free_port()
    settings.business_db_url = with_port(settings.business_db_url, port)
    settings.business_reconnect_seconds = 0.1
    async with running(settings) as app:
        client = app.test_client()
        svc = app.extensions["citu"]
        health = await health_of(client)
        assert health["status"] == "degraded"
        assert health["degraded_components"] == ["business_database"]
        with pytest.raises(Exception) as refused:
            svc.require_business_db()
        assert refused.value.status == 503  # the clear envelope the SQL routes answer
        status, stats = await call(client, "GET", "/api/v0/training_data/stats")
        assert status == 200  # the rest keeps serving

        async with DelayProxy(target.hostname, target.port or 5432, listen_port=port):

            async def business_up() -> bool:
                return (await health_of(client))["services"]["business_database"]

            assert await wait_for(business_up)
            async with svc.require_business_db().acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM bss_service_area") > 0


async def test_business_db_lost_after_start_then_back(settings, business_db_url):
    target = urlsplit(business_db_url)
    port = free_port()
    settings.business_db_url = with_port(settings.business_db_url, port)
    proxy = DelayProxy(target.hostname, target.port or 5432, listen_port=port)
    await proxy.__aenter__()
    async with running(settings) as app:
        client = app.test_client()
        assert (await health_of(client))["status"] == "healthy"
        await proxy.__aexit__(None, None, None)  # drops every open connection too

        health = await health_of(client)
        assert health["services"]["business_database"] is False
        assert (await call(client, "GET", "/api/v0/training_data/stats"))[0] == 200

        async with DelayProxy(target.hostname, target.port or 5432, listen_port=port):

            async def business_up() -> bool:
                return (await health_of(client))["services"]["business_database"]

            assert await wait_for(business_up)


async def test_database_routes_recover_when_the_business_db_comes_back(settings, business_db_url):
    """The database inspection routes use the same business connection as the agents: down at
    start answers a retryable 503, and once the database is back they answer 200 again."""
    target = urlsplit(business_db_url)
    port = free_port()
    settings.business_db_url = with_port(settings.business_db_url, port)
    settings.business_reconnect_seconds = 0.1
    ddl = {"table": "bss_company", "type": "ddl"}
    async with running(settings) as app:
        client = app.test_client()
        status, body = await call(client, "POST", "/api/v0/database/tables", {})
        assert_clear_error(status, body, "database/tables")
        assert status == 503 and body["data"]["can_retry"] is True

        async with DelayProxy(target.hostname, target.port or 5432, listen_port=port):

            async def tables_answered() -> bool:
                return (await call(client, "POST", "/api/v0/database/tables", {}))[0] == 200

            assert await wait_for(tables_answered)
            status, body = await call(client, "POST", "/api/v0/database/tables", {})
            assert "public.bss_company" in body["data"]["tables"]
            status, body = await call(client, "POST", "/api/v0/database/table/ddl", ddl)
            assert status == 200, body
            # The pool gauges follow the reopened pool too, not the one seen at start.
            metrics = (await (await client.get("/metrics")).get_data()).decode()
            assert 'citu_pool_connections{pool="business_database",state="max"}' in metrics


SLOW_SQL = "SELECT count(*) FROM generate_series(1, 200000000)"


async def test_slow_business_query_times_out_with_a_clear_answer(settings):
    settings.business_statement_timeout_ms = 200
    async with running(settings) as app:
        client = app.test_client()
        started = time.monotonic()
        status, body = await call(client, "POST", "/api/v0/citu_run_sql", {"sql": SLOW_SQL})
        assert time.monotonic() - started < 5
        assert_clear_error(status, body, "citu_run_sql")
        assert status == 504 and body["data"]["can_retry"] is True
        # The pool is healthy afterwards: the next query is answered.
        status, body = await call(
            client, "POST", "/api/v0/citu_run_sql", {"sql": "SELECT count(*) FROM bss_company"}
        )
        assert status == 200 and body["data"]["query_result"]["rows"]


async def test_sql_route_while_the_business_db_is_away_then_back(settings, business_db_url):
    target = urlsplit(business_db_url)
    port = free_port()
    settings.business_db_url = with_port(settings.business_db_url, port)
    settings.business_reconnect_seconds = 0.1
    query = {"sql": "SELECT count(*) FROM bss_company"}
    async with running(settings) as app:
        client = app.test_client()
        status, body = await call(client, "POST", "/api/v0/citu_run_sql", query)
        assert_clear_error(status, body, "citu_run_sql")
        assert status == 503 and body["data"]["can_retry"] is True

        async with DelayProxy(target.hostname, target.port or 5432, listen_port=port):

            async def answered() -> bool:
                return (await call(client, "POST", "/api/v0/citu_run_sql", query))[0] == 200

            assert await wait_for(answered)

        # Lost again after it was connected: still a clear, retryable answer.
        status, body = await call(client, "POST", "/api/v0/citu_run_sql", query)
        assert_clear_error(status, body, "citu_run_sql")
        assert status == 503 and body["data"]["can_retry"] is True


@pytest.mark.parametrize("fault", sorted(LLM_FAULTS))
async def test_ask_agent_llm_fault_answers_clearly_and_keeps_the_conversation_whole(
    settings, fake_llm, fault
):
    settings.llm_timeout = 0.5
    async with running(settings) as app:
        client = app.test_client()
        store = app.extensions["citu"].conversations
        ask = {"question": "你好", "user_id": "wang1", "routing_mode": "chat_direct"}
        status, first = await call(client, "POST", "/api/v0/ask_agent", ask)
        assert status == 200
        cid = first["data"]["conversation_id"]

        misbehave, _ = LLM_FAULTS[fault]
        misbehave(fake_llm)
        status, body = await call(
            client, "POST", "/api/v0/ask_agent", {**ask, "conversation_id": cid}
        )
        assert body["success"] is False or status == 200, body
        if body["success"] is False:
            assert_clear_error(status, body, fault)

        fake_llm.reply("恢复了")
        status, body = await call(
            client, "POST", "/api/v0/ask_agent", {**ask, "conversation_id": cid}
        )
        assert status == 200 and body["data"]["conversation_id"] == cid
        meta, messages = await store.read_conversation(cid, None)
        assert int(meta["message_count"]) == len(messages)
        roles = [m["role"] for m in messages]
        assert roles[:2] == ["user", "assistant"] and roles[-2:] == ["user", "assistant"]
        assert messages[-1]["content"] and "恢复了" in str(body["data"])


@pytest.mark.parametrize("fault", sorted(LLM_FAULTS))
async def test_react_agent_llm_fault_answers_clearly_then_recovers(settings, fake_llm, fault):
    settings.llm_timeout = 0.5
    async with running(settings) as app:
        client = app.test_client()
        misbehave, _ = LLM_FAULTS[fault]
        misbehave(fake_llm)
        ask = {"question": "你好", "user_id": "wang1"}
        status, body = await call(client, "POST", "/api/v0/ask_react_agent", ask)
        if body["success"] is False:  # the ReAct envelope: reason in ``error``
            assert status in (503, 504) and body["error"] and body["retry_suggested"], body
        thread = body.get("data", {}).get("conversation_id") if body.get("data") else None

        fake_llm.reply("恢复了")
        status, body = await call(
            client,
            "POST",
            "/api/v0/ask_react_agent",
            {**ask, "thread_id": thread} if thread else ask,
        )
        assert status == 200 and body["data"]["response"] == "恢复了", body
