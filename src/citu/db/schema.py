"""Database creation and citu's own schema, applied idempotently at start.

Schema files live in ``citu/db/sql/schema/`` and run in name order; each must be safe to run
again. An advisory lock keeps several workers from applying them at the same time.
"""

from __future__ import annotations

import logging
from importlib.resources import files
from urllib.parse import urlsplit

import asyncpg

from citu.db.embedded import with_database
from citu.db.locks import AdvisoryLock

log = logging.getLogger("citu.db")


async def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if it does not exist yet."""
    name = urlsplit(url).path.lstrip("/")
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            try:
                await admin.execute(f'CREATE DATABASE "{name}"')
                log.info("created database %s", name)
            except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                pass  # another worker won the race (PostgreSQL reports either error)
    finally:
        await admin.close()


def schema_files() -> list[tuple[str, str]]:
    folder = files("citu.db") / "sql" / "schema"
    entries = sorted((p for p in folder.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
    return [(p.name, p.read_text(encoding="utf-8")) for p in entries]


async def apply_schema(conn: asyncpg.Connection) -> list[str]:
    """Run every schema file in one transaction; return the file names applied."""
    applied = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", AdvisoryLock.SCHEMA)
        for name, sql in schema_files():
            await conn.execute(sql)
            applied.append(name)
    log.info("schema applied: %s", ", ".join(applied))
    return applied


async def ensure_demo_database(url: str) -> dict[str, int]:
    """Create and fill the demo business database once; later calls only check it."""
    from citu.db.demo import install_demo  # locks and fills in one transaction, idempotently

    await ensure_database(url)
    conn = await asyncpg.connect(url)
    try:
        return await install_demo(conn)
    finally:
        await conn.close()
