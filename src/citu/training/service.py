"""Training data: idempotent adds, batch training with per-item results, atomic update, delete,
listing and duplicate merging over the vector store.

Embeddings (HTTP) are always computed before a transaction opens, so no database transaction
waits on the embedding service. A caller that needs several items written inside its own
transaction (feedback promotion) calls ``prepare`` first, then ``store(prepared, conn=...)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import numpy as np
from langchain_openai import ChatOpenAI

from citu import failures
from citu.errors import ApiError
from citu.settings import Settings
from citu.sql.guard import SqlGuard
from citu.training.embedder import Embedder
from citu.training.models import (
    InvalidTrainingData,
    StoredItem,
    TrainingItem,
    parse_item,
    question_sql_item,
)
from citu.training.questions import generate_question
from citu.training.vector_store import NewRow, VectorStore, VectorStoreError, WriteGate

log = logging.getLogger("citu.training")

KEEP_STRATEGIES = ("first", "last", "by_metadata_time")
_QUESTION_CONCURRENCY = 4


@dataclass(frozen=True)
class PreparedItem:
    """An item with its id, document and (unless it is stored already) its vector."""

    item: TrainingItem
    row_id: str
    document: str
    vector: np.ndarray | None


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item of a batch: ``stored`` or an ``error`` text."""

    index: int
    kind: str | None
    stored: StoredItem | None = None
    error: str | None = None


def _error_text(error: BaseException) -> str:
    # An unexpected error's own text may quote an upstream answer: the client gets citu's.
    return str(error) if isinstance(error, ApiError) else failures.public_text(error)


