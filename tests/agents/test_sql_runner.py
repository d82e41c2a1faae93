import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import pytest

from citu.sql import runner as sql_runner
from citu.sql.guard import SqlCheck, SqlGuard
from citu.sql.runner import (
    QueryResult,
    SqlExecutionError,
    SqlTimeoutError,
    UnsafeSqlError,
    explain_sql,
    normalize_value,
    run_read_only,
)

ADMIN_DSN = os.environ.get("CITU_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")

SEED_SQL = """
CREATE TABLE sales (
    id int PRIMARY KEY,
    name text NOT NULL,
    amount numeric(14, 4),
    day date,
    seen_at timestamp,
    blob bytea
);
INSERT INTO sales
SELECT i,
       '服务区' || i,
       CASE WHEN i = 1 THEN 7024226.1500 ELSE i * 10.5 END,
       DATE '2023-04-01' + (i - 1),
       TIMESTAMP '2023-04-01 08:00:00' + (i - 1) * INTERVAL '1 hour',
       CASE WHEN i = 1 THEN '\\xdead'::bytea END
FROM generate_series(1, 12) AS i;
"""


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    try:
        admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    db_name = f"citu_sqlrunner_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    test_pool = None
    try:
        dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{db_name}"
        test_pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        async with test_pool.acquire() as conn:
            await conn.execute(SEED_SQL)
        yield test_pool
    finally:
        if test_pool is not None:
            await test_pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.close()


async def _snapshot(pool: asyncpg.Pool) -> list[tuple]:
    async with pool.acquire() as conn:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
        rows = await conn.fetch("SELECT id, name, amount FROM sales ORDER BY id")
    return [tuple(r) for r in tables] + [tuple(r) for r in rows]


async def test_rows_columns_and_normalisation(pool: asyncpg.Pool) -> None:
    result = await run_read_only(
        pool,
        "SELECT name AS 服务区名称, amount AS 总收入, day, seen_at, blob, id "
        "FROM sales WHERE id = 1;",
    )
    assert isinstance(result, QueryResult)
    assert result.columns == ["服务区名称", "总收入", "day", "seen_at", "blob", "id"]
    assert result.rows == [
        {
            "服务区名称": "服务区1",
            "总收入": "7024226.1500",
            "day": "2023-04-01",
            "seen_at": "2023-04-01 08:00:00",
            "blob": "\\xdead",
            "id": 1,
        }
    ]
    assert result.to_records() == {
        "columns": result.columns,
        "rows": result.rows,
        "row_count": 1,
        "total_row_count": 1,
        "is_limited": False,
    }


async def test_row_cap_keeps_order_and_counts_all(pool: asyncpg.Pool) -> None:
    result = await run_read_only(pool, "SELECT id FROM sales ORDER BY id DESC", max_rows=5)
    assert [r["id"] for r in result.rows] == [12, 11, 10, 9, 8]
    assert (result.row_count, result.total_row_count, result.is_limited) == (5, 12, True)


async def test_exact_cap_is_not_limited(pool: asyncpg.Pool) -> None:
    result = await run_read_only(pool, "SELECT id FROM sales", max_rows=12)
    assert (result.row_count, result.total_row_count, result.is_limited) == (12, 12, False)


async def test_zero_max_rows_still_counts(pool: asyncpg.Pool) -> None:
    result = await run_read_only(pool, "SELECT id FROM sales", max_rows=0)
    assert (result.columns, result.rows, result.total_row_count) == (["id"], [], 12)
    assert result.is_limited is True


async def test_empty_result_keeps_columns(pool: asyncpg.Pool) -> None:
    result = await run_read_only(pool, "SELECT id, name AS 名称 FROM sales WHERE false")
    assert result.to_records() == {
        "columns": ["id", "名称"],
        "rows": [],
        "row_count": 0,
        "total_row_count": 0,
        "is_limited": False,
    }


