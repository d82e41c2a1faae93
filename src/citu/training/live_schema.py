"""The business database's schema as a question-ranked text for the SQL prompt, used when
retrieval found no DDL.

The catalog (``schema_catalog``) is read once per ``schema_cache_seconds``; a table the planner
statistics do not cover is sampled only when it ranks among the first ``SAMPLE_TABLES`` for a
question, once per catalog read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import asyncpg

from citu.errors import ServiceUnavailable
from citu.settings import Settings
from citu.training.schema_catalog import (
    SAMPLE_TABLES,
    ColumnInfo,
    TableInfo,
    read_schema,
    sample_values,
    terms,
)

__all__ = [
    "ColumnInfo",
    "LiveSchema",
    "SchemaFallbackRetriever",
    "TableInfo",
    "rank_tables",
    "read_schema",
    "render_for_prompt",
]

log = logging.getLogger("citu.training.live_schema")


def rank_tables(tables: Iterable[TableInfo], question: str) -> list[tuple[float, TableInfo]]:
    """``(score, table)`` best first; ties by name, so the order is stable."""
    wanted = terms(question)
    return sorted(((t.score(wanted), t) for t in tables), key=lambda st: (-st[0], st[1].full_name))


def render_for_prompt(tables: Iterable[TableInfo], question: str, max_chars: int) -> str:
    """The tables most related to ``question`` as DDL, best first, within ``max_chars``.

    A table that does not fit with its comments is tried without them; tables with no term in
    common with the question come last (alphabetically), so an unrelated question still sees
    some schema rather than none.
    """
    if max_chars <= 0:
        return ""
    ranked = rank_tables(tables, question)
    header = "-- 以下表结构读取自数据库目录，按与问题的相关度排序\n"
    if len(header) >= max_chars:
        return ""
    parts = [header]
    # Room for the closing "N tables left out" line is kept free while tables are placed.
    reserve = len(_left_out_note(len(ranked)))
    used = len(header) + reserve
    left_out = 0
    for _, table in ranked:
        for text in (table.ddl(), table.ddl(with_comments=False)):
            block = text + "\n\n"
            if used + len(block) <= max_chars:
                parts.append(block)
                used += len(block)
                break
        else:
            left_out += 1
    if len(parts) == 1:
        return ""
    if left_out:
        parts.append(_left_out_note(left_out))
    return "".join(parts).rstrip("\n")


def _left_out_note(count: int) -> str:
    return f"-- 另有 {count} 张表未列出\n"


class LiveSchema:
    """The business database's catalog, cached for ``schema_cache_seconds``, as prompt text."""

    def __init__(self, pool: Callable[[], asyncpg.Pool], settings: Settings) -> None:
        self.pool = pool  # raises ServiceUnavailable when the business database is down
        self.settings = settings
        self._tables: list[TableInfo] | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    async def tables(self) -> list[TableInfo]:
        ttl = self.settings.schema_cache_seconds
        if self._tables is not None and time.monotonic() - self._read_at < ttl:
            return self._tables
        async with self._lock:  # one catalog read per worker, however many questions wait
            if self._tables is None or time.monotonic() - self._read_at >= ttl:
                tables = await read_schema(
                    self.pool(), max_distinct=self.settings.pipeline_enum_max_distinct
                )
                # Term sets of a big schema take a while to build: off the event loop.
                await asyncio.to_thread(_index_all, tables)
                self._tables, self._read_at = tables, time.monotonic()
                log.info("business schema read from the catalog: %d tables", len(tables))
        return self._tables

    async def prompt_text(self, question: str) -> str:
        tables = await self.tables()
        await self._sample_unanalysed(tables, question)
        max_chars = self.settings.schema_prompt_max_chars
        if len(tables) > 50:
            return await asyncio.to_thread(render_for_prompt, tables, question, max_chars)
        return render_for_prompt(tables, question, max_chars)

    async def _sample_unanalysed(self, tables: list[TableInfo], question: str) -> None:
        """Values for the best-ranked tables the statistics do not cover, once per catalog read."""
        if len(tables) > 50:
            ranked = await asyncio.to_thread(rank_tables, tables, question)
        else:
            ranked = rank_tables(tables, question)
        pending = [t for _, t in ranked[:SAMPLE_TABLES] if not t.analysed and not t.sampled]
        for table in pending:
            try:
                await sample_values(self.pool(), table, self.settings.pipeline_enum_max_distinct)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as error:
                log.info("sampling %s failed: %s", table.full_name, type(error).__name__)


def _index_all(tables: list[TableInfo]) -> None:
    for table in tables:
        table.index()


class SchemaFallbackRetriever:
    """Retrieval as usual; when it found no DDL, the live schema ranked for the question.

    A business database that cannot be read leaves the context as retrieved: the question then
    fails where the SQL is checked, with that step's message."""

    def __init__(self, inner: Any, schema: LiveSchema) -> None:
        self.inner = inner
        self.schema = schema

    async def retrieve(self, question: str) -> Any:
        context = await self.inner.retrieve(question)
        if context.ddl:
            return context
        try:
            text = await self.schema.prompt_text(question)
        except (
            ServiceUnavailable,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            OSError,
            TimeoutError,
        ) as error:
            log.warning("live schema unavailable: %s", type(error).__name__)
            return context
        if text:
            context.ddl = [text]
        return context
