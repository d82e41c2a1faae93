"""The business-role inspection and the reader-role SQL, on the machine's PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from citu.db.reader_role import (
    ReaderRoleSpec,
    apply_reader_role,
    quote_ident,
    reader_role_sql,
    with_user,
)
from citu.db.role_check import inspect_business_role

ADMIN_DSN = os.environ.get(
    "CITU_TEST_BUSINESS_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
async def scratch_db() -> AsyncIterator[str]:
    """A throw-away database with a table and a sequence; roles made in it are dropped."""
    admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    name = f"citu_role_test_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        "CREATE TABLE public.sales (id serial PRIMARY KEY, amount numeric);"
        "CREATE SCHEMA other; CREATE TABLE other.notes (id int, body text);"
        "INSERT INTO public.sales (amount) VALUES (1), (2)"
    )
    await conn.close()
    try:
        yield dsn
    finally:
        roles = await admin.fetch(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE $1", f"citu_rt_{name[-10:]}%"
        )
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for role in roles:
            await admin.execute(f"DROP ROLE IF EXISTS {quote_ident(role['rolname'])}")
        await admin.close()


def _role_name(dsn: str, suffix: str) -> str:
    return f"citu_rt_{dsn[-10:]}_{suffix}"


async def _inspect(dsn: str) -> tuple[str, set[str], list]:
    conn = await asyncpg.connect(dsn)
    try:
        report = await inspect_business_role(conn)
    finally:
        await conn.close()
    return report.role, {f.code for f in report.findings}, list(report.findings)


async def test_the_superuser_is_reported(scratch_db: str) -> None:
    role, codes, findings = await _inspect(scratch_db)
    assert role == "postgres" and "superuser" in codes
    assert all(f.detail for f in findings)


async def test_a_reader_made_by_the_sql_has_no_findings_and_cannot_write(scratch_db: str) -> None:
    role = _role_name(scratch_db, "reader")
    database = scratch_db.rsplit("/", 1)[1]
    spec = ReaderRoleSpec(role=role, database=database, schemas=("public", "other"))
    admin = await asyncpg.connect(scratch_db)
    try:
        await apply_reader_role(admin, spec)
        await apply_reader_role(admin, spec)  # idempotent
    finally:
        await admin.close()
    reader_dsn = with_user(scratch_db, role)
    name, codes, findings = await _inspect(reader_dsn)
    assert name == role and codes == set(), findings
    conn = await asyncpg.connect(reader_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM sales") == 2
        assert await conn.fetchval("SELECT count(*) FROM other.notes") == 0
        # Role defaults apply to every session, whichever client connects.
        assert await conn.fetchval("SHOW default_transaction_read_only") == "on"
        assert await conn.fetchval("SHOW temp_file_limit") == "1GB"
        with pytest.raises(asyncpg.PostgresError):
            await conn.execute("BEGIN READ WRITE; INSERT INTO sales (amount) VALUES (3)")
        await conn.execute("ROLLBACK")
        # Past the read-only default, the grants themselves stop a write.
        await conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("INSERT INTO sales (amount) VALUES (3)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.x (a int)")
    finally:
        await conn.close()


async def test_only_listed_tables_are_granted(scratch_db: str) -> None:
    role = _role_name(scratch_db, "narrow")
    database = scratch_db.rsplit("/", 1)[1]
    spec = ReaderRoleSpec(role=role, database=database, tables=("sales",))
    admin = await asyncpg.connect(scratch_db)
    try:
        await apply_reader_role(admin, spec)
    finally:
        await admin.close()
    conn = await asyncpg.connect(with_user(scratch_db, role))
    try:
        assert await conn.fetchval("SELECT count(*) FROM sales") == 2
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval("SELECT count(*) FROM other.notes")
    finally:
        await conn.close()


async def test_every_kind_of_extra_privilege_is_named(scratch_db: str) -> None:
    role = _role_name(scratch_db, "wide")
    database = scratch_db.rsplit("/", 1)[1]
    admin = await asyncpg.connect(scratch_db)
    try:
        await admin.execute(f"CREATE ROLE {quote_ident(role)} LOGIN CREATEDB")
        q = quote_ident(role)
        await admin.execute(
            f"GRANT SELECT, INSERT ON public.sales TO {q};"
            f"GRANT UPDATE (body) ON other.notes TO {q};"
            f"GRANT USAGE ON SEQUENCE public.sales_id_seq TO {q};"
            f"GRANT CREATE ON SCHEMA other TO {q};"
            f'GRANT CREATE ON DATABASE "{database}" TO {q};'
            f"GRANT pg_signal_backend, pg_read_server_files TO {q};"
            "CREATE EXTENSION IF NOT EXISTS dblink;"
            "CREATE EXTENSION IF NOT EXISTS postgres_fdw;"
            f"GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO {q};"
            "CREATE FUNCTION public.as_owner() RETURNS int LANGUAGE sql SECURITY DEFINER"
            " AS 'SELECT 1';"
        )
    finally:
        await admin.close()
    _, codes, findings = await _inspect(with_user(scratch_db, role))
    assert {
        "createdb",
        "write_privilege",
        "sequence_write",
        "create_schema",
        "create_database_objects",
        "member_pg_signal_backend",
        "member_pg_read_server_files",
        "dblink",
        "foreign_data_wrapper",
        "security_definer",
    } <= codes, findings
    writes = " ".join(f.detail for f in findings if f.code == "write_privilege")
    assert "INSERT" in writes and "public.sales" in writes
    assert "UPDATE" in writes and "other.notes" in writes  # a column grant counts


def test_the_sql_quotes_names_and_passwords() -> None:
    spec = ReaderRoleSpec(
        role='odd"name', database="db", schemas=("s",), password="p'w", temp_file_limit=None
    )
    sql = "\n".join(reader_role_sql(spec))
    assert '"odd""name"' in sql and "PASSWORD 'p''w'" in sql
    assert "temp_file_limit" not in sql
    assert 'GRANT SELECT ON ALL TABLES IN SCHEMA "s" TO "odd""name"' in sql
    with pytest.raises(ValueError):
        reader_role_sql(ReaderRoleSpec(role="a\x00b", database="db"))
