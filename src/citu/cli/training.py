"""``citu train-schema``: the business database's DDL and documentation into the vector store."""

from __future__ import annotations

import argparse
import asyncio
import sys

from citu.settings import Settings, redact_url


async def _train_schema(tables: list[str] | None) -> int:
    import asyncpg

    from citu.training.schema_training import UnknownTables, offline_training
    from citu.training.schema_training import train_schema as train

    settings = Settings()
    if not settings.embedding_configured:
        print(
            "citu train-schema needs an embedding endpoint: set CITU_EMBEDDING_BASE_URL"
            " (and CITU_EMBEDDING_API_KEY, CITU_EMBEDDING_MODEL, CITU_EMBEDDING_DIMENSION)."
            " Every stored text is kept with its vector; no chat model is used.",
            file=sys.stderr,
        )
        return 2
    async with offline_training(settings) as (training, business_url):
        business = await asyncpg.connect(business_url)
        try:
            result = await train(training, business, tables)
        except UnknownTables as error:
            print(f"citu: {error}", file=sys.stderr)
            return 2
        finally:
            await business.close()
    print(
        f"business database {redact_url(business_url)}: {result.tables} tables;"
        f" stored {result.ddl_new} new DDL and {result.documentation_new} new documentation texts"
    )
    return 0


def train_schema(args: argparse.Namespace) -> int:
    tables = [t for t in (args.tables or "").split(",") if t.strip()] or None
    return asyncio.run(_train_schema(tables))


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's sub-commands to ``citu``'s parser."""
    schema_cmd = commands.add_parser(
        "train-schema",
        help="load the business database's DDL and documentation into the vector store",
        description="Reads tables, columns and comments from the business database's catalog"
        " and stores one DDL and one documentation text per table. No chat model is used; the"
        " embedding endpoint (CITU_EMBEDDING_BASE_URL) is required. Unchanged tables are"
        " skipped.",
    )
    schema_cmd.add_argument("--tables", help="comma-separated table names (default: all)")
    schema_cmd.set_defaults(func=train_schema)
