"""Generated DDL is SQL: every demo table's DDL runs in a scratch database."""

from __future__ import annotations

import uuid

import asyncpg

from citu.db.embedded import with_database
from citu.pipeline.inspect import FieldInfo, TableMetadata, inspect_table
from citu.pipeline.render import render_ddl
from conftest import BUSINESS_ADMIN_URL


async def _demo_tables(business_db_url: str) -> list[TableMetadata]:
    conn = await asyncpg.connect(business_db_url)
    try:
        names = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 2"
        )
        return [await inspect_table(conn, r["table_schema"], r["table_name"]) for r in names]
    finally:
        await conn.close()


async def test_every_demo_table_ddl_executes(business_db_url):
    tables = await _demo_tables(business_db_url)
    assert len(tables) >= 8
    scratch = f"citu_ddl_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(BUSINESS_ADMIN_URL)
    await admin.execute(f"CREATE DATABASE {scratch}")
    try:
        conn = await asyncpg.connect(with_database(BUSINESS_ADMIN_URL, scratch))
        try:
            for meta in tables:
                await conn.execute(render_ddl(meta))
            created = await conn.fetchval(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            )
            assert created == len(tables)
            # The primary key survives: it was once swallowed by a missing comma.
            keys = await conn.fetchval(
                "SELECT count(*) FROM information_schema.table_constraints"
                " WHERE table_schema = 'public' AND constraint_type = 'PRIMARY KEY'"
            )
            assert keys == sum(1 for m in tables if any(f.is_primary_key for f in m.fields))
        finally:
            await conn.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")
        await admin.close()


def test_comments_never_swallow_commas_or_repeat_primary_key():
    meta = TableMetadata(
        schema="public",
        name="t",
        comment="表，\n两行说明",
        fields=[
            FieldInfo("id", "integer", False, is_primary_key=True, comment="主键ID"),
            FieldInfo("note", "text", True, comment="第一行\n-- 第二行"),
        ],
    )
    lines = render_ddl(meta).splitlines()
    assert lines[3].startswith("  id integer not null,") and lines[3].count("主键") == 1
    assert lines[4].startswith("  note text,") and lines[4].endswith("-- 第一行 -- 第二行")
    assert lines[5:] == ["  primary key (id)", ");"]
    assert all(line.startswith(("--", "create", "  ", ")")) for line in lines)
