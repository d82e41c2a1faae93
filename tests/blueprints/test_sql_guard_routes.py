"""The SQL guard on the HTTP paths: citu_run_sql and the ask agent refuse the deny-list
bypasses, large statements are refused without stalling the worker, and what runs is the
regenerated SQL."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from fakes.ask_script import script
from fakes.memory_stores import DEMO_DDL, DEMO_DOCUMENTATION, DEMO_EXAMPLE

READ_FILE = "SELECT U&\"pg\\005fread\\005ffile\"('/etc/hostname')"


@pytest.fixture
async def installed(services) -> None:
    training = services.training
    for ddl in DEMO_DDL:
        await training.add_ddl(ddl)
    await training.add_documentation(DEMO_DOCUMENTATION)
    await training.add_question_sql(*DEMO_EXAMPLE)


@pytest.mark.parametrize(
    "sql",
    [
        READ_FILE,
        "SELECT * FROM pg_hba_file_rules()",
        'SELECT U&"pg\\005fterminate\\005fbackend"(pg_backend_pid())',
        "SELECT 1 /*/*/**/*/*/",
    ],
)
async def test_citu_run_sql_refuses_bypasses(client, sql: str) -> None:
    response = await client.post("/api/v0/citu_run_sql", json={"sql": sql})
    body = await response.get_json()
    assert response.status_code == 422, body
    assert body["data"]["response"].startswith("SQL安全检查未通过: ")


@pytest.mark.parametrize("megabytes", [1, 10])
async def test_large_sql_is_refused_and_health_stays_fast(client, megabytes: int) -> None:
    sql = "SELECT 1 FROM bss_company WHERE id IN (" + "'x'," * (megabytes * 262_144) + "'x')"

    async def health_latencies() -> list[float]:
        latencies = []
        for _ in range(5):
            started = time.perf_counter()
            assert (await client.get("/health")).status_code in (200, 503)
            latencies.append(time.perf_counter() - started)
        return latencies

    refused, latencies = await asyncio.gather(
        client.post("/api/v0/citu_run_sql", json={"sql": sql}), health_latencies()
    )
    assert refused.status_code == 422
    assert "SQL 过长" in (await refused.get_json())["data"]["response"]
    assert max(latencies) < 2.0  # the 6.9 MB statement used to hold the worker for 25 s


async def test_ask_agent_refuses_escaped_function_written_by_the_model(
    client, fake_llm, installed
) -> None:
    script(fake_llm, sql=READ_FILE + ";")
    response = await client.post(
        "/api/v0/ask_agent", json={"question": "读文件", "routing_mode": "database_direct"}
    )
    body = await response.get_json()
    assert body["success"] is False
    assert "不支持 Unicode 转义写法" in body["data"]["response"]
    assert body["data"]["validation_error_type"] == "forbidden_keywords"


async def test_what_runs_is_the_regenerated_sql(client, services) -> None:
    # The comment is the client's text: PostgreSQL must never see it.
    sql = "SELECT count(*) AS n /* marker-7f3a */ FROM generate_series(1, 20000000)"
    watcher = await asyncpg.connect(services.business_db_url)
    try:
        request = asyncio.create_task(client.post("/api/v0/citu_run_sql", json={"sql": sql}))
        seen: str | None = None
        for _ in range(200):
            seen = await watcher.fetchval(
                "SELECT query FROM pg_stat_activity WHERE query LIKE '%generate_series(1, 2000%'"
                " AND pid <> pg_backend_pid()"
            )
            if seen or request.done():
                break
            await asyncio.sleep(0.02)
        response = await request
    finally:
        await watcher.close()
    assert response.status_code == 200
    # Seen alone (the runner first prepares it to learn its columns) or inside the result-size
    # wrapper; either way without the client's comment and with built-ins pg_catalog-qualified.
    assert seen is not None and "marker-7f3a" not in seen
    assert "SELECT pg_catalog.count(*) AS n FROM pg_catalog.generate_series(1, 20000000)" in seen
