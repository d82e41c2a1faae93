"""asyncpg pools: citu's own database (pgvector types registered) and the read-only business DB."""

from __future__ import annotations

import asyncpg
from pgvector.asyncpg import register_vector

from citu.settings import Settings


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


async def open_business_pool(url: str, settings: Settings) -> asyncpg.Pool:
    # Read-only at the session level: even SQL that slips past the guard cannot write.
    return await asyncpg.create_pool(
        url,
        min_size=1,
        max_size=settings.business_pool_max,
        timeout=settings.business_connect_timeout,
        server_settings={
            "application_name": "citu-business",
            "default_transaction_read_only": "on",
            "statement_timeout": str(settings.business_statement_timeout_ms),
        },
    )
