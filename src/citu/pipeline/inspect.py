"""Business-database catalog reads for one table: columns, keys, comments, size, samples, enums.

Every query runs on a read-only connection; identifiers are always quoted (the old inspector
interpolated them bare, so mixed-case names failed).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from citu.sql.runner import normalize_value

log = logging.getLogger("citu.pipeline.inspect")

_CHARACTER_TYPES = {"character varying", "character", "text"}
# Identifiers, codes, names and audit columns repeat without being categories.
_NOT_ENUM_NAMES = re.compile(
    r"(^id$|_id$|_no$|_code$|^code$|_name$|^name$|^(created|updated|deleted)_by$)"
)
# Counting every row of a big table is a full scan: above this estimate we trust reltuples.
_EXACT_COUNT_LIMIT = 100_000


@dataclass
class FieldInfo:
    name: str
    data_type: str  # information_schema data_type, e.g. "character varying"
    nullable: bool
    default_value: str | None = None
    comment: str | None = None
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    datetime_precision: int | None = None
    is_primary_key: bool = False
    is_foreign_key: bool = False
    references: str | None = None  # "schema.table.column"
    is_enum: bool = False
    enum_values: list[str] | None = None
    samples: list[str] = field(default_factory=list)

    def as_api(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.data_type,
            "nullable": self.nullable,
            "comment": self.comment,
            "is_primary_key": self.is_primary_key,
            "is_foreign_key": self.is_foreign_key,
            "default_value": self.default_value,
            "is_enum": self.is_enum,
            "enum_values": self.enum_values,
        }


@dataclass
class TableMetadata:
    schema: str
    name: str
    comment: str | None = None
    fields: list[FieldInfo] = field(default_factory=list)
    row_count: int | None = None
    table_size: str | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def quoted(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    def info(self) -> dict[str, Any]:
        return {
            "table_name": self.name,
            "schema_name": self.schema,
            "full_name": self.full_name,
            "comment": self.comment,
            "field_count": len(self.fields),
            "row_count": self.row_count,
            "table_size": self.table_size,
        }


class TableNotFound(Exception):
    pass


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def inspect_table(conn: asyncpg.Connection, schema: str, table: str) -> TableMetadata:
    """Columns, keys, comments and size of ``schema.table``; TableNotFound if it is not there."""
    oid = await conn.fetchval(
        """
        SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        """,
        schema,
        table,
    )
    if oid is None:
        raise TableNotFound(f"表 {schema}.{table} 不存在或无权限访问")
    meta = TableMetadata(schema=schema, name=table)
    meta.comment = _clean(await conn.fetchval("SELECT obj_description($1::oid, 'pg_class')", oid))
    rows = await conn.fetch(
        """
        SELECT col.column_name, col.data_type, col.is_nullable, col.column_default,
               col.character_maximum_length, col.numeric_precision, col.numeric_scale,
               col.datetime_precision, col_description($3::oid, a.attnum) AS comment
        FROM information_schema.columns col
        JOIN pg_attribute a ON a.attrelid = $3::oid AND a.attname = col.column_name
        WHERE col.table_schema = $1 AND col.table_name = $2
        ORDER BY col.ordinal_position
        """,
        schema,
        table,
        oid,
    )
    meta.fields = [
        FieldInfo(
            name=row["column_name"],
            data_type=row["data_type"],
            nullable=row["is_nullable"] == "YES",
            default_value=row["column_default"],
            comment=_clean(row["comment"]),
            max_length=row["character_maximum_length"],
            precision=row["numeric_precision"],
            scale=row["numeric_scale"],
            datetime_precision=row["datetime_precision"],
        )
        for row in rows
    ]
    await _mark_keys(conn, oid, meta)
    stats = await conn.fetchrow(
        "SELECT c.reltuples::bigint AS estimate, pg_size_pretty(pg_total_relation_size(c.oid)) AS size "
        "FROM pg_class c WHERE c.oid = $1",
        oid,
    )
    meta.table_size = stats["size"]
    estimate = stats["estimate"]
    if estimate is None or estimate < 0 or estimate < _EXACT_COUNT_LIMIT:
        try:
            meta.row_count = await conn.fetchval(f"SELECT COUNT(*) FROM {meta.quoted}")
        except asyncpg.PostgresError as error:
            log.warning("counting %s failed: %s", meta.full_name, error)
            meta.row_count = max(estimate or 0, 0)
    else:
        meta.row_count = estimate
    return meta


async def _mark_keys(conn: asyncpg.Connection, oid: int, meta: TableMetadata) -> None:
    rows = await conn.fetch(
        """
        SELECT con.contype::text AS contype, a.attname, fn.nspname AS ref_schema, fc.relname AS ref_table,
               fa.attname AS ref_column
        FROM pg_constraint con
        CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(attnum, fattnum)
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
        LEFT JOIN pg_class fc ON fc.oid = con.confrelid
        LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
        LEFT JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = k.fattnum
        WHERE con.conrelid = $1 AND con.contype IN ('p', 'f')
        ORDER BY con.contype, array_position(con.conkey, k.attnum)
        """,
        oid,
    )
    by_name = {f.name: f for f in meta.fields}
    for row in rows:
        info = by_name.get(row["attname"])
        if info is None:
            continue
        if row["contype"] == "p":
            info.is_primary_key = True
        else:
            info.is_foreign_key = True
            info.references = f"{row['ref_schema']}.{row['ref_table']}.{row['ref_column']}"


async def sample_rows(
    conn: asyncpg.Connection, meta: TableMetadata, limit: int, large_threshold: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` rows; big tables are sampled from scattered pages instead of the head."""
    rows: list[asyncpg.Record] = []
    try:
        if (meta.row_count or 0) > large_threshold:
            percent = min(100.0, max(0.001, limit * 500.0 / float(meta.row_count or 1)))
            rows = await conn.fetch(
                f"SELECT * FROM {meta.quoted} TABLESAMPLE SYSTEM ({percent:.4f}) LIMIT {int(limit)}"
            )
        if not rows:
            rows = await conn.fetch(f"SELECT * FROM {meta.quoted} LIMIT {int(limit)}")
    except asyncpg.PostgresError as error:
        log.warning("sampling %s failed: %s", meta.full_name, error)
        return []
    samples = [{key: normalize_value(value) for key, value in row.items()} for row in rows]
    for info in meta.fields:
        values: list[str] = []
        for sample in samples:
            value = sample.get(info.name)
            if value is not None and str(value) not in values:
                values.append(str(value))
        info.samples = values
    meta.samples = samples
    return samples


