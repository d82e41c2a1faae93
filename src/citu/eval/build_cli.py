"""``citu eval build``: write a golden set (JSONL) from QA feedback, a pipeline task's validated
pairs, or a Spider/BIRD-style JSON file."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from citu.eval.builders import BuildError, BuiltSet, SqlValidator, from_feedback, from_spider
from citu.eval.golden import dump_set
from citu.settings import Settings


def add_build_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``build`` to the ``citu eval`` sub-commands."""
    command = subparsers.add_parser(
        "build",
        help="write a golden set from feedback, a pipeline task or a Spider/BIRD file",
        description="Write a golden question set (JSONL) from thumbs-up QA feedback, from a"
        " pipeline task's validated question/SQL pairs, or from Spider/BIRD-style JSON"
        " (question, query or SQL, db_id) mapped onto a PostgreSQL copy of the database.",
    )
    source = command.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-feedback", action="store_true", help="thumbs-up QA feedback")
    source.add_argument("--from-task", metavar="ID", help="a pipeline task's validated pairs")
    source.add_argument("--from-spider", metavar="FILE", type=Path, help="Spider/BIRD JSON")
    command.add_argument(
        "--database",
        metavar="NAME",
        help="with --from-spider (required): the PostgreSQL copy's database name",
    )
    command.add_argument("--db-id", metavar="ID", help="with --from-spider: only this db_id")
    command.add_argument("--out", metavar="FILE", type=Path, required=True, help="JSONL to write")
    command.set_defaults(func=build_command)
    return command


def build_command(args: argparse.Namespace) -> int:
    if args.from_spider is not None and not args.database:
        print("citu eval build: --from-spider needs --database NAME", file=sys.stderr)
        return 2
    try:
        if args.from_spider is not None:
            built = from_spider(args.from_spider, database=args.database, db_id=args.db_id)
        else:
            built = _with_citu_database(args)
    except BuildError as error:
        print(f"citu eval build: {error}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    dump_set(built.questions, args.out)
    print(f"{len(built.questions)} questions written to {args.out}")
    for entry_id, reason in built.skipped:
        print(f"  skipped {entry_id}: {reason}")
    return 0 if built.questions else 1


def _with_citu_database(args: argparse.Namespace) -> BuiltSet:
    from citu.local_servers import servers_for_command

    with servers_for_command(Settings(), redis=False):
        # Settings again: starting the embedded server put its URL in the environment.
        return asyncio.run(_build_from_citu_database(args, Settings()))


async def _build_from_citu_database(args: argparse.Namespace, settings: Settings) -> BuiltSet:
    from citu.db.urls import resolve_database_urls
    from citu.eval.builders import from_task
    from citu.pipeline.files import TaskPaths
    from citu.pipeline.tasks import TaskStore

    database_url, business_url = await resolve_database_urls(settings)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        if args.from_feedback:
            return await from_feedback(pool)
        tasks = TaskStore(pool)
        dsn = await tasks.business_dsn(args.from_task) or business_url
        async with _explain_validator(dsn, settings) as validate:
            return await from_task(args.from_task, tasks, TaskPaths(settings.data_dir), validate)
    except asyncpg.UndefinedTableError:
        raise BuildError("citu's database has no tables yet: run `citu init-db` first") from None
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def _explain_validator(dsn: str | None, settings: Settings) -> AsyncIterator[SqlValidator]:
    """EXPLAIN through the guard on the task's business database, connected on first use."""
    from citu.sql.guard import SqlGuard
    from citu.sql.runner import explain_sql

    guard = SqlGuard.from_settings(settings)
    connection: list[asyncpg.Connection] = []

    async def validate(sql: str) -> str | None:
        if dsn is None:
            raise BuildError("no business database to check the pairs against")
        if not connection:
            connection.append(await asyncpg.connect(dsn))
        return await explain_sql(connection[0], sql, guard=guard)

    try:
        yield validate
    finally:
        for conn in connection:
            await conn.close()
