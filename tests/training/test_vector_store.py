"""The vector store's start-up checks, index and listing queries on the real database."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from citu.db.locks import AdvisoryLock
from citu.training.vector_store import VectorStore, VectorStoreError


async def insert(pool, collection, row_id, document, vector):
    await pool.execute(
        "INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata)"
        " SELECT $1, uuid, $2::real[]::vector, $3, $4::jsonb FROM langchain_pg_collection"
        " WHERE name = $5",
        row_id,
        vector,
        document,
        json.dumps({"id": row_id}),
        collection,
    )


async def test_setup_creates_the_hnsw_index(services):
    definition = await services.db.fetchval(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_langchain_pg_embedding_hnsw_1024'"
    )
    assert "hnsw" in definition and "vector(1024)" in definition
    assert "vector_cosine_ops" in definition


async def test_search_can_use_the_index(services):
    store = services.training.store
    async with services.db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        lines = await conn.fetch(
            f"EXPLAIN SELECT id FROM langchain_pg_embedding e ORDER BY {store._vec} <=> $1 LIMIT 5",
            [0.0] * 1023 + [1.0],
        )
    plan = "\n".join(line[0] for line in lines)
    assert "ix_langchain_pg_embedding_hnsw_1024" in plan


async def test_a_vector_of_another_size_is_refused(services):
    with pytest.raises(Exception, match="1024"):
        await insert(services.db, "ddl", "x-ddl", "CREATE TABLE x (id int)", [1.0, 0.0, 0.0])


async def test_dimension_mismatch_is_a_clear_error_at_setup(citu_db_url):
    from citu.db.pools import open_citu_pool
    from citu.settings import Settings

    pool = await open_citu_pool(citu_db_url, Settings(_env_file=None))
    try:
        await insert(pool, "ddl", "old-ddl", "CREATE TABLE x (id int)", [1.0, 0.0, 0.0])
        with pytest.raises(VectorStoreError, match="1 条 3 维.*CITU_EMBEDDING_DIMENSION=1024"):
            await VectorStore(pool, 1024).setup()
        await VectorStore(pool, 3).setup()  # the matching dimension starts
        names = {
            r["indexname"]
            for r in await pool.fetch(
                "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_langchain_pg_embedding_hnsw_%'"
            )
        }
        assert names == {"ix_langchain_pg_embedding_hnsw_3"}
    finally:
        await pool.close()


async def test_listing_skips_malformed_documents(services):
    store: VectorStore = services.training.store
    vector = [0.0] * 1023 + [1.0]
    await insert(services.db, "sql", "good-sql", '{"question": "q", "sql": "SELECT 1"}', vector)
    await insert(services.db, "sql", "bad-sql", "{'question': 'q'", vector)
    await insert(services.db, "ddl", "noise", "CREATE TABLE y (id int)", vector)  # no suffix
    records, total = await store.query(
        kind=None, keyword=None, sort_by="id", descending=True, limit=10, offset=0
    )
    assert total == 1 and records == [
        {"id": "good-sql", "question": "q", "content": "SELECT 1", "training_data_type": "sql"}
    ]
    assert await store.counts() == {"sql": 1, "documentation": 0, "ddl": 0, "error_sql": 0}


async def test_setup_does_not_wait_for_another_workers_checkpointer_setup(services, citu_db_url):
    # Another worker is in the middle of the ReAct checkpointer's migrations, which build
    # indexes CONCURRENTLY and so wait for every open transaction. When both steps shared one
    # lock key, this setup waited for it inside its transaction: neither worker ever started.
    other_worker = await asyncpg.connect(citu_db_url)
    try:
        await other_worker.execute("SELECT pg_advisory_lock($1)", AdvisoryLock.REACT_SETUP)
        await asyncio.wait_for(VectorStore(services.db, 1024).setup(), 10)
    finally:
        await other_worker.close()
