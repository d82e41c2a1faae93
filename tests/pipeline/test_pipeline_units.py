"""Pure helpers of the pipeline: rendering, catalog reads, log parsing, file splitting, JSON extraction."""

from __future__ import annotations

import asyncpg
import pytest

from citu.pipeline.files import format_deleted_size, format_size, parse_table_names, table_file_base
from citu.pipeline.inspect import FieldInfo, TableMetadata, detect_enums, inspect_table, sample_rows
from citu.pipeline.llm import extract_json
from citu.pipeline.render import ddl_default, ddl_type, render_ddl, render_doc, short_name
from citu.pipeline.steps.qa import parse_pairs, parse_themes
from citu.pipeline.steps.training import read_pairs_sql, split_ddl, split_markdown
from citu.pipeline.tasklog import parse_detailed, parse_simple, parse_time
from citu.pipeline.vectors import _json_metadata


def test_sizes_and_names():
    assert (
        format_size(0) == "0 B" and format_size(204) == "204.0 B" and format_size(1536) == "1.5 KB"
    )
    assert format_size(3 * 1024**3) == "3.0 GB"
    assert format_deleted_size(1023) == "1023 B" and format_deleted_size(1258291) == "1.2 MB"
    assert table_file_base("public", "orders") == "orders"
    assert table_file_base("ods", "orders") == "ods_orders"
    assert table_file_base("public", "a__b") == "a_b"
    assert parse_table_names("# c\n-- c\n a, b ,,\n\nschema.c\n") == ["a", "b", "schema.c"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("nextval('x_seq'::regclass)", None),
        ("now()", "current_timestamp"),
        ("CURRENT_TIMESTAMP", "current_timestamp"),
        ("CURRENT_DATE", "current_date"),
        ("'abc'::character varying", "'abc'"),
        ("0", "0"),
        ("1.5", "1.5"),
        ("true", "true"),
        ("'2025-01-01'::date", "'2025-01-01'"),
        ("gen_random_uuid()", "'gen_random_uuid()'"),
        (None, None),
    ],
)
def test_ddl_defaults(value, expected):
    assert ddl_default(value) == expected


def test_types_and_short_names():
    assert ddl_type(FieldInfo("a", "character varying", True, max_length=32)) == "varchar(32)"
    assert ddl_type(FieldInfo("a", "numeric", True, precision=18, scale=2)) == "numeric(18,2)"
    assert ddl_type(FieldInfo("a", "timestamp with time zone", True)) == "timestamptz"
    assert ddl_type(FieldInfo("a", "character", True, max_length=1)) == "char(1)"
    assert short_name("服务区信息表，存储基础数据。（30字）") == "服务区信息表"
    assert short_name(None) is None


def test_render_ddl_and_doc_layout():
    meta = TableMetadata(
        schema="ods",
        name="orders_rel",
        comment="订单关系表，记录订单（20字）",
        fields=[
            FieldInfo("id", "uuid", False, is_primary_key=True, comment="主键"),
            FieldInfo(
                "state",
                "character varying",
                True,
                max_length=8,
                is_enum=True,
                enum_values=["新建", "完成"],
            ),
            FieldInfo("ts", "timestamp without time zone", False, default_value="now()"),
            FieldInfo("payload", "jsonb", True, samples=["{}"]),
        ],
    )
    ddl = render_ddl(meta).splitlines()
    assert ddl[0] == "-- 中文名: 订单关系表" and ddl[1] == "-- 描述: 订单关系表，记录订单"
    assert ddl[2] == "create table ods.orders_rel ("
    assert ddl[3] == "  id uuid not null,           -- 主键"
    assert ddl[4] == "  state varchar(8),"
    assert ddl[5] == "  ts timestamp not null default current_timestamp,"
    assert ddl[6] == "  payload jsonb,"
    assert ddl[7:] == ["  primary key (id)", ");"]
    doc = render_doc(meta).splitlines()
    assert doc[0] == "## orders_rel（订单关系表）" and doc[1] == "orders_rel 表订单关系表，记录订单"
    assert doc[2] == "字段列表："
    assert doc[4] == "- state (varchar(8)) - state [示例: 新建, 完成]"
    assert doc[6] == "- payload (jsonb) - payload [示例: {}]"
    notes = doc[doc.index("字段补充说明：") + 1 :]
    assert notes == [
        "- id 为主键",
        "- id 使用 UUID 编码",
        "- state 为枚举字段，包含取值：新建、完成",
        "- ts 自动记录当前时间",
        "- payload 存储JSON格式数据",
        "- 本表是关联表，用于多对多关系映射",
    ]


