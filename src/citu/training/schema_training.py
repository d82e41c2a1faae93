"""``citu train-schema``: DDL and documentation of the business database's own tables, read
from its catalog and stored in the vector store. No chat model is involved; storing needs the
embedding endpoint: retrieval is a similarity search, so a text stored without its vector (the
column allows it) would never be found.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg
import httpx

from citu.settings import Settings
from citu.training.live_schema import read_schema
from citu.training.models import TrainingItem

if TYPE_CHECKING:
    from citu.training.service import TrainingService

log = logging.getLogger("citu.training.schema_training")

TABLES_PER_BATCH = 50  # tables embedded and written per transaction


class UnknownTables(LookupError):
    def __init__(self, names: list[str]) -> None:
        super().__init__(f"tables not found (or not readable): {', '.join(names)}")
        self.names = names


@dataclass(frozen=True)
class SchemaTrainingResult:
    tables: int
    ddl_new: int
    documentation_new: int


async def train_schema(
    training: TrainingService,
    business: asyncpg.Pool | asyncpg.Connection,
    tables: Sequence[str] | None = None,
) -> SchemaTrainingResult:
    """Store each table's DDL and documentation; unchanged tables store (and embed) nothing."""
    wanted = [t.strip() for t in tables or [] if t.strip()]
    found = await read_schema(business, wanted or None)
    if wanted:
        known = {t.name for t in found} | {f"{t.schema}.{t.name}" for t in found}
        missing = [name for name in wanted if name not in known]
        if missing:
            raise UnknownTables(missing)
    ddl_new = doc_new = 0
    for start in range(0, len(found), TABLES_PER_BATCH):
        batch = found[start : start + TABLES_PER_BATCH]
        items = [TrainingItem("ddl", t.ddl()) for t in batch]
        items += [TrainingItem("documentation", t.documentation()) for t in batch]
        for stored in await training.add_items(items):
            if stored.created and stored.kind == "ddl":
                ddl_new += 1
            elif stored.created:
                doc_new += 1
    log.info(
        "schema trained: %d tables, %d new DDL, %d new documents", len(found), ddl_new, doc_new
    )
    return SchemaTrainingResult(len(found), ddl_new, doc_new)


@asynccontextmanager
async def offline_training(settings: Settings) -> AsyncIterator[tuple[TrainingService, str]]:
    """A training service and the business database URL, without the web service: citu's
    database (embedded unless configured, schema applied) and the embedding endpoint only."""
    from citu.db.pools import open_citu_pool
    from citu.db.schema import apply_schema
    from citu.db.urls import resolve_database_urls
    from citu.llm.clients import build_embeddings
    from citu.training.embedder import Embedder
    from citu.training.service import TrainingService

    database_url, business_url = await resolve_database_urls(settings)
    conn = await asyncpg.connect(database_url)
    try:
        await apply_schema(conn)
    finally:
        await conn.close()
    pool = await open_citu_pool(database_url, settings)
    http = httpx.AsyncClient(timeout=httpx.Timeout(settings.embedding_timeout, connect=10.0))
    try:
        embedder = Embedder(build_embeddings(settings, http), None, settings)
        training = TrainingService(pool, embedder, settings)
        await training.setup()
        yield training, business_url
    finally:
        await http.aclose()
        await pool.close()
