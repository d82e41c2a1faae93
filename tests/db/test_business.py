"""The business database as the service sees it: role check at start, refusal, session limits,
the per-worker query gate and the demo's reader role (real PostgreSQL, real app)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest

from citu.agents.react.tools import ReactSqlTools
from citu.app import create_app
from citu.db.business import REFUSED_TEXT
from citu.db.embedded import with_database
from citu.db.pools import BUSY_TEXT, BusinessQueryBusy
from citu.pipeline.engine import StepFailed
from citu.services import Services
from citu.settings import Settings
from citu.sql import runner as sql_runner
from fakes.ask_script import script
from fakes.memory_stores import DEMO_DDL, DEMO_DOCUMENTATION, DEMO_EXAMPLE
from fakes.served import free_port
from fakes.tcp_proxy import DelayProxy

RUN_SQL = "/api/v0/citu_run_sql"


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator:
    app = create_app(settings)
    async with app.test_app():
        yield app


async def call(client, method: str, path: str, body=None):
    response = await client.open(path, method=method, json=body)
    return response.status_code, await response.get_json()


async def install_training(app) -> None:
    training = app.extensions["citu"].training
    for ddl in DEMO_DDL:
        await training.add_ddl(ddl)
    await training.add_documentation(DEMO_DOCUMENTATION)
    await training.add_question_sql(*DEMO_EXAMPLE)


def assert_refused(status: int, body: dict) -> None:
    assert status == 503, body
    assert body["success"] is False and body["data"]["response"] == REFUSED_TEXT
    assert body["data"]["can_retry"] is False


# ---- role check and refusal -------------------------------------------------------------


async def test_a_superuser_business_role_is_named_in_health_and_refused(
    settings, business_db_url, fake_llm
):
    settings.business_db_url = business_db_url  # the tests' superuser, not allowed
    async with running(settings) as app:
        client = app.test_client()
        status, health = await call(client, "GET", "/health")
        assert status == 200 and health["status"] == "degraded"
        assert "business_database_role" in health["degraded_components"]
        role = health["business_database_role"]
        assert role["status"] == "degraded" and role["role"] == "postgres"
        assert role["business_sql"] == "refused" and role["reason"]
        assert "superuser" in {f["code"] for f in role["findings"]}
        assert health["services"]["business_database"] is True  # reachable, just refused

        status, body = await call(client, "POST", RUN_SQL, {"sql": "SELECT 1"})
        assert_refused(status, body)
        # The pipeline's database routes and runs use the same checked connection.
        status, body = await call(client, "POST", "/api/v0/database/tables", {})
        assert_refused(status, body)
        engine = app.extensions["citu"].pipeline.runner.engine
        with pytest.raises(StepFailed, match=re.escape(REFUSED_TEXT)):
            await engine._business_pool({}, "ddl_generation")

        await install_training(app)
        script(fake_llm)
        status, body = await call(
            client, "POST", "/api/v0/ask_agent", {"question": "收入前三的服务区是哪些"}
        )
        assert status == 503 and body["success"] is False, body
        assert REFUSED_TEXT in json.dumps(body, ensure_ascii=False)

        services = app.extensions["citu"]
        tools = ReactSqlTools(None, services.require_business_db, settings)
        text, artifact = await tools.run_sql("SELECT 1")
        assert artifact is None and REFUSED_TEXT in text


@pytest.mark.privileged_business_role
async def test_an_allowed_privileged_role_runs_but_stays_reported(settings, client):
    status, health = await call(client, "GET", "/health")
    assert health["status"] == "degraded"
    assert health["business_database_role"]["business_sql"] == "allowed"
    status, body = await call(client, "POST", RUN_SQL, {"sql": "SELECT 1 AS one"})
    assert status == 200 and body["data"]["query_result"]["rows"] == [{"one": 1}]


async def test_the_reader_role_of_the_tests_is_healthy(client):
    status, health = await call(client, "GET", "/health")
    assert "business_database_role" not in health
    assert "business_database_role" not in health.get("degraded_components", [])
    status, body = await call(
        client, "POST", RUN_SQL, {"sql": "SELECT count(*) AS n FROM bss_company"}
    )
    assert status == 200 and body["data"]["query_result"]["rows"][0]["n"] > 0


async def test_the_role_is_checked_again_when_the_database_comes_back(settings, business_db_url):
    """Unreachable at start, then back as a superuser: refused from the first query."""
    target = urlsplit(business_db_url)
    port = free_port()
    netloc = target.netloc.rsplit(":", 1)[0]
    settings.business_db_url = target._replace(netloc=f"{netloc}:{port}").geturl()
    settings.business_reconnect_seconds = 0.1
    async with running(settings) as app:
        client = app.test_client()
        services = app.extensions["citu"]
        assert services.business_db is None and services.business_role is None
        async with DelayProxy(target.hostname, target.port or 5432, listen_port=port):
            for _ in range(100):
                if services.business_db is not None:
                    break
                await asyncio.sleep(0.05)
            assert services.business_role is not None
            assert "superuser" in {f.code for f in services.business_role.findings}
            status, body = await call(client, "POST", RUN_SQL, {"sql": "SELECT 1"})
            assert_refused(status, body)


# ---- session settings -------------------------------------------------------------------


async def test_every_business_session_carries_the_limits(services):
    async with services.business_db.acquire() as conn:
        shown = {
            name: await conn.fetchval(f"SHOW {name}")
            for name in (
                "default_transaction_read_only",
                "standard_conforming_strings",
                "statement_timeout",
                "idle_in_transaction_session_timeout",
                "lock_timeout",
                "work_mem",
                "application_name",
            )
        }
    assert shown == {
        "default_transaction_read_only": "on",
        "standard_conforming_strings": "on",
        "statement_timeout": "30s",
        "idle_in_transaction_session_timeout": "1min",
        "lock_timeout": "5s",
        "work_mem": "64MB",
        "application_name": "citu-business",
    }


# ---- bounded queues ---------------------------------------------------------------------


async def test_slow_queries_do_not_starve_health_or_other_requests(settings):
    """12 slow queries at once (pool of 10): the extra ones are refused within the queue
    timeout, /health answers at once, and a plain query waits at most that timeout.

    Before the gate, /health waited for a pooled connection and reported the business
    database down after 3 s, and a plain ``SELECT 1`` waited for the slow queries."""
    settings.business_query_queue_timeout_seconds = 1.0
    async with running(settings) as app:
        client = app.test_client()
        pool = app.extensions["citu"].business_db
        slow = [
            asyncio.create_task(
                sql_runner._execute(pool, "SELECT pg_sleep(4)", max_rows=1, timeout_ms=20_000)
            )
            for _ in range(12)
        ]
        await asyncio.sleep(0.5)
        started = time.monotonic()
        status, health = await call(client, "GET", "/health")
        health_seconds = time.monotonic() - started
        assert health["services"]["business_database"] is True
        assert health_seconds < 0.5, health_seconds

        started = time.monotonic()
        status, body = await call(client, "POST", RUN_SQL, {"sql": "SELECT 1"})
        assert time.monotonic() - started < 2.0
        assert status == 503 and body["data"]["can_retry"] is True, body
        assert body["data"]["response"] == BUSY_TEXT

        outcomes = await asyncio.gather(*slow, return_exceptions=True)
        refused = [o for o in outcomes if isinstance(o, BusinessQueryBusy)]
        assert len(refused) == 12 - settings.business_query_concurrency
        assert all(not isinstance(o, BaseException) or o in refused for o in outcomes)
        status, body = await call(client, "POST", RUN_SQL, {"sql": "SELECT 1 AS one"})
        assert status == 200


# ---- the embedded demo connects as a reader ---------------------------------------------


async def test_the_demo_connects_through_its_own_reader_role(settings, embedded_pg_url):
    settings.business_db_url = None
    settings.demo_database_name = f"citu_demo_{uuid.uuid4().hex[:8]}"
    services = Services(settings)
    try:
        await services.start()
        assert urlsplit(services.business_db_url).username == settings.demo_reader_role
        assert services.business_role is not None and services.business_role.ok, (
            services.business_role
        )
        pool = services.require_business_db()
        result = await sql_runner.run_read_only(pool, "SELECT count(*) AS n FROM bss_company")
        assert result.rows[0]["n"] > 0
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT current_user") == settings.demo_reader_role
            await conn.execute("SET default_transaction_read_only = off")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("DELETE FROM bss_company")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE TABLE public.x (a int)")
            await conn.execute("RESET default_transaction_read_only")
    finally:
        await services.close()
        admin = await asyncpg.connect(with_database(embedded_pg_url, "postgres"))
        try:
            name = settings.demo_database_name
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# ---- bounded results through the routes -------------------------------------------------


async def test_run_sql_answers_the_rows_that_fit_with_a_note(settings):
    settings.api_max_result_bytes = 300
    async with running(settings) as app:
        client = app.test_client()
        sql = "SELECT service_area_name, service_area_no FROM bss_service_area ORDER BY 2"
        status, body = await call(client, "POST", RUN_SQL, {"sql": sql})
        assert status == 200, body
        result = body["data"]["query_result"]
        assert 0 < result["row_count"] < result["total_row_count"] == 20
        assert result["is_limited"] is True and result["limited_by"] == "bytes"
        assert result["limit_note"] in body["data"]["response"]
        numbers = [row["service_area_no"] for row in result["rows"]]
        assert numbers == sorted(numbers)

        tools = ReactSqlTools(None, app.extensions["citu"].require_business_db, settings)
        text, artifact = await tools.run_sql("SELECT repeat('x', 5000) AS big")
        assert json.loads(text)["message"] == artifact["limit_note"]
        assert artifact["rows"] == [] and artifact["is_limited"] is True


# ---- the session reads SQL as the guard does ---------------------------------------------


async def test_backslashes_in_strings_mean_what_the_guard_read(
    settings, business_db_url, business_reader_url
):
    """With ``standard_conforming_strings`` off (a legacy database or role default), PostgreSQL
    reads ``'\\'`` as an escaped quote, so text the guard saw inside a string literal would
    run as SQL. Every business session pins the setting on."""
    role = urlsplit(business_reader_url).username
    database = urlsplit(business_reader_url).path.lstrip("/")
    admin = await asyncpg.connect(business_db_url)
    try:
        await admin.execute(
            f'ALTER ROLE "{role}" IN DATABASE "{database}" SET standard_conforming_strings = off'
        )
        sql = "SELECT '\\' || ', (SELECT count(*) FROM pg_catalog.pg_class) AS leaked --' AS x"
        async with running(settings) as app:
            status, body = await call(app.test_client(), "POST", RUN_SQL, {"sql": sql})
    finally:
        await admin.execute(f'ALTER ROLE "{role}" IN DATABASE "{database}" RESET ALL')
        await admin.close()
    if status == 200:  # the guard may accept it: then it must run as one string literal
        result = body["data"]["query_result"]
        assert result["columns"] == ["x"], body
        assert result["rows"] == [
            {"x": "\\, (SELECT count(*) FROM pg_catalog.pg_class) AS leaked --"}
        ]
    else:
        assert status == 400, body
