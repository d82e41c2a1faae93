"""The demo's curated training data: every SQL runs on the demo, loading is idempotent, and a
start without a configured business database loads it."""

from __future__ import annotations

import re
import uuid

import asyncpg
import pytest

from citu.app import create_app
from citu.db.demo import DEMO_TABLES
from citu.db.demo_training import curated_demo, curated_pairs, demo_training_items, train_demo
from citu.sql.guard import check_sql
from citu.sql.runner import run_read_only

PAIRS = curated_pairs()


def test_curated_set_is_large_stable_and_bilingual():
    assert len(PAIRS) >= 40
    assert all(re.fullmatch(r"demo-\d{3}", p.id) for p in PAIRS)
    assert len({p.id for p in PAIRS}) == len(PAIRS)
    assert len({p.question for p in PAIRS}) == len(PAIRS)
    langs = {p.lang for p in PAIRS}
    assert langs == {"zh", "en"} and sum(p.lang == "en" for p in PAIRS) >= 5
    for pair in PAIRS:
        assert pair.topic and pair.rows in ("some", "any")
        assert set(re.findall(r"\bbss_[a-z_]+", pair.sql)) <= set(DEMO_TABLES), pair.id
        assert check_sql(pair.sql).ok, (pair.id, check_sql(pair.sql).reason)


async def test_every_curated_sql_runs_on_the_demo(business_db_url):
    conn = await asyncpg.connect(business_db_url)
    try:
        for pair in PAIRS:
            result = await run_read_only(conn, pair.sql, max_rows=1000, timeout_ms=10_000)
            assert result.columns, pair.id
            if pair.rows == "some":
                assert result.row_count > 0, f"{pair.id} returned no rows"
            assert not result.is_limited, f"{pair.id} returns more rows than an answer shows"
    finally:
        await conn.close()


async def test_training_items_cover_ddl_documentation_and_pairs(business_db_url):
    conn = await asyncpg.connect(business_db_url)
    try:
        items = await demo_training_items(conn)
    finally:
        await conn.close()
    ddl = [i.content for i in items if i.kind == "ddl"]
    assert len(ddl) == len(DEMO_TABLES)
    assert all(f"CREATE TABLE {t} (" in text for t, text in zip(DEMO_TABLES, ddl, strict=True))
    assert "车辆类型" in ddl[-1] and "取值: " in ddl[-1]  # comments and low-cardinality values
    docs = [i.content for i in items if i.kind == "documentation"]
    assert len(docs) > len(DEMO_TABLES) and any("delete_ts IS NULL" in d for d in docs)
    assert [(i.question, i.content) for i in items if i.kind == "sql"] == [
        (p.question, p.sql) for p in PAIRS
    ]


async def test_loading_twice_stores_and_embeds_nothing_new(services, fake_llm):
    training = services.training
    first = await train_demo(training, services.business_db)
    total = first["ddl"] + first["documentation"] + first["sql"]
    assert first["new"] == total and first["sql"] == len(PAIRS)
    embedded = len(fake_llm.embedding_requests)
    assert embedded > 0

    second = await train_demo(training, services.business_db)

    assert second["new"] == 0
    assert len(fake_llm.embedding_requests) == embedded  # found before asking the endpoint
    counts = await training.counts()
    assert counts["sql"] == len(PAIRS) and counts["ddl"] == len(DEMO_TABLES)


async def test_a_curated_question_retrieves_its_own_pair(services):
    await train_demo(services.training, services.business_db)
    pair = PAIRS[3]
    context = await services.retriever.retrieve(pair.question)
    best = context.question_sql[0]
    assert (best["question"], best["sql"]) == (pair.question, pair.sql)
    # The stored document is the pair's JSON (question and SQL), so it is the best match.
    assert best["similarity"] > max(p["similarity"] for p in context.question_sql[1:])
    assert context.ddl and all("CREATE TABLE bss_" in d for d in context.ddl)


@pytest.fixture
async def demo_start_settings(settings, embedded_pg_url):
    """No business database configured: citu builds and uses its demo database."""
    name = f"citu_demo_{uuid.uuid4().hex[:10]}"
    settings.business_db_url = None
    settings.demo_database_name = name
    yield settings
    conn = await asyncpg.connect(embedded_pg_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def test_start_on_the_demo_loads_its_training_data(demo_start_settings, embedded_pg_url):
    app = create_app(demo_start_settings)
    async with app.test_app():
        services = app.extensions["citu"]
        # The demo is read through citu's reader role, on the demo database.
        assert services.business_db_url.rsplit("/", 1)[1] == demo_start_settings.demo_database_name
        counts = await services.training.counts()
    assert counts["sql"] == len(PAIRS) and counts["ddl"] == len(DEMO_TABLES)


async def test_start_on_the_demo_without_embeddings_still_starts(demo_start_settings):
    demo_start_settings.embedding_base_url = None
    app = create_app(demo_start_settings)
    async with app.test_app():
        counts = await app.extensions["citu"].training.counts()
    assert counts["sql"] == 0


async def test_init_db_demo_loads_the_training_data(
    tmp_path, citu_db_url, embedded_pg_url, fake_llm
):
    import asyncio
    import os
    import sys

    name = f"citu_demo_{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITU_")}
    env.update(
        CITU_DATABASE_URL=citu_db_url,
        CITU_DEMO_DATABASE_NAME=name,
        CITU_EMBEDDING_BASE_URL=fake_llm.base_url,
        CITU_EMBEDDING_API_KEY="k",
        CITU_DATA_DIR=str(tmp_path / "data"),
    )
    try:
        for _ in range(2):  # the second run finds everything in place
            process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "citu.cli", "init-db", "--demo"),
                cwd=tmp_path,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(process.communicate(), 180)
            assert process.returncode == 0, err.decode()
        assert "'sql': 48, 'new': 0}" in out.decode()
        conn = await asyncpg.connect(citu_db_url)
        try:
            stored = await conn.fetchval("SELECT count(*) FROM langchain_pg_embedding")
        finally:
            await conn.close()
        notes = len(curated_demo().documentation)
        assert stored == len(DEMO_TABLES) * 2 + len(curated_pairs()) + notes
    finally:
        conn = await asyncpg.connect(embedded_pg_url)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def test_a_hanging_embedding_endpoint_does_not_hold_the_start(
    demo_start_settings, fake_llm, monkeypatch
):
    import time

    import citu.db.demo_training as demo_training

    monkeypatch.setattr(demo_training, "START_TIMEOUT_SECONDS", 1.0)
    for _ in range(5):
        fake_llm.hang(30.0, endpoint="embeddings")
    started = time.monotonic()
    app = create_app(demo_start_settings)
    async with app.test_app():
        counts = await app.extensions["citu"].training.counts()
    assert counts["sql"] == 0
    assert time.monotonic() - started < 20  # the demo database itself takes a few seconds
