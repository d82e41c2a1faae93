"""asyncpg pools: citu's own database (pgvector types registered) and the read-only business DB."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from pgvector.asyncpg import register_vector

from citu.errors import ServiceUnavailable
from citu.settings import Settings

log = logging.getLogger("citu.db")

BUSY_TEXT = "业务数据库繁忙：同时执行的查询已达上限，请稍后重试"


async def _init_citu_connection(conn: asyncpg.Connection) -> None:
    await register_vector(conn)


async def open_citu_pool(url: str, settings: Settings) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        init=_init_citu_connection,
        server_settings={"application_name": "citu"},
    )


class BusinessQueryBusy(ServiceUnavailable):
    """Every query slot of this worker stayed taken for the whole queue timeout."""

    def __init__(self) -> None:
        super().__init__(BUSY_TEXT, can_retry=True)


class QueryGate:
    """At most ``limit`` business queries at once per worker; a short wait, then a 503.

    Kept below the pool's size so ``/health`` and catalog reads always find a connection,
    and so a burst of slow queries is refused quickly instead of queueing for minutes.
    """

    def __init__(self, limit: int, queue_timeout: float) -> None:
        if limit < 1:
            raise ValueError("CITU_BUSINESS_QUERY_CONCURRENCY must be >= 1")
        self.limit = limit
        self.queue_timeout = queue_timeout
        self._slots = asyncio.Semaphore(limit)

    @property
    def in_use(self) -> int:
        return self.limit - self._slots._value

    @asynccontextmanager
    async def slot(self, queue_timeout: float | None = None) -> AsyncIterator[None]:
        """Hold one slot; wait at most ``queue_timeout`` (default: the configured one)."""
        try:
            async with asyncio.timeout(queue_timeout or self.queue_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise BusinessQueryBusy() from None
        try:
            yield
        finally:
            self._slots.release()


class BusinessPool(asyncpg.Pool):
    """The business pool, carrying the per-worker limits every query through it obeys.

    A subclass rather than a wrapper: code that takes an ``asyncpg.Pool`` keeps working, and
    the runner finds the limits on the pool it was given without every caller passing them.
    """

    __slots__ = ("query_gate", "max_result_bytes")

    query_gate: QueryGate | None
    max_result_bytes: int | None


class BusinessConnection(asyncpg.Connection):
    """A business connection that keeps its session limits across the pool's ``RESET ALL``.

    ``temp_file_limit`` cannot be a startup setting (only a superuser may set it, so a plain
    role could not connect at all): it is SET after connecting when the role may, and set
    again after each release's ``RESET ALL``.
    """

    _citu_session_sql: str = ""

    def get_reset_query(self) -> str:
        reset = super().get_reset_query()
        return f"{reset}\n{self._citu_session_sql}" if self._citu_session_sql else reset


async def _init_business_connection(conn: asyncpg.Connection, temp_file_limit: str) -> None:
    """Bound the temporary files one query may write (a sort or hash spilling to disk fills
    the server's disk otherwise: the default is unlimited). A plain role may not set it and
    gets the limit as a role default instead (see ``docs/security.md``)."""
    if not temp_file_limit:
        return
    statement = "SET temp_file_limit = " + _quote_literal(temp_file_limit)
    try:
        await conn.execute(statement)
    except asyncpg.InsufficientPrivilegeError:
        return
    if isinstance(conn, BusinessConnection):
        conn._citu_session_sql = statement + ";"


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def business_server_settings(settings: Settings) -> dict[str, str]:
    """Session settings of every business connection (all settable by a plain role)."""
    return {
        "application_name": "citu-business",
        # Even SQL that slips past the guard cannot write in this session.
        "default_transaction_read_only": "on",
        # The guard reads '\' as a backslash; with this off (a legacy database or role
        # default) PostgreSQL would read an escaped quote and run text the guard saw as a string.
        "standard_conforming_strings": "on",
        "statement_timeout": str(settings.business_statement_timeout_ms),
        "idle_in_transaction_session_timeout": str(
            settings.business_idle_in_transaction_timeout_ms
        ),
        "lock_timeout": str(settings.business_lock_timeout_ms),
        "work_mem": settings.business_work_mem,
    }


async def open_business_pool(url: str, settings: Settings) -> BusinessPool:
    if settings.business_query_concurrency >= settings.business_pool_max:
        log.warning(
            "CITU_BUSINESS_QUERY_CONCURRENCY (%d) >= CITU_BUSINESS_POOL_MAX (%d): slow queries "
            "can take every connection and make /health wait",
            settings.business_query_concurrency,
            settings.business_pool_max,
        )
    pool = BusinessPool(
        url,
        min_size=1,
        max_size=settings.business_pool_max,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=BusinessConnection,
        init=functools.partial(
            _init_business_connection, temp_file_limit=settings.business_temp_file_limit
        ),
        record_class=asyncpg.Record,
        timeout=settings.business_connect_timeout,
        server_settings=business_server_settings(settings),
    )
    pool.query_gate = QueryGate(
        settings.business_query_concurrency, settings.business_query_queue_timeout_seconds
    )
    pool.max_result_bytes = settings.api_max_result_bytes
    await pool
    return pool
