"""The business database's catalog read into ``TableInfo`` objects: tables, columns, comments and
the values of low-cardinality columns, as DDL and documentation texts.

The catalog is read (``pg_class``, ``pg_attribute``, ``pg_stats``) without scanning tables, so
a schema of thousands of tables costs a few queries. Distinct values of low-cardinality columns
come from the planner statistics (``pg_stats.most_common_vals``); a table the statistics do not
cover (never analysed: autovacuum skips small lookup tables) can be sampled instead, its first
``SAMPLE_ROWS`` rows.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg

MAX_TABLES = 10_000  # catalog rows read at most; a bigger schema is ranked over these
MAX_VALUES = 8  # distinct values shown per low-cardinality column
MAX_VALUE_CHARS = 40
MAX_COMMENT_CHARS = 200
_CATALOG_TIMEOUT_MS = 10_000

_TABLES_SQL = """
SELECT c.oid, n.nspname AS schema, c.relname AS name, d.description AS comment,
       CASE WHEN n.nspname = 'public' THEN quote_ident(c.relname)
            ELSE quote_ident(n.nspname) || '.' || quote_ident(c.relname) END AS quoted
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_description d
       ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
  AND has_table_privilege(c.oid, 'SELECT')
  AND ($1::text[] IS NULL OR c.relname = ANY($1::text[])
       OR n.nspname || '.' || c.relname = ANY($1::text[]))
ORDER BY n.nspname, c.relname
LIMIT $2
"""

_COLUMNS_SQL = """
SELECT a.attrelid AS oid, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, d.description AS comment, quote_ident(a.attname) AS quoted
FROM pg_attribute a
LEFT JOIN pg_description d
       ON d.objoid = a.attrelid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

# Columns whose statistics list every value: few distinct values, all of them common.
_VALUES_SQL = """
SELECT schemaname AS schema, tablename AS name, attname AS column,
       most_common_vals::text::text[] AS vals
FROM pg_stats
WHERE schemaname = ANY($1::text[]) AND tablename = ANY($2::text[])
  AND most_common_vals IS NOT NULL
  AND n_distinct > 0 AND n_distinct <= $3
"""

# Tables the statistics know at all; the others (never analysed, e.g. small lookup tables that
# autovacuum skips) get their values from a bounded sample when they make it into a prompt.
_ANALYSED_SQL = """
SELECT DISTINCT schemaname AS schema, tablename AS name
FROM pg_stats
WHERE schemaname = ANY($1::text[]) AND tablename = ANY($2::text[])
"""
SAMPLE_ROWS = 1000  # rows read per unanalysed table to find its categories
SAMPLE_TABLES = 5  # unanalysed tables sampled per question, the best ranked ones
_SAMPLE_TIMEOUT_MS = 2_000
_CATEGORY_TYPES = ("character varying", "character", "text", "boolean", "smallint")

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_$]*$")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[a-z0-9]+")


def _is_key(column: str) -> bool:
    # Identifiers are not categories, even when a small table has few of them.
    lowered = column.lower()
    return lowered == "id" or lowered.endswith("_id")


def quote_ident(name: str) -> str:
    """Quotes unless the name is a plain lower-case identifier; the catalog reader uses the
    server's own ``quote_ident`` instead, which also quotes keywords."""
    return name if _IDENTIFIER.match(name) else '"' + name.replace('"', '""') + '"'


def _one_line(text: str | None, limit: int = MAX_COMMENT_CHARS) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def terms(text: str) -> set[str]:
    """Search terms of a text: Latin words and their ``_``-separated parts, Chinese bigrams."""
    lowered = text.lower()
    found: set[str] = set()
    for word in re.findall(r"[a-z0-9_]+", lowered):
        if len(word) > 1:
            found.add(word)
        found.update(p for p in _WORD.findall(word) if len(p) > 1)
    for run in _CJK_RUN.findall(lowered):
        if len(run) == 1:
            found.add(run)
        found.update(run[i : i + 2] for i in range(len(run) - 1))
    return found


@dataclass
class ColumnInfo:
    name: str
    type: str
    not_null: bool = False
    comment: str | None = None
    values: list[str] = field(default_factory=list)
    quoted: str | None = None  # the name as SQL writes it (the server's quote_ident)

    @property
    def quoted_name(self) -> str:
        return self.quoted or quote_ident(self.name)


