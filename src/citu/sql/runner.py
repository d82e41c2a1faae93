"""Read-only execution of checked SQL on the business database (asyncpg).

Second safety layer under ``sql_guard``: a READ ONLY transaction with ``SET LOCAL
statement_timeout``, the extended protocol (a single statement per prepare), a row cap and a
byte cap enforced by the server, and (on the business pool) a per-worker concurrency limit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

from citu.sql.guard import SqlGuard, default_guard

__all__ = [
    "QueryResult",
    "SqlError",
    "SqlExecutionError",
    "SqlTimeoutError",
    "UnsafeSqlError",
    "explain_sql",
    "normalize_value",
    "run_read_only",
]

# FETCH/MOVE counts are parsed as a 32-bit integer by PostgreSQL.
_MOVE_CHUNK = 2_147_483_647

# Client-side safety net on top of statement_timeout (e.g. a stalled server), in seconds.
_CLIENT_TIMEOUT_MARGIN = 5.0

# Byte cap when neither the caller nor the pool sets one.
DEFAULT_MAX_RESULT_BYTES = 8 * 1024 * 1024

BYTE_LIMIT_NOTE = "结果超过大小上限（{limit} 字节），仅返回前 {rows} 行"

ConnSource = asyncpg.Pool | asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


class SqlError(Exception):
    """Base class of the errors raised by this module."""


class UnsafeSqlError(SqlError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SqlExecutionError(SqlError):
    """The database refused the statement; ``message`` is PostgreSQL's text (for LLM repair)."""

    def __init__(self, message: str, pg_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pg_code = pg_code


class SqlTimeoutError(SqlExecutionError):
    """statement_timeout fired (SQLSTATE 57014)."""


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    row_count: int = 0
    total_row_count: int = 0
    is_limited: bool = False
    # Set when the byte cap, not the row cap, cut the rows: the cap in bytes.
    byte_limit: int | None = None

    @property
    def limit_note(self) -> str | None:
        if self.byte_limit is None:
            return None
        return BYTE_LIMIT_NOTE.format(limit=self.byte_limit, rows=self.row_count)

    def to_records(self) -> dict[str, Any]:
        records = {
            "columns": list(self.columns),
            "rows": self.rows,
            "row_count": self.row_count,
            "total_row_count": self.total_row_count,
            "is_limited": self.is_limited,
        }
        if self.byte_limit is not None:
            # Additive fields, present only when the byte cap applied.
            records["limited_by"] = "bytes"
            records["limit_note"] = self.limit_note
        return records


def _format_timedelta(value: dt.timedelta) -> str:
    # Same text as pandas' str(Timedelta), which the original API emitted: "1 days 02:00:00".
    sign = " +" if value < dt.timedelta(0) else " "
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{value.days} days{sign}{hours:02}:{minutes:02}:{seconds:02}"
    if value.microseconds:
        text += f".{value.microseconds:06}"
    return text


def normalize_value(value: Any) -> Any:
    """Make a value JSON-safe the way the old service rendered it in ``query_result`` rows."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, Decimal):
        # Fixed-point like PostgreSQL prints numeric ("7024226.1500", never "1E-8").
        return format(value, "f")
    if isinstance(value, dt.timedelta):
        return _format_timedelta(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()  # PostgreSQL's bytea hex output
    if isinstance(value, (list, tuple)):
        return [normalize_value(item) for item in value]
    return str(value)


def _check_limits(max_rows: int, timeout_ms: int) -> None:
    if max_rows < 0:
        raise ValueError("max_rows must be >= 0")
    if timeout_ms <= 0:
        raise ValueError("timeout_ms must be > 0 (0 would disable statement_timeout)")


def _to_pg_error(exc: asyncpg.PostgresError) -> SqlExecutionError:
    code = getattr(exc, "sqlstate", None)
    if isinstance(exc, asyncpg.QueryCanceledError):
        return SqlTimeoutError(str(exc), code)
    return SqlExecutionError(str(exc), code)


@asynccontextmanager
async def _read_only_tx(
    conn_source: ConnSource, timeout_ms: int, queue_timeout: float | None = None
) -> AsyncIterator[Any]:
    async with _connection(conn_source, queue_timeout) as conn:
        if conn.is_in_transaction():
            # asyncpg would open a SAVEPOINT and silently drop readonly=True.
            raise SqlError("run_read_only needs a connection that is not inside a transaction")
        async with conn.transaction(readonly=True):
            await conn.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
            yield conn


@asynccontextmanager
async def _connection(
    conn_source: ConnSource, queue_timeout: float | None = None
) -> AsyncIterator[Any]:
    if isinstance(conn_source, asyncpg.Pool):
        gate = getattr(conn_source, "query_gate", None)
        slot = gate.slot(queue_timeout) if gate is not None else contextlib.nullcontext()
        async with slot:
            async with conn_source.acquire() as conn:
                yield conn
    else:
        yield conn_source


def _max_bytes(conn_source: ConnSource, max_bytes: int | None) -> int:
    if max_bytes is not None:
        return max_bytes
    configured = getattr(conn_source, "max_result_bytes", None)
    return configured if configured is not None else DEFAULT_MAX_RESULT_BYTES


def _capped_statement(statement: str, width: int, max_rows: int, max_bytes: int) -> str:
    """``statement`` wrapped so the server sends only the rows that fit in ``max_bytes``.

    asyncpg reads a whole row into memory, so a client-side check comes too late for a single
    huge value: the server blanks every value of the rows past the cap instead. The size of a
    row is the length of its text form, counted for the first ``max_rows + 1`` rows only so
    counting the rest (``total_row_count``) costs no conversion. Columns get positional names
    inside (duplicates and odd names are safe) and keep their types; neither window has an
    ORDER BY, so the statement's own order passes through unchanged. Its own calls are
    ``pg_catalog``-qualified, like the guard's, so no overload in another schema is chosen.
    """
    cols = [f"c{i}" for i in range(1, width + 1)]
    as_row = ", ".join(f"r.{c}" for c in cols)
    capped = ", ".join(f"CASE WHEN s.citu_size <= {max_bytes} THEN s.{c} END" for c in cols)
    body = statement.rstrip().rstrip(";")
    return (
        f"SELECT {capped}, s.citu_size FROM (\n"
        f"SELECT r.*, pg_catalog.sum(CASE WHEN r.citu_n <= {max_rows + 1}"
        f" THEN pg_catalog.octet_length(ROW({as_row})::text) ELSE 0 END)"
        " OVER (ROWS UNBOUNDED PRECEDING) AS citu_size FROM (\n"
        "SELECT q.*, pg_catalog.row_number() OVER () AS citu_n FROM (\n"
        f"{body}\n"
        f") AS q({', '.join(cols)}) OFFSET 0) AS r) AS s"
    )


async def _execute(
    conn_source: ConnSource,
    statement: str,
    *,
    max_rows: int,
    timeout_ms: int,
    max_bytes: int | None = None,
) -> QueryResult:
    """Run ``statement`` without the static check; the READ ONLY transaction still applies."""
    _check_limits(max_rows, timeout_ms)
    byte_cap = _max_bytes(conn_source, max_bytes)
    if byte_cap < 0:
        raise ValueError("max_bytes must be >= 0")
    client_timeout = timeout_ms / 1000 + _CLIENT_TIMEOUT_MARGIN
    try:
        async with _read_only_tx(conn_source, timeout_ms) as conn:
            # prepare() uses the extended protocol, which refuses a second stacked statement.
            prepared = await conn.prepare(statement, timeout=client_timeout)
            # Column names come from the statement description, so an empty result keeps them.
            columns = [attr.name for attr in prepared.get_attributes()]
            if columns:
                capped = _capped_statement(statement, len(columns), max_rows, byte_cap)
                prepared = await conn.prepare(capped, timeout=client_timeout)
            # A cursor sends rows on demand; MOVE then counts the remaining rows on the
            # server without sending them.
            cursor = await prepared.cursor(timeout=client_timeout)
            records = await cursor.fetch(max_rows, timeout=client_timeout) if max_rows else []
            total = len(records)
            if len(records) == max_rows:
                while True:
                    moved = await cursor.forward(_MOVE_CHUNK, timeout=client_timeout)
                    total += moved
                    if moved < _MOVE_CHUNK:
                        break
    except asyncpg.PostgresError as exc:
        raise _to_pg_error(exc) from exc
    except TimeoutError as exc:
        raise SqlTimeoutError(f"查询超时（客户端等待超过 {client_timeout:g} 秒）") from exc

    return _query_result(columns, records, total, byte_cap)


def _query_result(
    columns: list[str], records: list[asyncpg.Record], total: int, byte_cap: int
) -> QueryResult:
    """The rows that fit the byte cap, JSON-safe, with the counts."""
    width = len(columns)
    kept = records
    if width:
        # The last field is the running size; rows past the cap arrive blanked.
        fitting = 0
        for record in records:
            if record[width] > byte_cap:
                break
            fitting += 1
        kept = records[:fitting]
    rows = [
        {name: normalize_value(value) for name, value in zip(columns, record, strict=False)}
        for record in kept
    ]
    return QueryResult(
        columns=columns,
        rows=rows,
        row_count=len(rows),
        total_row_count=total,
        is_limited=total > len(rows),
        byte_limit=byte_cap if len(kept) < len(records) else None,
    )


async def run_read_only(
    conn_source: ConnSource,
    sql: str,
    *,
    max_rows: int = 1000,
    timeout_ms: int = 30000,
    max_bytes: int | None = None,
    guard: SqlGuard | None = None,
) -> QueryResult:
    """Check ``sql`` with the guard, then run the SQL regenerated from the checked tree
    read-only with a timeout, a row and a byte cap.

    ``max_bytes`` defaults to the business pool's ``CITU_API_MAX_RESULT_BYTES`` (else 8 MiB).
    Raises UnsafeSqlError, SqlExecutionError or SqlTimeoutError (a SqlExecutionError), and
    BusinessQueryBusy (a 503) when the pool's query slots stay taken.
    """
    check = await (guard or default_guard()).check(sql)
    if not check.ok:
        raise UnsafeSqlError(check.reason)
    return await _execute(
        conn_source, check.statement, max_rows=max_rows, timeout_ms=timeout_ms, max_bytes=max_bytes
    )


async def explain_sql(
    conn_source: ConnSource,
    sql: str,
    *,
    timeout_ms: int = 30000,
    queue_timeout: float | None = None,
    guard: SqlGuard | None = None,
) -> str | None:
    """Validate ``sql`` with EXPLAIN (plans, never executes): None when valid, else the problem.

    An unsafe statement returns the guard's reason instead of raising, so callers (LLM repair
    loops) treat every failure the same way: a text to show or to feed back. Background work
    (the pipeline) passes a longer ``queue_timeout`` than a request's to wait for a query slot.
    """
    _check_limits(0, timeout_ms)
    check = await (guard or default_guard()).check(sql)
    if not check.ok:
        return check.reason
    statement = check.statement
    if statement.startswith("("):
        # "EXPLAIN (" would start EXPLAIN's option list.
        statement = f"SELECT * FROM ({statement}) AS q"
    try:
        async with _read_only_tx(conn_source, timeout_ms, queue_timeout) as conn:
            await conn.fetch(
                f"EXPLAIN {statement}", timeout=timeout_ms / 1000 + _CLIENT_TIMEOUT_MARGIN
            )
    except asyncpg.PostgresError as exc:
        return str(exc)
    except TimeoutError:
        return "SQL 验证超时"
    return None
