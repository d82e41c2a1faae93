"""The SQL that makes a SELECT-only login role for the business database.

Used three ways: ``citu db reader-role`` prints it (or applies it with an admin URL), the
embedded demo applies it to its own tables, and the tests connect through such a role. Every
statement can run again: a re-run converges on the same role and also takes back the write
privileges and CREATE rights that a reader must not have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from citu.db.locks import AdvisoryLock

__all__ = [
    "ReaderRoleSpec",
    "apply_reader_role",
    "quote_ident",
    "quote_literal",
    "reader_role_sql",
    "with_user",
]


def quote_ident(name: str) -> str:
    if not name or "\x00" in name:
        raise ValueError(f"invalid SQL identifier: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    if "\x00" in value:
        raise ValueError("a NUL character cannot be part of an SQL literal")
    return "'" + value.replace("'", "''") + "'"


def _qualified(table: str, default_schema: str) -> tuple[str, str]:
    schema, _, name = table.rpartition(".")
    return schema or default_schema, name


@dataclass(frozen=True)
class ReaderRoleSpec:
    role: str
    database: str
    schemas: Sequence[str] = ("public",)
    # Only these tables ("schema.table" or "table" in the first schema); None = every table
    # of the schemas, now and (with ``default_privileges_for``) later.
    tables: Sequence[str] | None = None
    password: str | None = None  # None keeps an existing password (or none: trust/peer auth)
    # Roles whose future tables in the schemas the reader may also read.
    default_privileges_for: Sequence[str] = ()
    # Role defaults: apply to every session of the role, whatever client connects.
    statement_timeout: str = "30s"
    idle_in_transaction_session_timeout: str = "60s"
    work_mem: str = "64MB"
    temp_file_limit: str | None = "1GB"  # needs a superuser to set; None leaves it


def reader_role_sql(spec: ReaderRoleSpec) -> list[str]:
    """Statements that create or repair the reader role; each is idempotent."""
    role = quote_ident(spec.role)
    statements = [
        # DO + duplicate_object: two installers racing both succeed.
        "DO $citu$ BEGIN\n"
        f"  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {quote_literal(spec.role)})"
        f" THEN CREATE ROLE {role} LOGIN; END IF;\n"
        "EXCEPTION WHEN duplicate_object THEN NULL;\n"
        "END $citu$",
        f"ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
        " NOBYPASSRLS INHERIT",
    ]
    if spec.password is not None:
        statements.append(f"ALTER ROLE {role} WITH PASSWORD {quote_literal(spec.password)}")
    defaults = {
        "default_transaction_read_only": "on",
        "statement_timeout": spec.statement_timeout,
        "idle_in_transaction_session_timeout": spec.idle_in_transaction_session_timeout,
        "work_mem": spec.work_mem,
    }
    if spec.temp_file_limit is not None:
        defaults["temp_file_limit"] = spec.temp_file_limit
    statements += [
        f"ALTER ROLE {role} SET {name} = {quote_literal(value)}" for name, value in defaults.items()
    ]
    database = quote_ident(spec.database)
    statements += [
        f"REVOKE CREATE, TEMPORARY ON DATABASE {database} FROM {role}",
        f"GRANT CONNECT ON DATABASE {database} TO {role}",
    ]
    for schema_name in spec.schemas:
        schema = quote_ident(schema_name)
        statements += [
            f"REVOKE CREATE ON SCHEMA {schema} FROM {role}",
            f"GRANT USAGE ON SCHEMA {schema} TO {role}",
            f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER"
            f" ON ALL TABLES IN SCHEMA {schema} FROM {role}",
            f"REVOKE USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}",
        ]
        if spec.tables is None:
            statements.append(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
            for owner in spec.default_privileges_for:
                statements.append(
                    f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(owner)} IN SCHEMA {schema}"
                    f" GRANT SELECT ON TABLES TO {role}"
                )
    if spec.tables is not None:
        default_schema = spec.schemas[0] if spec.schemas else "public"
        for table in spec.tables:
            schema_name, name = _qualified(table, default_schema)
            statements.append(
                f"GRANT SELECT ON TABLE {quote_ident(schema_name)}.{quote_ident(name)} TO {role}"
            )
    return statements


def render_script(spec: ReaderRoleSpec) -> str:
    """The statements as one script, in a transaction, for ``psql -f``."""
    body = ";\n".join(reader_role_sql(spec))
    header = (
        f"-- A SELECT-only role for citu's business connection ({spec.role}).\n"
        "-- Run as a superuser, connected to the business database (psql -f). Idempotent.\n"
        "-- PostgreSQL 14 and older also let PUBLIC create in schema public; consider\n"
        "--   REVOKE CREATE ON SCHEMA public FROM PUBLIC;\n"
    )
    return f"{header}BEGIN;\n{body};\nCOMMIT;\n"


async def apply_reader_role(conn: asyncpg.Connection, spec: ReaderRoleSpec) -> None:
    """Run the statements in one transaction on an admin connection to ``spec.database``."""
    async with conn.transaction():
        # GRANTs on one object from two workers at once fail with "tuple concurrently updated".
        await conn.execute("SELECT pg_advisory_xact_lock($1)", AdvisoryLock.READER_ROLE)
        for statement in reader_role_sql(spec):
            await conn.execute(statement)


def with_user(url: str, user: str, password: str | None = None) -> str:
    """The same database URL, logging in as ``user`` (the old password dropped)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    credentials = quote(user, safe="")
    if password is not None:
        credentials += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))
