"""``citu db reader-role``: the printed SQL and applying it to a real database, twice."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from citu.cli import main
from citu.db.reader_role import quote_ident, with_user
from citu.db.role_check import inspect_business_role

ADMIN_DSN = os.environ.get(
    "CITU_TEST_BUSINESS_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def _admin(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
def shop() -> Iterator[tuple[str, str]]:
    """A throw-away database with two tables; yields (admin URL of it, role name to use)."""
    name = f"citu_cli_{uuid.uuid4().hex[:10]}"
    role = f"citu_cli_reader_{name[-10:]}"
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(_admin(ADMIN_DSN, f'CREATE DATABASE "{name}"'))
    asyncio.run(
        _admin(
            dsn,
            "CREATE TABLE sales (id int, amount numeric)",
            "CREATE TABLE secrets (id int, body text)",
            "INSERT INTO sales VALUES (1, 10), (2, 20)",
        )
    )
    yield dsn, role
    asyncio.run(_admin(ADMIN_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(ADMIN_DSN, f"DROP ROLE IF EXISTS {quote_ident(role)}"))


def test_prints_the_sql_without_touching_a_database(capsys) -> None:
    code = main(["db", "reader-role", "--database", "shop", "--tables", "sales,crm.people"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("BEGIN;") == 1 and out.rstrip().endswith("COMMIT;")
    assert 'GRANT SELECT ON TABLE "public"."sales" TO "citu_reader"' in out
    assert 'GRANT SELECT ON TABLE "crm"."people" TO "citu_reader"' in out
    assert "ALTER ROLE \"citu_reader\" SET default_transaction_read_only = 'on'" in out
    assert "GRANT INSERT" not in out and "GRANT ALL" not in out


def test_needs_a_database(capsys) -> None:
    assert main(["db", "reader-role"]) == 2
    assert "--database" in capsys.readouterr().err


def test_applies_idempotently_and_repairs_a_writer(shop, capsys) -> None:
    dsn, role = shop
    args = ["db", "reader-role", "--role", role, "--tables", "sales", "--admin-url", dsn]
    assert main(args) == 0
    assert main(args) == 0  # a second run changes nothing and succeeds
    # Someone grants it a write: running the command again takes it back.
    asyncio.run(_admin(dsn, f"GRANT INSERT ON sales TO {quote_ident(role)}"))
    assert main(args) == 0
    capsys.readouterr()

    async def check() -> None:
        conn = await asyncpg.connect(with_user(dsn, role))
        try:
            assert (await inspect_business_role(conn)).ok
            assert await conn.fetchval("SELECT sum(amount) FROM sales") == 30
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch("SELECT * FROM secrets")
        finally:
            await conn.close()

    asyncio.run(check())
