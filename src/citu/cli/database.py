"""``citu init-db`` and ``citu db reader-role``: citu's schema, the demo database, a SELECT-only role."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from citu.settings import Settings, redact_url


async def _init_db(with_demo: bool) -> None:
    import asyncpg

    from citu.db.schema import apply_schema, ensure_demo_database
    from citu.db.urls import resolve_database_urls

    settings = Settings()
    database_url, business_url = await resolve_database_urls(settings)
    conn = await asyncpg.connect(database_url)
    try:
        applied = await apply_schema(conn)
        print(f"citu database {redact_url(database_url)}: applied {', '.join(applied)}")
    finally:
        await conn.close()
    if with_demo:
        target = business_url if not settings.business_db_url else settings.business_db_url
        counts = await ensure_demo_database(target)
        print(f"demo business database {redact_url(target)}: {counts}")
        await _train_demo(settings, target)


async def _train_demo(settings: Settings, demo_url: str) -> None:
    """The demo's DDL, documentation and curated pairs into the vector store (idempotent)."""
    import asyncpg

    from citu.db.demo_training import train_demo
    from citu.training.schema_training import offline_training

    if not settings.embedding_configured:
        print(
            "demo training data not loaded: it needs an embedding endpoint"
            " (set CITU_EMBEDDING_BASE_URL; no chat model is needed)"
        )
        return
    async with offline_training(settings) as (training, _):
        business = await asyncpg.connect(demo_url)
        try:
            loaded = await train_demo(training, business)
        finally:
            await business.close()
    print(f"demo training data: {loaded}")


def init_db(args: argparse.Namespace) -> int:
    from citu.local_servers import servers_for_command

    with servers_for_command(Settings(), redis=False):
        asyncio.run(_init_db(args.demo))
    return 0


def db_reader_role(args: argparse.Namespace) -> int:
    """Print (or, with ``--admin-url``, apply) the SQL of a SELECT-only business role."""
    from urllib.parse import urlsplit

    from citu.db.reader_role import ReaderRoleSpec, render_script

    database = args.database
    if database is None and args.admin_url:
        database = urlsplit(args.admin_url).path.lstrip("/") or None
    if database is None:
        print("citu: give --database (or --admin-url naming the database)", file=sys.stderr)
        return 2
    password = os.environ.get(args.password_env) if args.password_env else None
    if args.password_env and password is None:
        print(f"citu: environment variable {args.password_env} is not set", file=sys.stderr)
        return 2
    tables = [t.strip() for t in args.tables.split(",") if t.strip()] if args.tables else None
    try:
        spec = ReaderRoleSpec(
            role=args.role,
            database=database,
            schemas=[s.strip() for s in args.schemas.split(",") if s.strip()],
            tables=tables,
            password=password,
            default_privileges_for=args.default_privileges_for or (),
            temp_file_limit=None if args.no_temp_file_limit else args.temp_file_limit,
        )
        script = render_script(spec)
    except ValueError as error:
        print(f"citu: {error}", file=sys.stderr)
        return 2
    if not args.admin_url:
        print(script, end="")
        return 0
    return asyncio.run(_apply_reader_role(args.admin_url, spec))


async def _apply_reader_role(admin_url: str, spec) -> int:
    import asyncpg

    from citu.db.reader_role import apply_reader_role, with_user
    from citu.db.role_check import inspect_business_role

    try:
        conn = await asyncpg.connect(admin_url)
    except (OSError, asyncpg.PostgresError) as error:
        print(f"citu: cannot connect to {redact_url(admin_url)}: {error}", file=sys.stderr)
        return 1
    try:
        await apply_reader_role(conn, spec)
    except asyncpg.PostgresError as error:
        print(f"citu: applying the role failed: {error}", file=sys.stderr)
        return 1
    finally:
        await conn.close()
    print(f"citu: role {spec.role} ready in database {spec.database}")
    # Check it the way the service will; a password-less role may not log in over TCP.
    try:
        reader = await asyncpg.connect(with_user(admin_url, spec.role, spec.password))
    except (OSError, asyncpg.PostgresError) as error:
        print(f"citu: could not log in as {spec.role} to check it ({type(error).__name__})")
        return 0
    try:
        report = await inspect_business_role(reader)
    finally:
        await reader.close()
    for finding in report.findings:
        print(f"citu: still privileged: {finding.code}: {finding.detail}", file=sys.stderr)
    return 0 if report.ok else 1


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's sub-commands to ``citu``'s parser."""
    init_cmd = commands.add_parser(
        "init-db",
        help="create citu's schema (and the demo database)",
        description="Create citu's schema; with --demo also the demo business database.",
    )
    init_cmd.add_argument("--demo", action="store_true", help="also create the demo business DB")
    init_cmd.set_defaults(func=init_db)

    db_cmd = commands.add_parser("db", help="business database helpers")
    db_commands = db_cmd.add_subparsers(dest="db_command", required=True)
    reader_cmd = db_commands.add_parser(
        "reader-role",
        help="print (or apply with --admin-url) SQL creating a SELECT-only role for citu",
        description="Idempotent SQL: a LOGIN role with SELECT on the chosen tables, no write, "
        "no CREATE, read-only and time-limited sessions by default. Run it as a superuser.",
    )
    reader_cmd.add_argument("--role", default="citu_reader", help="role name (citu_reader)")
    reader_cmd.add_argument("--database", help="database name (default: from --admin-url)")
    reader_cmd.add_argument("--schemas", default="public", help="comma-separated (public)")
    reader_cmd.add_argument(
        "--tables", help="comma-separated tables (schema.table); default: all in the schemas"
    )
    reader_cmd.add_argument(
        "--password-env", help="name of an environment variable holding the role's password"
    )
    reader_cmd.add_argument(
        "--default-privileges-for",
        action="append",
        metavar="OWNER",
        help="also grant SELECT on tables OWNER creates later (repeatable)",
    )
    reader_cmd.add_argument("--temp-file-limit", default="1GB", help="per-session (1GB)")
    reader_cmd.add_argument("--no-temp-file-limit", action="store_true")
    reader_cmd.add_argument("--admin-url", help="apply with this (superuser) connection")
    reader_cmd.set_defaults(func=db_reader_role)
