"""The byte cap and the per-worker query gate of sql_runner, on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from citu.db.pools import BusinessQueryBusy, open_business_pool
from citu.settings import Settings
from citu.sql import runner as sql_runner
from citu.sql.guard import SqlGuard
from citu.sql.runner import SqlExecutionError, run_read_only

ADMIN_DSN = os.environ.get("CITU_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
MIB = 1024 * 1024


@pytest.fixture
async def db_dsn() -> AsyncIterator[str]:
    admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    name = f"citu_limits_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
        conn = await asyncpg.connect(dsn)
        await conn.execute("CREATE TABLE t (id int PRIMARY KEY, name text)")
        await conn.execute("INSERT INTO t SELECT g, 'n' || g FROM generate_series(1, 50) g")
        await conn.close()
        yield dsn
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(db_dsn, min_size=1, max_size=4)
    yield p
    await p.close()


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _reset_peak() -> None:
    # Linux: "5" resets the peak resident size (VmHWM) to the current one.
    Path("/proc/self/clear_refs").write_text("5")


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


async def test_rows_that_fit_in_the_byte_cap_keep_their_order(pool: asyncpg.Pool) -> None:
    sql = "SELECT g AS n, repeat('x', 1000) AS pad FROM generate_series(1, 100) g ORDER BY g DESC"
    result = await run_read_only(pool, sql, max_rows=1000, max_bytes=10_000)
    assert 5 <= result.row_count < 10  # ~1 KB a row
    assert [row["n"] for row in result.rows] == list(range(100, 100 - result.row_count, -1))
    assert result.total_row_count == 100 and result.is_limited is True
    records = result.to_records()
    assert records["limited_by"] == "bytes"
    assert "10000" in records["limit_note"] and str(result.row_count) in records["limit_note"]


async def test_under_the_cap_the_result_and_its_shape_are_unchanged(pool: asyncpg.Pool) -> None:
    result = await run_read_only(pool, "SELECT id, name FROM t ORDER BY id", max_rows=10)
    assert result.columns == ["id", "name"]
    assert result.rows[0] == {"id": 1, "name": "n1"} and result.row_count == 10
    assert result.total_row_count == 50 and result.is_limited is True
    assert "limited_by" not in result.to_records()  # row cap only: the old shape
    result = await run_read_only(pool, "SELECT id FROM t WHERE id < 3 ORDER BY id")
    assert result.to_records() == {
        "columns": ["id"],
        "rows": [{"id": 1}, {"id": 2}],
        "row_count": 2,
        "total_row_count": 2,
        "is_limited": False,
    }


async def test_names_types_and_duplicates_survive_the_wrapping(pool: asyncpg.Pool) -> None:
    sql = (
        "SELECT 1 AS a, 'x'::text AS a, 2.50::numeric(5, 2), DATE '2023-04-01' AS d,"
        ' NULL::int AS "空", ARRAY[1, 2] AS arr, \'{"k": 1}\'::jsonb AS j, true AS b'
    )
    direct = await pool.fetchrow(sql)
    result = await run_read_only(pool, sql)
    assert result.columns == ["a", "a", "numeric", "d", "空", "arr", "j", "b"]
    assert result.rows == [
        {
            "a": "x",  # the dict keeps the last of two equal names, as before
            "numeric": "2.50",
            "d": "2023-04-01",
            "空": None,
            "arr": [1, 2],
            "j": direct["j"],
            "b": True,
        }
    ]


async def test_a_statement_without_columns_still_counts_rows(pool: asyncpg.Pool) -> None:
    result = await run_read_only(pool, "SELECT FROM t", max_rows=5)
    assert result.columns == [] and result.row_count == 5 and result.total_row_count == 50


async def test_the_wrapping_refuses_data_modifying_statements(pool: asyncpg.Pool) -> None:
    # Without the guard: the subquery cannot hold a write, whatever the transaction mode.
    for statement in (
        "UPDATE t SET name = 'hacked' RETURNING id",
        "WITH u AS (UPDATE t SET name = 'hacked' RETURNING id) SELECT id FROM u",
    ):
        with pytest.raises(SqlExecutionError):
            await sql_runner._execute(pool, statement, max_rows=10, timeout_ms=5000)
    assert await pool.fetchval("SELECT count(*) FROM t WHERE name = 'hacked'") == 0


async def test_a_huge_cell_never_reaches_the_worker(pool: asyncpg.Pool) -> None:
    """Before the cap, asyncpg read the whole 100 MB value (and Python copied it)."""
    baseline = _rss_mib()
    _reset_peak()
    # The guard refuses such a repeat() by default; this test is about the runner's cap.
    guard = SqlGuard(max_function_size=100_000_000)
    result = await run_read_only(pool, "SELECT 1 AS id, repeat('x', 100000000) AS big", guard=guard)
    growth = _peak_mib() - baseline
    assert result.rows == [] and result.total_row_count == 1 and result.is_limited is True
    assert result.to_records()["limited_by"] == "bytes"
    assert growth < 30, f"worker grew by {growth:.0f} MiB"


async def test_the_business_pool_carries_the_default_cap(db_dsn: str) -> None:
    settings = Settings(_env_file=None, api_max_result_bytes=2000)
    pool = await open_business_pool(db_dsn, settings)
    try:
        result = await run_read_only(pool, "SELECT id, repeat('y', 500) FROM t ORDER BY id")
        assert 1 <= result.row_count <= 4 and result.total_row_count == 50
        assert result.to_records()["limited_by"] == "bytes"
        # An explicit cap wins over the pool's.
        result = await run_read_only(pool, "SELECT id FROM t", max_bytes=10 * MIB)
        assert result.row_count == 50 and result.is_limited is False
    finally:
        await pool.close()


async def test_the_gate_refuses_quickly_when_every_slot_is_taken(db_dsn: str) -> None:
    settings = Settings(
        _env_file=None,
        business_pool_max=4,
        business_query_concurrency=2,
        business_query_queue_timeout_seconds=0.3,
    )
    pool = await open_business_pool(db_dsn, settings)
    try:
        slow = [
            asyncio.create_task(
                sql_runner._execute(pool, "SELECT pg_sleep(2)", max_rows=1, timeout_ms=10_000)
            )
            for _ in range(2)
        ]
        await asyncio.sleep(0.3)
        started = time.monotonic()
        with pytest.raises(BusinessQueryBusy) as info:
            await run_read_only(pool, "SELECT 1")
        assert time.monotonic() - started < 1.0
        assert info.value.status == 503 and info.value.body()["data"]["can_retry"] is True
        # The pool itself is not exhausted: a plain connection is still free.
        async with asyncio.timeout(0.5):
            assert await pool.fetchval("SELECT 1") == 1
        await asyncio.gather(*slow)
        assert (await run_read_only(pool, "SELECT 1 AS one")).rows == [{"one": 1}]
    finally:
        await pool.close()


async def test_background_validation_may_wait_longer_for_a_slot(db_dsn: str) -> None:
    settings = Settings(
        _env_file=None, business_query_concurrency=1, business_query_queue_timeout_seconds=0.1
    )
    pool = await open_business_pool(db_dsn, settings)
    try:
        holder = asyncio.create_task(
            sql_runner._execute(pool, "SELECT pg_sleep(0.5)", max_rows=1, timeout_ms=5000)
        )
        await asyncio.sleep(0.1)
        with pytest.raises(BusinessQueryBusy):
            await sql_runner.explain_sql(pool, "SELECT id FROM t")
        assert await sql_runner.explain_sql(pool, "SELECT id FROM t", queue_timeout=5) is None
        await holder
    finally:
        await pool.close()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("business_query_concurrency", 0),
        ("api_max_result_bytes", 0),
        ("business_query_queue_timeout_seconds", 0),
    ],
)
def test_limits_that_would_disable_themselves_are_refused_at_start(field, value) -> None:
    with pytest.raises(ValueError, match=f"CITU_{field.upper()}"):
        Settings(_env_file=None, **{field: value})