@dataclass
class TableInfo:
    schema: str
    name: str
    comment: str | None = None
    columns: list[ColumnInfo] = field(default_factory=list)
    analysed: bool = True  # the planner statistics cover this table
    sampled: bool = False
    quoted: str | None = None  # the full name as SQL writes it (the server's quote_ident)
    # Search terms by weight, filled by ``index``: name, comment, column names, the rest.
    _terms: tuple[set[str], ...] = ()

    @property
    def full_name(self) -> str:
        if self.quoted:
            return self.quoted
        name = quote_ident(self.name)
        return name if self.schema == "public" else f"{quote_ident(self.schema)}.{name}"

    def index(self) -> None:
        self._terms = (
            terms(self.name),
            terms(self.comment or ""),
            set().union(*(terms(c.name) for c in self.columns)),
            set().union(*(terms(f"{c.comment or ''} {' '.join(c.values)}") for c in self.columns)),
        )

    def score(self, question_terms: set[str]) -> float:
        if not self._terms:
            self.index()
        weights = (4.0, 3.0, 1.5, 1.0)
        total = 0.0
        for term in question_terms:
            for weight, group in zip(weights, self._terms, strict=True):
                if term in group:
                    total += weight
                    break
        return total

    def ddl(self, *, with_comments: bool = True) -> str:
        """A valid ``CREATE TABLE`` with one line per column; comments after ``--``."""
        lines = []
        if with_comments and self.comment:
            lines.append(f"-- {_one_line(self.comment)}")
        lines.append(f"CREATE TABLE {self.full_name} (")
        for number, column in enumerate(self.columns, 1):
            line = f"    {column.quoted_name} {column.type}"
            if column.not_null:
                line += " NOT NULL"
            if number < len(self.columns):
                line += ","
            note = self._column_note(column) if with_comments else ""
            if note:
                line += f" -- {note}"
            lines.append(line)
        lines.append(");")
        return "\n".join(lines)

    def documentation(self) -> str:
        """Plain-language description of the table for the documentation collection."""
        head = f"表 {self.full_name}"
        if self.comment:
            head += f"（{_one_line(self.comment)}）"
        parts = []
        for column in self.columns:
            note = self._column_note(column)
            parts.append(f"{column.name}（{column.type}）" + (f"：{note}" if note else ""))
        return f"{head}的字段：" + "；".join(parts) + "。"

    @staticmethod
    def _column_note(column: ColumnInfo) -> str:
        note = _one_line(column.comment)
        if column.values:
            shown = "、".join(_one_line(v, MAX_VALUE_CHARS) for v in column.values[:MAX_VALUES])
            note = f"{note}；取值: {shown}" if note else f"取值: {shown}"
        return note


async def read_schema(
    conn: asyncpg.Connection | asyncpg.Pool,
    tables: Sequence[str] | None = None,
    *,
    max_distinct: int = 20,
    limit: int = MAX_TABLES,
) -> list[TableInfo]:
    """Tables (``name`` or ``schema.name``; None: all readable ones), columns and values."""
    names = list(tables) if tables else None
    async with _read_only(conn) as c:
        rows = await c.fetch(_TABLES_SQL, names, limit)
        by_oid = {
            r["oid"]: TableInfo(r["schema"], r["name"], r["comment"] or None, quoted=r["quoted"])
            for r in rows
        }
        if not by_oid:
            return []
        for r in await c.fetch(_COLUMNS_SQL, list(by_oid)):
            by_oid[r["oid"]].columns.append(
                ColumnInfo(
                    r["name"], r["type"], r["not_null"], r["comment"] or None, quoted=r["quoted"]
                )
            )
        found = list(by_oid.values())
        by_key = {(t.schema, t.name): t for t in found}
        values = await c.fetch(
            _VALUES_SQL,
            sorted({t.schema for t in found}),
            sorted({t.name for t in found}),
            max_distinct,
        )
        analysed = {
            (r["schema"], r["name"])
            for r in await c.fetch(
                _ANALYSED_SQL, sorted({t.schema for t in found}), sorted({t.name for t in found})
            )
        }
    for table in found:
        table.analysed = (table.schema, table.name) in analysed
    for r in values:
        table = by_key.get((r["schema"], r["name"]))
        if table is None or r["vals"] is None:
            continue
        shown = [str(v) for v in r["vals"]]
        if any(len(v) > MAX_VALUE_CHARS for v in shown):
            continue  # long texts are not categories
        for column in table.columns:
            if column.name == r["column"] and not _is_key(column.name):
                column.values = sorted(shown)
    return found


async def sample_values(
    source: asyncpg.Connection | asyncpg.Pool, table: TableInfo, max_distinct: int
) -> None:
    """Values of the table's category-like columns from its first ``SAMPLE_ROWS`` rows."""
    table.sampled = True
    columns = [
        c
        for c in table.columns
        if not c.values and not _is_key(c.name) and c.type.startswith(_CATEGORY_TYPES)
    ]
    if not columns:
        return
    picks = ", ".join(
        f"array(SELECT DISTINCT {c.quoted_name}::text FROM sample"
        f" WHERE {c.quoted_name} IS NOT NULL LIMIT {max_distinct + 1})"
        for c in columns
    )
    names = ", ".join(c.quoted_name for c in columns)
    sql = (
        f"WITH sample AS (SELECT {names} FROM {table.full_name} LIMIT {SAMPLE_ROWS}) SELECT {picks}"
    )
    async with _read_only(source, _SAMPLE_TIMEOUT_MS) as conn:
        row = await conn.fetchrow(sql)
    for column, found in zip(columns, row, strict=True):
        shown = [str(v) for v in found or []]
        if 0 < len(shown) <= max_distinct and all(len(v) <= MAX_VALUE_CHARS for v in shown):
            column.values = sorted(shown)
    table.index()


@asynccontextmanager
async def _read_only(
    source: asyncpg.Connection | asyncpg.Pool, timeout_ms: int = _CATALOG_TIMEOUT_MS
) -> AsyncIterator[asyncpg.Connection]:
    """A connection in a read-only transaction with a statement timeout."""
    if isinstance(source, asyncpg.Pool):
        wait = _CATALOG_TIMEOUT_MS / 1000
        async with source.acquire(timeout=wait) as conn, conn.transaction(readonly=True):
            await conn.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
            yield conn
    else:
        async with source.transaction(readonly=True):
            await source.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
            yield source
