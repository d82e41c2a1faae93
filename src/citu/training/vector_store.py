"""The pgvector store: langchain-postgres tables in citu's database, read and written with asyncpg.

Rows are classified by the suffix of ``cmetadata.id`` (as the old service listed them), and
similarity search uses cosine distance over ``embedding::vector(<dim>)``, the expression the HNSW
index is built on (see ``db/sql/schema/010_vector_store.sql`` for why it is an expression).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np

from citu.db.locks import AdvisoryLock
from citu.training.models import KINDS

log = logging.getLogger("citu.training.vector_store")

HNSW_MAX_DIMENSIONS = 2000  # pgvector's HNSW limit for the vector type
_INDEX_PREFIX = "ix_langchain_pg_embedding_hnsw_"

# Every stored row with a known id suffix, as {id, training_data_type, question, content};
# sql/error_sql documents that are not JSON objects with a "sql" key are skipped.
RECORDS_CTE = """
WITH classified AS (
    SELECT coalesce(cmetadata->>'id', id) AS id, document,
           CASE WHEN right(coalesce(cmetadata->>'id', id), 4) = '-doc' THEN 'documentation'
                WHEN right(coalesce(cmetadata->>'id', id), 10) = '-error_sql' THEN 'error_sql'
                WHEN right(coalesce(cmetadata->>'id', id), 4) = '-sql' THEN 'sql'
                WHEN right(coalesce(cmetadata->>'id', id), 4) = '-ddl' THEN 'ddl'
           END AS training_data_type
    FROM langchain_pg_embedding
), parsed AS MATERIALIZED (
    SELECT id, training_data_type, document,
           CASE WHEN training_data_type IN ('sql', 'error_sql')
                THEN citu_try_jsonb(document) END AS doc
    FROM classified
    WHERE training_data_type IS NOT NULL
), records AS (
    SELECT id, training_data_type,
           CASE WHEN doc IS NOT NULL THEN doc->>'question' END AS question,
           CASE WHEN doc IS NOT NULL THEN doc->>'sql' ELSE document END AS content
    FROM parsed
    WHERE training_data_type IN ('ddl', 'documentation')
       OR (jsonb_typeof(doc) = 'object' AND doc ? 'sql')
)
"""


WriteGate = Callable[[], Awaitable[None]]


class VectorStoreError(RuntimeError):
    """The store cannot be used with this configuration (raised at start)."""


@dataclass(frozen=True)
class NewRow:
    id: str
    collection: str
    vector: np.ndarray
    document: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Hit:
    document: str
    similarity: float


def _like_pattern(keyword: str) -> str:
    escaped = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class VectorStore:
    def __init__(
        self, pool: asyncpg.Pool, dimension: int, write_gate: WriteGate | None = None
    ) -> None:
        if not 0 < dimension <= 16000:
            raise VectorStoreError(f"CITU_EMBEDDING_DIMENSION={dimension} 超出 pgvector 的范围")
        self.pool = pool
        self.dimension = int(dimension)
        self._iterative_scan: bool | None = None
        # Raises to refuse a write (maintenance read-only mode): one check for every writer.
        self.write_gate = write_gate

    @property
    def _vec(self) -> str:
        # The indexed expression; an int from the settings, never user input.
        return f"(e.embedding::vector({self.dimension}))"

    @property
    def index_name(self) -> str:
        return f"{_INDEX_PREFIX}{self.dimension}"

    # ---- start-up -----------------------------------------------------------------------

    async def setup(self) -> None:
        """Check the stored vectors' dimension against the settings; create the HNSW index."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", AdvisoryLock.VECTOR_INDEX)
            dims = await conn.fetch(
                "SELECT vector_dims(embedding) AS dim, count(*) AS n FROM langchain_pg_embedding"
                " WHERE embedding IS NOT NULL GROUP BY 1 ORDER BY 2 DESC"
            )
            wrong = {r["dim"]: r["n"] for r in dims if r["dim"] != self.dimension}
            if wrong:
                found = ", ".join(f"{n} 条 {d} 维" for d, n in wrong.items())
                raise VectorStoreError(
                    f"向量库中已有与配置不同维度的向量（{found}），而 CITU_EMBEDDING_DIMENSION="
                    f"{self.dimension}：请改用与现有数据相同的嵌入模型和维度，或清空后重新训练"
                )
            await self._ensure_index(conn)
        self._iterative_scan = await self._supports_iterative_scan()

    async def _ensure_index(self, conn: asyncpg.Connection) -> None:
        stale = await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'langchain_pg_embedding'"
            " AND indexname LIKE $1 AND indexname <> $2",
            f"{_INDEX_PREFIX}%",
            self.index_name,
        )
        for row in stale:  # the table holds no vector of that size (checked above)
            await conn.execute(f'DROP INDEX IF EXISTS "{row["indexname"]}"')
        if self.dimension > HNSW_MAX_DIMENSIONS:
            log.warning(
                "no HNSW index: %d dimensions exceed pgvector's limit of %d; searches scan",
                self.dimension,
                HNSW_MAX_DIMENSIONS,
            )
            return
        await conn.execute(
            f'CREATE INDEX IF NOT EXISTS "{self.index_name}" ON langchain_pg_embedding'
            f" USING hnsw ((embedding::vector({self.dimension})) vector_cosine_ops)"
        )

    async def _supports_iterative_scan(self) -> bool:
        version = await self.pool.fetchval(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
        )
        try:
            major, minor = (int(part) for part in str(version).split(".")[:2])
        except ValueError:
            return False
        return (major, minor) >= (0, 8)

    # ---- writes -------------------------------------------------------------------------

    async def existing_ids(
        self, conn: asyncpg.Connection, rows: Iterable[tuple[str, str, str]]
    ) -> dict[str, str]:
        """For ``(row_id, collection, document)`` triples, the id each is already stored under:
        the same content-derived id, or (rows from before citu) the same document text."""
        rows = list(rows)
        if not rows:
            return {}
        ids = [r[0] for r in rows]
        found = {
            r["id"]: r["id"]
            for r in await conn.fetch(
                "SELECT id FROM langchain_pg_embedding WHERE id = ANY($1::varchar[])", ids
            )
        }
        missing = [r for r in rows if r[0] not in found]
        if missing:
            legacy = await conn.fetch(
                """
                SELECT DISTINCT ON (q.row_id) q.row_id, coalesce(e.cmetadata->>'id', e.id) AS id
                FROM unnest($1::text[], $2::text[], $3::text[]) AS q(row_id, name, doc)
                JOIN langchain_pg_collection c ON c.name = q.name
                JOIN langchain_pg_embedding e ON e.collection_id = c.uuid
                     AND md5(e.document) = md5(q.doc) AND e.document = q.doc
                ORDER BY q.row_id, e.id
                """,
                [r[0] for r in missing],
                [r[1] for r in missing],
                [r[2] for r in missing],
            )
            found.update({r["row_id"]: r["id"] for r in legacy})
        return found

    async def insert(self, conn: asyncpg.Connection, row: NewRow) -> bool:
        """Insert one row; False when its id exists already (a concurrent identical insert)."""
        await self._writable()
        inserted = await conn.fetchval(
            """
            INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata)
            SELECT $1, c.uuid, $3, $4, $5::jsonb FROM langchain_pg_collection c WHERE c.name = $2
            ON CONFLICT (id) DO NOTHING
            RETURNING id
            """,
            row.id,
            row.collection,
            row.vector,
            row.document,
            json.dumps(row.metadata, ensure_ascii=False),
        )
        if inserted is None:
            exists = await conn.fetchval(
                "SELECT 1 FROM langchain_pg_collection WHERE name = $1", row.collection
            )
            if not exists:
                raise VectorStoreError(f"向量集合不存在: {row.collection}")
        return inserted is not None

    async def delete(self, conn: asyncpg.Connection, ids: list[str]) -> list[str]:
        """Delete rows by their ``cmetadata.id`` (any collection); return the ids deleted."""
        await self._writable()
        rows = await conn.fetch(
            "DELETE FROM langchain_pg_embedding WHERE cmetadata->>'id' = ANY($1::text[])"
            " RETURNING cmetadata->>'id' AS id",
            ids,
        )
        return [r["id"] for r in rows]

    async def delete_row_ids(self, conn: asyncpg.Connection, row_ids: list[str]) -> int:
        """Delete rows by primary key; return how many."""
        await self._writable()
        status = await conn.execute(
            "DELETE FROM langchain_pg_embedding WHERE id = ANY($1::varchar[])", row_ids
        )
        return int(status.split()[-1])

    async def _writable(self) -> None:
        if self.write_gate is not None:
            await self.write_gate()

    # ---- reads --------------------------------------------------------------------------

    async def exists(self, row_id: str, conn: asyncpg.Connection | None = None) -> bool:
        executor = conn or self.pool
        found = await executor.fetchval(
            "SELECT 1 FROM langchain_pg_embedding WHERE cmetadata->>'id' = $1 LIMIT 1", row_id
        )
        return found is not None

    async def counts(self) -> dict[str, int]:
        rows = await self.pool.fetch(
            RECORDS_CTE + "SELECT training_data_type, count(*) AS n FROM records GROUP BY 1"
        )
        found = {r["training_data_type"]: r["n"] for r in rows}
        return {kind: int(found.get(kind, 0)) for kind in KINDS}

    async def total(self) -> int:
        return sum((await self.counts()).values())

    async def query(
        self,
        *,
        kind: str | None,
        keyword: str | None,
        sort_by: str,
        descending: bool,
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of records and the number matching the filters."""
        where = (
            " WHERE ($1::text IS NULL OR training_data_type = $1)"
            " AND ($2::text IS NULL OR question ILIKE $2 OR content ILIKE $2)"
        )
        direction = "DESC" if descending else "ASC"
        if sort_by == "training_data_type":
            order = f"training_data_type {direction}, id {direction}"
        elif sort_by == "id":
            order = f"id {direction}"
        else:  # the old service kept storage order for other keys; id keeps pages stable
            order = "id ASC"
        pattern = _like_pattern(keyword) if keyword else None
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                RECORDS_CTE
                + "SELECT id, question, content, training_data_type, count(*) OVER () AS total"
                + " FROM records"
                + where
                + f" ORDER BY {order} LIMIT $3 OFFSET $4",
                kind,
                pattern,
                limit,
                offset,
            )
            if rows:
                total = rows[0]["total"]
            else:  # a page past the end carries no window count
                total = await conn.fetchval(
                    RECORDS_CTE + "SELECT count(*) FROM records" + where, kind, pattern
                )
        records = [
            {key: r[key] for key in ("id", "question", "content", "training_data_type")}
            for r in rows
        ]
        return records, int(total)

    async def search(
        self, vector: np.ndarray, collections: list[str], k: int
    ) -> dict[str, list[Hit]]:
        """The ``k`` nearest rows of each collection, similarity = 1 - cosine distance."""
        results: dict[str, list[Hit]] = {name: [] for name in collections}
        if not collections or k <= 0:
            return results
        if self._iterative_scan is None:
            self._iterative_scan = await self._supports_iterative_scan()
        sql = f"""
            SELECT e.document, {self._vec} <=> $1 AS distance
            FROM langchain_pg_embedding e
            WHERE e.collection_id = $2 AND e.embedding IS NOT NULL
            ORDER BY {self._vec} <=> $1
            LIMIT $3
        """
        async with self.pool.acquire() as conn, conn.transaction(readonly=True):
            # One query per collection, planned for that collection's size: the HNSW index for
            # a large one, the collection_id index (and an exact sort) for a small one. A
            # generic plan would walk the whole HNSW graph to find a handful of DDL rows.
            # A filtered HNSW scan must continue until it has k rows (pgvector >= 0.8); older
            # versions can only widen the candidate list.
            scan = (
                "hnsw.iterative_scan = strict_order"
                if self._iterative_scan
                else "hnsw.ef_search = 1000"
            )
            await conn.execute(f"SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL {scan}")
            uuids = await conn.fetch(
                "SELECT name, uuid FROM langchain_pg_collection WHERE name = ANY($1::text[])",
                collections,
            )
            for row in uuids:
                for hit in await conn.fetch(sql, vector, row["uuid"], k):
                    if hit["document"] is not None:
                        similarity = round(1.0 - float(hit["distance"]), 4)
                        results[row["name"]].append(Hit(hit["document"], similarity))
        return results

    async def collection_sizes(self, conn: asyncpg.Connection) -> dict[str, int]:
        rows = await conn.fetch(
            "SELECT c.name, count(e.id) AS n FROM langchain_pg_collection c"
            " LEFT JOIN langchain_pg_embedding e ON e.collection_id = c.uuid GROUP BY c.name"
        )
        return {r["name"]: int(r["n"]) for r in rows}

    async def duplicate_groups(
        self, conn: asyncpg.Connection, collection: str, newest_first: bool
    ) -> list[dict[str, Any]]:
        """Groups of rows with the same document in one collection, ids ordered oldest first
        (``createdat`` metadata, rows without it first, then id) or newest first.

        ``createdat`` is compared as text: citu writes ISO timestamps, which sort correctly, and
        a malformed value cannot make the whole operation fail."""
        if newest_first:
            order = "e.cmetadata->>'createdat' DESC NULLS LAST, e.id"
        else:
            order = "e.cmetadata->>'createdat' ASC NULLS FIRST, e.id"
        rows = await conn.fetch(
            f"""
            SELECT e.document,
                   array_agg(e.id ORDER BY {order}) AS row_ids,
                   array_agg(coalesce(e.cmetadata->>'id', e.id) ORDER BY {order}) AS ids
            FROM langchain_pg_embedding e
            JOIN langchain_pg_collection c ON c.uuid = e.collection_id
            WHERE c.name = $1 AND e.document IS NOT NULL
            GROUP BY e.document
            HAVING count(*) > 1
            ORDER BY min(e.id)
            """,
            collection,
        )
        return [dict(r) for r in rows]