async def detect_enums(
    conn: asyncpg.Connection, meta: TableMetadata, max_distinct: int, large_threshold: int
) -> None:
    """Flag character columns whose few values repeat (status, type, payment method ...).

    Keys and id-like columns are skipped; big tables are judged from the sample only.
    """
    for info in meta.fields:
        if info.data_type not in _CHARACTER_TYPES or info.is_primary_key or info.is_foreign_key:
            continue
        if _NOT_ENUM_NAMES.search(info.name.lower()):
            continue
        if (meta.row_count or 0) > large_threshold:
            continue
        try:
            rows = await conn.fetch(
                f"SELECT {quote_ident(info.name)} AS value, COUNT(*) AS n FROM {meta.quoted} "
                f"WHERE {quote_ident(info.name)} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 "
                f"LIMIT {int(max_distinct) + 1}"
            )
        except asyncpg.PostgresError as error:
            log.warning("enum check of %s.%s failed: %s", meta.full_name, info.name, error)
            continue
        non_null = sum(row["n"] for row in rows)
        if 2 <= len(rows) <= max_distinct and non_null >= 2 * len(rows):
            info.is_enum = True
            info.enum_values = [str(row["value"]) for row in rows]


def _clean(text: str | None) -> str | None:
    text = (text or "").strip()
    return text or None
