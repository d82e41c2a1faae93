"""Which databases citu uses: the configured URLs, or the embedded server and its demo database."""

from __future__ import annotations

import asyncio

from citu.db.embedded import start_embedded_server, with_database
from citu.db.schema import ensure_database
from citu.settings import Settings


async def resolve_database_urls(settings: Settings) -> tuple[str, str | None]:
    """citu's database URL and, when none is configured, the demo business database URL."""
    if settings.database_url:
        database_url = settings.database_url
    else:
        admin_url = await asyncio.to_thread(start_embedded_server, settings.data_dir)
        database_url = with_database(admin_url, "citu")
    await ensure_database(database_url)
    if settings.business_db_url:
        return database_url, settings.business_db_url
    demo_url = with_database(database_url, settings.demo_database_name)
    return database_url, demo_url