async def test_accepts_plain_connection(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        result = await run_read_only(conn, "VALUES (1, 'a'), (2, 'b')")
        assert result.total_row_count == 2
        # SET LOCAL ended with the transaction.
        assert await conn.fetchval("SHOW statement_timeout") == "0"
        assert not conn.is_in_transaction()


async def test_refuses_connection_already_in_transaction(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(sql_runner.SqlError):
            await run_read_only(conn, "SELECT 1")


async def test_statement_timeout(pool: asyncpg.Pool) -> None:
    with pytest.raises(SqlTimeoutError) as info:
        await run_read_only(
            pool, "SELECT count(*) FROM generate_series(1, 100000000)", timeout_ms=200
        )
    assert info.value.pg_code == "57014"
    assert "statement timeout" in info.value.message
    assert isinstance(info.value, SqlExecutionError)


async def test_database_error_carries_pg_text(pool: asyncpg.Pool) -> None:
    with pytest.raises(SqlExecutionError) as info:
        await run_read_only(pool, "SELECT nope FROM sales")
    assert info.value.pg_code == "42703"
    assert 'column "nope" does not exist' in info.value.message


async def test_unsafe_sql_is_refused_before_execution(pool: asyncpg.Pool) -> None:
    before = await _snapshot(pool)
    with pytest.raises(UnsafeSqlError) as info:
        await run_read_only(pool, "DELETE FROM sales")
    assert info.value.reason == "检测到写操作: DELETE"
    assert await _snapshot(pool) == before


async def test_explain_sql(pool: asyncpg.Pool) -> None:
    assert await explain_sql(pool, "SELECT id FROM sales ORDER BY id;") is None
    assert await explain_sql(pool, "(SELECT id FROM sales) UNION (SELECT 1)") is None
    error = await explain_sql(pool, "SELECT nope FROM sales")
    assert error is not None and 'column "nope" does not exist' in error
    assert await explain_sql(pool, "SELECT * FROM missing_table") is not None
    assert await explain_sql(pool, "SELECT pg_sleep(5)") == "禁止调用函数: pg_sleep"


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO sales (id, name) VALUES (99, 'x')",
        "UPDATE sales SET amount = 0",
        "DELETE FROM sales",
        "CREATE TABLE evil (a int)",
        "WITH d AS (DELETE FROM sales RETURNING *) SELECT count(*) FROM d",
        "SELECT * INTO evil FROM sales",
        "SELECT set_config('transaction_read_only', 'off', true)",
        "SELECT 1; DELETE FROM sales",
    ],
)
async def test_read_only_transaction_is_second_guard(pool: asyncpg.Pool, statement: str) -> None:
    before = await _snapshot(pool)
    with pytest.raises(SqlExecutionError):
        await sql_runner._execute(pool, statement, max_rows=10, timeout_ms=5000)
    assert await _snapshot(pool) == before


async def test_second_guard_with_check_sql_disabled(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SqlGuard, "check_now", lambda self, sql: SqlCheck(True, "", sql))
    await pool.execute("CREATE SEQUENCE citu_probe_seq")
    before = await _snapshot(pool)
    with pytest.raises(SqlExecutionError) as info:
        # A write through a function: data-modifying statements cannot even be wrapped by the
        # byte cap's subquery (test_byte_cap_wrapper_refuses_data_modifying_statements).
        await run_read_only(pool, "SELECT nextval('citu_probe_seq')")
    assert info.value.pg_code == "25006"  # read_only_sql_transaction
    assert isinstance(info.value.__cause__, asyncpg.ReadOnlySQLTransactionError)
    assert await _snapshot(pool) == before


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (7, 7),
        (1.5, 1.5),
        (float("nan"), None),
        (float("inf"), "Infinity"),
        ("文本", "文本"),
        (Decimal("7024226.1500"), "7024226.1500"),
        (Decimal("1E-8"), "0.00000001"),
        (Decimal("1E+20"), "100000000000000000000"),
        (dt.date(2023, 4, 1), "2023-04-01"),
        (dt.datetime(2023, 4, 1, 8, 0), "2023-04-01 08:00:00"),
        (dt.datetime(2023, 4, 1, 8, 0, tzinfo=dt.UTC), "2023-04-01 08:00:00+00:00"),
        (dt.time(8, 30), "08:30:00"),
        (dt.timedelta(days=1, hours=2), "1 days 02:00:00"),
        (dt.timedelta(hours=-1), "-1 days +23:00:00"),
        (dt.timedelta(seconds=1, microseconds=500), "0 days 00:00:01.000500"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (b"\xde\xad", "\\xdead"),
        ([Decimal("1.50"), None], ["1.50", None]),
    ],
)
def test_normalize_value(value: object, expected: object) -> None:
    assert normalize_value(value) == expected
