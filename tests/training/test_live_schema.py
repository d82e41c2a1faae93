"""The live schema read from the business database's catalog: valid DDL, values from the
statistics, ranking by the question, the size budget (on a real 500-table schema), the cache,
and the SQL prompt's fallback when retrieval found no DDL."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from citu.db.demo import DEMO_TABLES
from citu.db.embedded import with_database
from citu.training.live_schema import LiveSchema, read_schema, render_for_prompt
from fakes.ask_script import kinds, script

ADMIN_URL = os.environ.get(
    "CITU_TEST_BUSINESS_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MARKER = "-- 以下表结构读取自数据库目录"


@pytest.fixture
async def scratch_url() -> AsyncIterator[str]:
    name = f"citu_schema_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(ADMIN_URL, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def demo_tables(business_db_url: str):
    # Other tests of the session add tables to the shared business database.
    conn = await asyncpg.connect(business_db_url)
    try:
        return await read_schema(conn, DEMO_TABLES)
    finally:
        await conn.close()


async def test_generated_ddl_is_valid_sql(business_db_url, scratch_url):
    tables = await demo_tables(business_db_url)
    assert sorted(t.name for t in tables) == sorted(DEMO_TABLES)
    conn = await asyncpg.connect(scratch_url)
    try:
        for table in tables:
            await conn.execute(table.ddl())  # comments after "--", commas outside them
        copied = await read_schema(conn)
    finally:
        await conn.close()
    assert [(t.name, [(c.name, c.type) for c in t.columns]) for t in copied] == [
        (t.name, [(c.name, c.type) for c in t.columns]) for t in tables
    ]


async def test_keywords_and_odd_names_are_quoted(scratch_url):
    conn = await asyncpg.connect(scratch_url)
    try:
        await conn.execute(
            'CREATE SCHEMA "Sales"; CREATE TABLE "Sales"."order" ("user" text, "Total Sum" int,'
            ' select_count int); COMMENT ON COLUMN "Sales"."order"."user" IS \'下单人\''
        )
        [table] = await read_schema(conn, ["Sales.order"])
        ddl = table.ddl()
        await conn.execute('DROP TABLE "Sales"."order"')
        await conn.execute(ddl)  # the generated DDL recreates the table
    finally:
        await conn.close()
    assert 'CREATE TABLE "Sales"."order" (' in ddl and '"user" text, -- 下单人' in ddl
    assert '"Total Sum" integer' in ddl and "    select_count integer" in ddl


async def test_comments_and_low_cardinality_values(business_db_url):
    cars = next(t for t in await demo_tables(business_db_url) if t.name == "bss_car_day_count")
    assert cars.comment.startswith("服务区车流量日统计表")
    car_type = next(c for c in cars.columns if c.name == "car_type")
    assert sorted(car_type.values) == sorted(["客车", "货车", "过境", "危化品", "城际"])
    area = next(c for c in cars.columns if c.name == "service_area_id")
    assert area.values == []  # 20 ids are not a category
    assert "取值: " in cars.ddl() and "车辆类型" in cars.documentation()


async def test_the_table_the_question_is_about_comes_first(business_db_url):
    tables = await demo_tables(business_db_url)
    text = render_for_prompt(tables, "各车型的车流量是多少", 100_000)
    assert text.startswith(MARKER)
    first = text.split("CREATE TABLE ", 2)[1].split(" ", 1)[0]
    assert first == "bss_car_day_count"
    text = render_for_prompt(tables, "哪条路段上的服务区最多", 100_000)
    assert text.split("CREATE TABLE ", 2)[1].split(" ", 1)[0].startswith("bss_section_route")


@pytest.mark.parametrize("budget", [0, 60, 500, 2_000, 12_000])
async def test_the_budget_holds_on_the_demo(business_db_url, budget):
    text = render_for_prompt(await demo_tables(business_db_url), "营收", budget)
    assert len(text) <= budget


async def create_wide_schema(url: str, count: int) -> None:
    """``count`` tables of 12 commented columns, in one statement batch."""
    statements = []
    for n in range(count):
        columns = ",\n".join(
            ["id bigint PRIMARY KEY"]
            + [f"attr_{n}_{c} varchar(64)" for c in range(10)]
            + ["created_at timestamp"]
        )
        statements.append(f"CREATE TABLE t_{n:03d} (\n{columns}\n);")
        statements.append(f"COMMENT ON TABLE t_{n:03d} IS '业务表{n}：第{n}类业务单据的明细记录'")
        statements += [
            f"COMMENT ON COLUMN t_{n:03d}.attr_{n}_{c} IS '第{n}类单据的属性{c}，说明文字若干'"
            for c in range(10)
        ]
    statements.append("CREATE TABLE shipment_orders (id bigint, carrier text, weight_kg numeric)")
    statements.append("COMMENT ON TABLE shipment_orders IS '运单表：承运商与重量'")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(";\n".join(statements))
    finally:
        await conn.close()


async def test_a_500_table_schema_stays_within_the_budget(scratch_url):
    await create_wide_schema(scratch_url, 499)
    conn = await asyncpg.connect(scratch_url)
    try:
        started = time.perf_counter()
        tables = await read_schema(conn)
        read_seconds = time.perf_counter() - started
    finally:
        await conn.close()
    assert len(tables) == 500
    full = sum(len(t.ddl()) for t in tables)
    assert full > 300_000  # far more than any prompt can hold

    for budget in (1_000, 12_000, 40_000):
        started = time.perf_counter()
        text = render_for_prompt(tables, "每个承运商的运单总重量 weight by carrier", budget)
        render_seconds = time.perf_counter() - started
        assert len(text) <= budget
        # The one relevant table comes first; the rest fill the budget, then are counted.
        assert text.split("CREATE TABLE ", 2)[1].startswith("shipment_orders (")
        assert "张表未列出" in text
    print(f"500 tables: catalog read {read_seconds:.3f}s, ranking+render {render_seconds:.3f}s")
    assert read_seconds < 5 and render_seconds < 2


async def test_the_catalog_read_is_cached(business_db_url, settings):
    pool = await asyncpg.create_pool(business_db_url, min_size=1, max_size=2)
    try:
        settings.schema_cache_seconds = 300
        schema = LiveSchema(lambda: pool, settings)
        first = await schema.tables()
        assert await schema.tables() is first
        settings.schema_cache_seconds = 0
        assert await schema.tables() is not first
    finally:
        await pool.close()


async def test_sql_prompt_falls_back_to_the_live_schema(client, fake_llm, services):
    """Nothing trained: the SQL prompt still carries the tables, ranked for the question."""
    assert (await services.training.counts())["ddl"] == 0
    script(fake_llm)
    response = await client.post("/api/v0/ask_agent", json={"question": "收入前三的服务区是哪些"})
    assert response.status_code == 200
    sql_request = fake_llm.requests[kinds(fake_llm).index("sql")]
    system = sql_request["messages"][0]["content"]
    assert MARKER in system and "CREATE TABLE bss_business_day_data (" in system
    tables_part = system.split("===Tables", 1)[1].split("===Response Guidelines", 1)[0]
    assert len(tables_part) <= services.settings.schema_prompt_max_chars + 10


async def test_trained_ddl_is_used_instead_of_the_live_schema(client, fake_llm, services):
    await services.training.add_ddl("CREATE TABLE bss_x (a int); -- 训练过的表")
    script(fake_llm)
    await client.post("/api/v0/ask_agent", json={"question": "收入前三的服务区是哪些"})
    system = fake_llm.requests[kinds(fake_llm).index("sql")]["messages"][0]["content"]
    assert "训练过的表" in system and MARKER not in system


async def test_an_unreadable_business_database_leaves_the_context_as_retrieved(settings):
    from citu.errors import ServiceUnavailable
    from citu.training.live_schema import SchemaFallbackRetriever
    from fakes.memory_stores import Retrieved

    class Empty:
        async def retrieve(self, question: str) -> Retrieved:
            return Retrieved()

    def down():
        raise ServiceUnavailable("业务数据库不可用")

    context = await SchemaFallbackRetriever(Empty(), LiveSchema(down, settings)).retrieve("营收")
    assert context == Retrieved()


async def test_unanalysed_tables_get_values_from_a_sample(scratch_url, settings):
    """Small lookup tables are never analysed by autovacuum: their values come from a sample."""
    conn = await asyncpg.connect(scratch_url)
    try:
        await conn.execute(
            "CREATE TABLE order_status (code smallint, name varchar(20));"
            "INSERT INTO order_status VALUES (1, '待支付'), (2, '已发货'), (3, '已完成');"
            "CREATE TABLE orders (id bigint, status_code smallint, customer_name varchar(40));"
            "INSERT INTO orders SELECT g, 1 + g % 3, '客户' || g FROM generate_series(1, 30) g;"
        )
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(scratch_url, min_size=1, max_size=2)
    try:
        schema = LiveSchema(lambda: pool, settings)
        text = await schema.prompt_text("各订单状态 order status 的订单数")
        tables = {t.name: t for t in await schema.tables()}
    finally:
        await pool.close()
    assert not tables["order_status"].analysed and tables["order_status"].sampled
    assert "取值: 已发货、已完成、待支付" in text
    columns = {c.name: c for c in tables["orders"].columns}
    assert columns["status_code"].values == ["1", "2", "3"]
    assert columns["customer_name"].values == []  # 30 names are not a category