class TrainingService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        embedder: Embedder,
        settings: Settings,
        llm: ChatOpenAI | None = None,
        write_gate: WriteGate | None = None,
        guard: SqlGuard | None = None,
    ) -> None:
        self.pool = pool
        self.embedder = embedder
        self.settings = settings
        self.llm = llm
        self.guard = guard or SqlGuard.from_settings(settings)
        self.store = VectorStore(pool, settings.embedding_dimension, write_gate)

    async def setup(self) -> None:
        await self.store.setup()

    async def parse(self, raw: Any) -> TrainingItem:
        """``parse_item`` with this service's SQL guard, off the event loop (parsing SQL is CPU
        work)."""
        return await asyncio.to_thread(parse_item, raw, self.guard)

    async def parse_many(self, raws: Sequence[Any]) -> list[TrainingItem | str]:
        """Each payload's item, or the text of why it is invalid."""

        def parse_all() -> list[TrainingItem | str]:
            entries: list[TrainingItem | str] = []
            for raw in raws:
                try:
                    entries.append(parse_item(raw, self.guard))
                except InvalidTrainingData as error:
                    entries.append(str(error))
            return entries

        return await asyncio.to_thread(parse_all)

    # ---- the interface other areas use ---------------------------------------------------

    async def add_question_sql(
        self, question: str, sql: str, *, conn: asyncpg.Connection | None = None
    ) -> str:
        """Store a question/SQL example (collection ``sql``); the id, new or existing."""
        item = await asyncio.to_thread(question_sql_item, question, sql, "sql", self.guard)
        return await self._add_one(item, conn)

    async def add_error_sql(
        self, question: str, sql: str, *, conn: asyncpg.Connection | None = None
    ) -> str:
        """Store a wrong-SQL example (collection ``error_sql``)."""
        return await self._add_one(question_sql_item(question, sql, "error_sql"), conn)

    async def add_ddl(self, ddl: str, *, conn: asyncpg.Connection | None = None) -> str:
        return await self._add_one(parse_item({"training_data_type": "ddl", "ddl": ddl}), conn)

    async def add_documentation(self, text: str, *, conn: asyncpg.Connection | None = None) -> str:
        item = parse_item({"training_data_type": "documentation", "content": text})
        return await self._add_one(item, conn)

    async def _add_one(self, item: TrainingItem, conn: asyncpg.Connection | None) -> str:
        if item.needs_question:
            raise InvalidTrainingData("question字段是必需的", missing_params=["question"])
        [stored] = await self.add_items([item], conn=conn)
        return stored.id

    async def add_items(
        self, items: Sequence[TrainingItem], *, conn: asyncpg.Connection | None = None
    ) -> list[StoredItem]:
        """Embed, then write every item in one transaction (or in the caller's ``conn``).

        With ``conn`` the embedding request runs while the caller's transaction is open; to keep
        it short, call ``prepare`` before opening it and ``store_prepared`` inside it."""
        return await self.store_prepared(await self.prepare(items), conn=conn)

    async def prepare(
        self, items: Sequence[TrainingItem], *, embed_existing: bool = False
    ) -> list[PreparedItem]:
        """Ids, documents and vectors; items already stored are not embedded again."""
        triples = [(i.row_id(), i.collection, i.document()) for i in items]
        existing: dict[str, str] = {}
        if not embed_existing:
            async with self.pool.acquire() as conn:
                existing = await self.store.existing_ids(conn, triples)
        to_embed: dict[str, str] = {}
        for row_id, _, document in triples:
            if row_id not in existing:
                to_embed.setdefault(row_id, document)
        vectors = dict(
            zip(
                to_embed,
                await self.embedder.embed_documents(list(to_embed.values())),
                strict=True,
            )
        )
        return [
            PreparedItem(item, row_id, document, vectors.get(row_id))
            for item, (row_id, _, document) in zip(items, triples, strict=True)
        ]

    async def store_prepared(
        self, prepared: Sequence[PreparedItem], *, conn: asyncpg.Connection | None = None
    ) -> list[StoredItem]:
        """Write prepared items: in the caller's connection/transaction, or in a new one."""
        if conn is not None:
            return await self._write(conn, prepared)
        async with self.pool.acquire() as own, own.transaction():
            return await self._write(own, prepared)

    async def _write(
        self, conn: asyncpg.Connection, prepared: Sequence[PreparedItem]
    ) -> list[StoredItem]:
        existing = await self.store.existing_ids(
            conn, [(p.row_id, p.item.collection, p.document) for p in prepared]
        )
        now = datetime.now()
        written: dict[str, str] = {}
        results = []
        for p in prepared:
            item = p.item
            if p.row_id in written or p.row_id in existing:
                stored_id, created = written.get(p.row_id) or existing[p.row_id], False
            elif p.vector is None:  # stored at prepare time, deleted since
                raise VectorStoreError("训练数据在处理期间被删除，请重试")
            else:
                row = NewRow(
                    p.row_id, item.collection, p.vector, p.document, item.metadata(p.row_id, now)
                )
                created = await self.store.insert(conn, row)
                stored_id = p.row_id
            written[p.row_id] = stored_id
            results.append(StoredItem(stored_id, item.kind, created, item.question))
        return results

    # ---- batches with per-item results (create, upload) ---------------------------------

    async def with_question(self, item: TrainingItem) -> TrainingItem:
        """The item, its question generated by the LLM when a SQL example has none."""
        if not item.needs_question:
            return item
        return item.with_question(await generate_question(self.llm, item.content))

    async def train_batch(self, entries: Sequence[TrainingItem | str]) -> list[ItemResult]:
        """Train items (a ``str`` entry is an item that already failed validation) and report
        each one: stored (new or existing id) or the reason it was not."""
        results: dict[int, ItemResult] = {}
        pending: dict[int, TrainingItem] = {}
        for index, entry in enumerate(entries):
            if isinstance(entry, str):
                results[index] = ItemResult(index, None, error=entry)
            else:
                pending[index] = entry
        limiter = asyncio.Semaphore(_QUESTION_CONCURRENCY)

        async def complete(item: TrainingItem) -> TrainingItem:
            async with limiter:
                return await self.with_question(item)

        completed = await asyncio.gather(
            *(complete(item) for item in pending.values()), return_exceptions=True
        )
        ready: dict[int, TrainingItem] = {}
        for (index, item), outcome in zip(pending.items(), completed, strict=True):
            if isinstance(outcome, BaseException):
                results[index] = ItemResult(index, item.kind, error=_error_text(outcome))
            else:
                ready[index] = outcome
        if ready:
            try:
                stored = await self.add_items(list(ready.values()))
            except (ApiError, asyncpg.PostgresError, VectorStoreError) as error:
                log.warning("training batch of %d items failed: %s", len(ready), error)
                stored = [error] * len(ready)
            for (index, item), outcome in zip(ready.items(), stored, strict=True):
                if isinstance(outcome, StoredItem):
                    results[index] = ItemResult(index, item.kind, stored=outcome)
                else:
                    results[index] = ItemResult(index, item.kind, error=_error_text(outcome))
        return [results[i] for i in range(len(entries))]

    # ---- update and delete --------------------------------------------------------------

    async def replace(self, old_id: str, payload: dict[str, Any]) -> StoredItem:
        """Validate and embed the new item, then delete the old row and store the new one in
        one transaction: a failure leaves the old record in place."""
        if not await self.store.exists(old_id):
            raise InvalidTrainingData(f"原始记录 {old_id} 不存在或删除失败", invalid_params=["id"])
        item = await self.with_question(await self.parse(payload))
        # The new content may be the old row's own: embed it even though it is stored now.
        prepared = await self.prepare([item], embed_existing=True)
        async with self.pool.acquire() as conn, conn.transaction():
            if not await self.store.delete(conn, [old_id]):
                raise InvalidTrainingData(
                    f"原始记录 {old_id} 不存在或删除失败", invalid_params=["id"]
                )
            [stored] = await self._write(conn, prepared)
        log.info("training data %s replaced by %s", old_id, stored.id)
        return stored

    async def delete_many(self, ids: Sequence[Any]) -> list[bool]:
        """Delete by id in one transaction; whether each requested id was deleted. A repeated
        id fails the second time, as deleting it again would."""
        texts = [str(i) for i in ids]
        async with self.pool.acquire() as conn, conn.transaction():
            removed = set(await self.store.delete(conn, list(dict.fromkeys(texts))))
        outcome = []
        for text in texts:
            outcome.append(text in removed)
            removed.discard(text)
        return outcome

    # ---- reads --------------------------------------------------------------------------

    async def counts(self) -> dict[str, int]:
        return await self.store.counts()

    async def total(self) -> int:
        return await self.store.total()

    # ---- combine ------------------------------------------------------------------------

    async def combine(
        self, collections: Sequence[str], *, dry_run: bool, keep_strategy: str
    ) -> dict[str, Any]:
        """Find (and unless ``dry_run`` delete) rows whose document repeats in a collection,
        keeping one per group; deletions happen in one transaction."""
        newest_first = keep_strategy == "by_metadata_time"
        removed_key = "duplicates_to_remove" if dry_run else "duplicates_removed"
        stats: dict[str, dict[str, int]] = {}
        groups: list[dict[str, Any]] = []
        async with self.pool.acquire() as conn, conn.transaction():
            sizes = await self.store.collection_sizes(conn)
            for name in dict.fromkeys(collections):
                if name not in sizes:
                    continue
                found = await self.store.duplicate_groups(conn, name, newest_first)
                to_remove_rows: list[str] = []
                removed = 0
                for group in found:
                    ids, row_ids = group["ids"], group["row_ids"]
                    keep = len(ids) - 1 if keep_strategy == "last" else 0
                    kept = ids[keep]
                    drop = ids[:keep] + ids[keep + 1 :]
                    to_remove_rows += row_ids[:keep] + row_ids[keep + 1 :]
                    removed += len(drop)
                    groups.append(_group_report(name, group["document"], kept, drop, dry_run))
                if not dry_run and to_remove_rows:
                    await self.store.delete_row_ids(conn, to_remove_rows)
                before = sizes[name]
                stats[name] = {"before": before, "after": before - removed, removed_key: removed}
        before_total = sum(s["before"] for s in stats.values())
        after_total = sum(s["after"] for s in stats.values())
        return {
            "dry_run": dry_run,
            "collections_processed": list(stats),
            "summary": {
                "total_records_before": before_total,
                "total_records_after": after_total,
                removed_key: before_total - after_total,
                "collections_stats": stats,
            },
            "duplicate_groups" if dry_run else "merged_groups": groups,
        }


def _group_report(
    collection: str, document: str, kept: str, removed: list[str], dry_run: bool
) -> dict[str, Any]:
    preview = document if len(document) <= 100 else f"{document[:100]}..."
    return {
        "collection_name": collection,
        "document_content": preview,
        "duplicate_count": len(removed) + 1,
        "records_to_keep" if dry_run else "kept_record_id": kept,
        "records_to_remove" if dry_run else "removed_record_ids": removed,
    }
