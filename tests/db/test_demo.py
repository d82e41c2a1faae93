"""Demo business database against a real PostgreSQL (a throw-away database per test)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import pytest

from citu.db.demo import DEMO_TABLES, build_demo_data, install_demo

ADMIN_DSN = os.environ.get(
    "CITU_TEST_BUSINESS_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
async def db_dsn() -> AsyncIterator[str]:
    """DSN of a freshly created, uniquely named database; dropped afterwards."""
    admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    name = f"citu_demo_test_{uuid.uuid4().hex[:12]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(db_dsn)
    try:
        yield c
    finally:
        await c.close()


async def test_install_fills_every_table_and_is_idempotent(conn: asyncpg.Connection) -> None:
    first = await install_demo(conn)
    assert tuple(first) == DEMO_TABLES
    expected = {name: len(t.rows) for name, t in build_demo_data().items()}
    assert first == expected
    assert all(n > 0 for n in first.values())
    assert await install_demo(conn) == first


async def test_every_table_and_column_has_a_chinese_comment(conn: asyncpg.Connection) -> None:
    await install_demo(conn)
    rows = await conn.fetch(
        """
        SELECT c.relname, a.attname,
               obj_description(c.oid, 'pg_class') AS table_comment,
               col_description(c.oid, a.attnum) AS column_comment
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relname = ANY($1::text[]) AND c.relkind = 'r'
        """,
        list(DEMO_TABLES),
    )
    assert {r["relname"] for r in rows} == set(DEMO_TABLES)
    missing = [f"{r['relname']}.{r['attname']}" for r in rows if not r["column_comment"]]
    assert not missing, missing
    assert all(r["table_comment"] for r in rows)
    # At least one CJK character in every comment.
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in r["column_comment"]) for r in rows)


async def test_same_data_every_time() -> None:
    a, b = build_demo_data(), build_demo_data()
    assert all(a[t].rows == b[t].rows for t in DEMO_TABLES)


async def test_failed_load_leaves_nothing_behind(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_copy = asyncpg.Connection.copy_records_to_table
    calls = 0

    async def crash_on_third_table(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("simulated crash")
        return await real_copy(self, *args, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "copy_records_to_table", crash_on_third_table)
    with pytest.raises(RuntimeError):
        await install_demo(conn)
    assert await conn.fetchval("SELECT to_regclass('bss_company')") is None
    monkeypatch.undo()
    assert (await install_demo(conn))["bss_company"] == 3


async def test_concurrent_installers_load_once(db_dsn: str) -> None:
    conns = [await asyncpg.connect(db_dsn) for _ in range(3)]
    try:
        results = await asyncio.gather(*(install_demo(c) for c in conns))
    finally:
        for c in conns:
            await c.close()
    assert results[0] == results[1] == results[2]
    assert results[0]["bss_company"] == 3


async def test_analytic_questions_give_plausible_answers(conn: asyncpg.Connection) -> None:
    await install_demo(conn)

    # 2025年3月各服务区总营收
    march = await conn.fetch(
        """
        SELECT service_name, SUM(pay_sum) AS total
        FROM bss_business_day_data
        WHERE delete_ts IS NULL AND oper_date BETWEEN '2025-03-01' AND '2025-03-31'
        GROUP BY service_name ORDER BY total DESC
        """
    )
    assert len(march) == 20
    names = {r["service_name"] for r in march}
    assert {"庐山服务区", "三清山服务区", "南城服务区"} <= names
    totals = [r["total"] for r in march]
    assert all(isinstance(t, Decimal) and t.as_tuple().exponent == -2 for t in totals)
    assert Decimal("100000") < totals[-1] < totals[0] < Decimal("5000000")

    # pay_sum / order_sum are exactly the sum of the payment methods.
    bad = await conn.fetchval(
        """
        SELECT count(*) FROM bss_business_day_data
        WHERE pay_sum <> wx + zfb + rmb + xs + jd
           OR order_sum <> wx_order + zf_order + rmb_order + xs_order + jd_order
           OR pay_sum <= 0
        """
    )
    assert bad == 0

    # 各类车型车流量
    by_type = await conn.fetch(
        """
        SELECT car_type, SUM(customer_count) AS n FROM bss_car_day_count
        WHERE delete_ts IS NULL GROUP BY car_type ORDER BY n DESC
        """
    )
    assert [r["car_type"] for r in by_type] == ["客车", "货车", "过境", "城际", "危化品"]

    # 春节高峰日均营收高于三月
    peak, normal = await conn.fetchrow(
        """
        SELECT avg(day_total) FILTER (WHERE oper_date BETWEEN '2025-01-25' AND '2025-02-06'),
               avg(day_total) FILTER (WHERE oper_date >= '2025-03-01')
        FROM (SELECT oper_date, SUM(pay_sum) AS day_total
              FROM bss_business_day_data GROUP BY oper_date) d
        """
    )
    assert peak > normal * Decimal("1.5")

    # 各公司营收 / 路段服务区数量 / 档口最多的服务区: joins work.
    by_company = await conn.fetch(
        """
        SELECT c.company_name, SUM(b.pay_sum) AS total
        FROM bss_business_day_data b
        JOIN bss_service_area a ON a.id = b.service_area_id
        JOIN bss_company c ON c.id = a.company_id
        GROUP BY c.company_name
        """
    )
    assert len(by_company) == 3
    per_section = await conn.fetch(
        """
        SELECT r.section_name, r.route_name, count(*) AS areas
        FROM bss_section_route r JOIN bss_section_route_area_link l ON l.section_route_id = r.id
        GROUP BY r.section_name, r.route_name
        """
    )
    assert len(per_section) == len(build_demo_data()["bss_section_route"].rows)
    top = await conn.fetchrow(
        "SELECT service_name, COUNT(*) AS n FROM bss_branch GROUP BY service_name "
        "ORDER BY n DESC, service_name LIMIT 1"
    )
    assert top["n"] >= 4
