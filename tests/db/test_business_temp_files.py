"""The business pool bounds the temporary files a query may write, on every connection and
after every release (the pool's ``RESET ALL`` would drop a plain SET)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from citu.db.pools import open_business_pool
from citu.settings import Settings

# A superuser: the one kind of role that may set temp_file_limit in its session.
ADMIN_DSN = os.environ.get("CITU_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
async def db_dsn() -> AsyncIterator[str]:
    admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    name = f"citu_tmpfiles_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_temp_file_limit_is_in_force_across_releases(db_dsn: str) -> None:
    settings = Settings(business_temp_file_limit="8MB", business_pool_max=2)
    pool = await open_business_pool(db_dsn, settings)
    try:
        for _ in range(3):  # each release runs RESET ALL
            async with pool.acquire() as conn:
                assert await conn.fetchval("SHOW temp_file_limit") == "8MB"
        async with pool.acquire() as conn:
            with pytest.raises(asyncpg.ConfigurationLimitExceededError):
                await conn.fetchval(
                    "SELECT count(*) FROM (SELECT g FROM generate_series(1, 5000000) g "
                    "ORDER BY g DESC) s"
                )
    finally:
        await pool.close()


async def test_a_role_that_may_not_set_it_still_connects(db_dsn: str) -> None:
    role = f"citu_plain_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(db_dsn)
    await admin.execute(f"CREATE ROLE {role} LOGIN")
    try:
        url = db_dsn.replace("postgres@", f"{role}@", 1)
        pool = await open_business_pool(url, Settings(business_temp_file_limit="8MB"))
        try:
            assert await pool.fetchval("SELECT 1") == 1
        finally:
            await pool.close()
    finally:
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()