async def test_catalog_reads_on_the_demo(business_db_url):
    conn = await asyncpg.connect(business_db_url)
    try:
        link = await inspect_table(conn, "public", "bss_section_route_area_link")
        assert [f.name for f in link.fields if f.is_primary_key] == [
            "section_route_id",
            "service_area_id",
        ]
        assert all(f.is_foreign_key for f in link.fields)
        assert link.fields[1].references == "public.bss_service_area.id"
        days = await inspect_table(conn, "public", "bss_business_day_data")
        assert days.row_count > 1000 and days.table_size.endswith(("kB", "MB"))
        # Large-table sampling (threshold below the row count): scattered pages, capped rows.
        rows = await sample_rows(conn, days, 20, large_threshold=100)
        assert 0 < len(rows) <= 20
        await detect_enums(conn, days, 20, large_threshold=100)
        assert not any(f.is_enum for f in days.fields)  # big tables are not scanned for enums
        cars = await inspect_table(conn, "public", "bss_car_day_count")
        await detect_enums(conn, cars, 20, large_threshold=10**9)
        car_type = next(f for f in cars.fields if f.name == "car_type")
        assert car_type.is_enum and len(car_type.enum_values) >= 2
        assert not next(f for f in cars.fields if f.name == "service_area_id").is_enum
    finally:
        await conn.close()


def test_log_parsing():
    text = "\n".join(
        [
            "2025-07-21 21:37:02 [INFO] citu.pipeline.engine: [ddl_generation] 开始执行步骤: ddl_generation",
            "Traceback (most recent call last):",
            "2025-07-21 21:37:03 [ERROR] TaskDir_task_1: plain message",
            "2025-07-21 21:37:04 [INFO] [data_pipeline.QAGenerator] qs_agent.py:88 - 生成: 10",
        ]
    )
    simple = parse_simple(text.splitlines(), None)
    assert len(simple) == 3 and simple[0]["message"].endswith(
        "\nTraceback (most recent call last):"
    )
    assert parse_simple(text.splitlines(), "error")[0]["logger"] == "TaskDir_task_1"
    detailed = parse_detailed(text)
    assert [e["step"] for e in detailed] == ["ddl_generation", None, "qa_generation"]
    assert [e["line_number"] for e in detailed] == [1, 3, 4]
    assert detailed[2]["logger"] == "[data_pipeline.QAGenerator] qs_agent.py:88"
    assert parse_time("2025-07-21T21:37:02.5") is not None and parse_time("21/07/2025") is None


def test_training_file_splitting():
    ddl = "-- 中文名: 表\ncreate table t (\n  a int -- 注释; 含分号,\n  b int\n);\ncreate table u (x int);\n"
    assert split_ddl(ddl) == [
        "-- 中文名: 表\ncreate table t (\n  a int -- 注释; 含分号,\n  b int\n)",
        "create table u (x int)",
    ]
    assert split_markdown("intro\n# A\ntext\n#### deep\n## B\nmore") == [
        "intro",
        "# A\ntext\n#### deep",
        "## B\nmore",
    ]
    assert split_markdown("no headings") == ["no headings"]
    text = "Question: 一\nSQL: SELECT 1;\n\nQuestion: 二\nSQL: SELECT\n 2;\n"
    assert read_pairs_sql(text) == [("一", "SELECT 1;"), ("二", "SELECT\n 2;")]


def test_llm_answer_parsing():
    assert extract_json('说明\n```json\n{"a": 1}\n```') == {"a": 1}
    assert extract_json('前言 {"a": [1, 2]} 后记') == {"a": [1, 2]}
    assert extract_json("<think>x</think>") is None
    themes = parse_themes(
        {
            "themes": [
                {"name": "别名主题", "description": "d", "related_tables": ["t"]},
                {"topic_name": "缺表", "description": "d"},
                "junk",
            ]
        },
        5,
    )
    assert themes == [
        {
            "topic_name": "别名主题",
            "description": "d",
            "related_tables": ["t"],
            "biz_entities": ["t"],
            "biz_metrics": ["数据统计", "趋势分析"],
        }
    ]
    pairs = parse_pairs([{"question": " q ", "sql": "SELECT  1\n FROM t"}, {"question": "x"}, 3])
    assert pairs == [{"question": "q", "sql": "SELECT 1 FROM t;"}]


def test_backup_metadata_conversion():
    assert (
        _json_metadata("{'id': 'x-sql', 'createdat': None}") == '{"id": "x-sql", "createdat": null}'
    )
    assert _json_metadata('{"id": "x"}') == '{"id": "x"}'
    assert _json_metadata("") is None and _json_metadata("{broken") is None
