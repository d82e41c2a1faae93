"""The whole workflow through the HTTP routes, against the demo business database."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from fakes.pipeline_script import (
    BUSINESS_CONTEXT,
    DEMO_TABLES,
    FIXED_SQL,
    HOPELESS_SQL,
    script_pipeline,
    valid_pair_count,
)

BASE = "/api/v0/data_pipeline"


@pytest.fixture
def settings(settings):
    settings.pipeline_llm_retry_delay = 0.01
    settings.pipeline_cancel_poll_seconds = 0.1
    return settings


async def wait_done(client, task_id: str, limit: float = 60.0) -> dict:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        response = await client.get(f"{BASE}/tasks/{task_id}")
        data = (await response.get_json())["data"]
        if data["status"] != "in_progress":
            return data
        assert asyncio.get_running_loop().time() < deadline, f"task still running: {data}"
        await asyncio.sleep(0.1)


async def create_task(client, **extra) -> str:
    body = {"task_name": "服务区", "business_context": BUSINESS_CONTEXT, **extra}
    response = await client.post(f"{BASE}/tasks", json=body)
    assert response.status_code == 201, await response.get_data()
    return (await response.get_json())["data"]["task_id"]


async def test_complete_workflow(client, fake_llm, services, settings, business_db_url):
    """Every file of the task directory and every row that reaches the vector store."""
    script_pipeline(fake_llm)
    secret_dsn = business_db_url.replace("postgres@", "postgres:s3cret-pw@")
    task_id = await create_task(client, db_connection=secret_dsn)
    response = await client.post(f"{BASE}/tasks/{task_id}/table-list", json={"tables": DEMO_TABLES})
    assert response.status_code == 200

    response = await client.post(f"{BASE}/tasks/{task_id}/execute", json={})
    assert response.status_code == 202
    body = await response.get_json()
    assert body["data"]["execution_mode"] == "complete" and body["data"]["step_name"] is None

    status = await wait_done(client, task_id)
    assert status["status"] == "completed", status
    assert set(status["step_status"].values()) == {"completed"}
    assert "s3cret-pw" not in json.dumps(status, ensure_ascii=False)
    assert status["parameters"]["db_connection"].startswith("postgresql://postgres:***@")

    task_dir = Path(settings.data_dir) / "data_pipeline" / "training_data" / task_id
    names = sorted(p.name for p in task_dir.iterdir())
    # Not preceded by a hex digit: the random database name may end in digits.
    stamped = re.compile(r"(?<![0-9a-f])\d{8}_\d{6}")
    assert sorted({stamped.sub("TS", n) for n in names}) == sorted(
        [f"{t}.ddl" for t in DEMO_TABLES]
        + [f"{t}_detail.md" for t in DEMO_TABLES]
        + [
            "data_pipeline.log",
            "db_query_decision_prompt.txt",
            "file_modifications_TS.log",
            "filename_mapping.txt",
            "metadata.txt",
            "metadata_detail.md",
            f"qs_{business_db_url.rsplit('/', 1)[1]}_TS_pair.json",
            f"qs_{business_db_url.rsplit('/', 1)[1]}_TS_pair.json.backup",
            "sql_validation_TS_summary.log",
            "table_list.txt",
            "task_config.json",
            "task_result.json",
        ]
    )
    assert len(names) == 2 * len(DEMO_TABLES) + 12  # every file accounted for
    for table in DEMO_TABLES:
        assert f"{table}.ddl" in names and f"{table}_detail.md" in names
    pair_files = [n for n in names if n.endswith("_pair.json")]
    assert len(pair_files) == 1 and pair_files[0].startswith(
        f"qs_{business_db_url.rsplit('/', 1)[1]}_"
    )
    for expected in (
        "table_list.txt",
        "task_config.json",
        "data_pipeline.log",
        "filename_mapping.txt",
        "metadata.txt",
        "metadata_detail.md",
        "db_query_decision_prompt.txt",
        "task_result.json",
        pair_files[0] + ".backup",
    ):
        assert expected in names, expected
    assert any(n.startswith("sql_validation_") and n.endswith("_summary.log") for n in names)
    assert any(n.startswith("file_modifications_") for n in names)
    assert not any(n.startswith("qs_intermediate_") for n in names)  # all themes succeeded

    ddl = (task_dir / "bss_company.ddl").read_text(encoding="utf-8")
    assert ddl.startswith(
        "-- 中文名: 公司信息表：负责经营管理高速公路服务区的片区管理公司\n-- 描述: "
    )
    assert "create table public.bss_company (" in ddl
    assert (
        "  id varchar(32) not null," in ddl
        and "-- 公司唯一标识，主键（32位十六进制字符串）\n" in ddl
    )
    assert "  version integer not null default 1" in ddl
    assert ddl.rstrip().endswith("  primary key (id)\n);")
    doc = (task_dir / "bss_service_area_detail.md").read_text(encoding="utf-8")
    assert doc.startswith(
        "## bss_service_area（服务区基础信息表：高速公路服务区名称、编码、所属公司、位置、类型与营业状态）"
    )
    assert "- service_state (varchar(50)) - 营业状态：开放、关闭 [示例:" in doc
    assert "字段补充说明：" in doc and "- id 为主键" in doc
    assert "- company_id 为外键，关联 public.bss_company.id" in doc
    assert "为枚举字段，包含取值：" in doc
    mapping = (task_dir / "filename_mapping.txt").read_text(encoding="utf-8").splitlines()
    assert mapping[:3] == ["# 文件名映射报告", "# 格式: 原始表名 -> 实际文件名", ""]
    assert "public.bss_company -> bss_company_detail.md" in mapping

    pairs = json.loads((task_dir / pair_files[0]).read_text(encoding="utf-8"))
    assert len(pairs) == valid_pair_count()
    assert FIXED_SQL in [p["sql"] for p in pairs]
    assert HOPELESS_SQL not in [p["sql"] for p in pairs]
    assert all(p["sql"].endswith(";") and "\n" not in p["sql"] for p in pairs)
    original = json.loads((task_dir / (pair_files[0] + ".backup")).read_text(encoding="utf-8"))
    assert len(original) == valid_pair_count() + 1

    metadata = (task_dir / "metadata.txt").read_text(encoding="utf-8")
    assert "CREATE TABLE IF NOT EXISTS metadata (" in metadata
    assert "ARRAY['bss_business_day_data', 'bss_service_area']::text[]" in metadata
    decision = (task_dir / "db_query_decision_prompt.txt").read_text(encoding="utf-8")
    assert decision.startswith("=== 数据库业务范围 ===\n当前数据库存储的是")

    config = json.loads((task_dir / "task_config.json").read_text(encoding="utf-8"))
    assert config["task_id"] == task_id and "s3cret-pw" not in json.dumps(config)
    result = json.loads((task_dir / "task_result.json").read_text(encoding="utf-8"))
    assert result["success"] is True
    assert result["artifacts"]["ddl_md_generation"]["processed_successfully"] == len(DEMO_TABLES)
    validation = result["artifacts"]["sql_validation"]
    assert validation["original_sql_count"] == valid_pair_count() + 1
    assert validation["repair_stats"] == {"attempted": 2, "successful": 1, "failed": 1}
    assert validation["file_modification_stats"]["deleted"] == 1

    # The rows that reached the vector store: one DDL and one doc per table, the valid pairs.
    training = result["artifacts"]["training_data_load"]
    assert training["loaded_counts"] == {
        "ddl": len(DEMO_TABLES),
        "documentation": len(DEMO_TABLES),
        "sql": valid_pair_count(),
    }
    async with services.db.acquire() as conn:
        rows = await conn.fetch(
            "SELECT c.name, e.id, e.document FROM langchain_pg_embedding e "
            "JOIN langchain_pg_collection c ON c.uuid = e.collection_id"
        )
    documents: dict[str, list[str]] = {}
    for row in rows:
        documents.setdefault(row["name"], []).append(row["document"])
        assert row["id"].endswith(
            {"sql": "-sql", "ddl": "-ddl", "documentation": "-doc"}[row["name"]]
        )
    assert sorted(documents["ddl"]) == sorted(
        (task_dir / f"{t}.ddl").read_text(encoding="utf-8").strip().removesuffix(";").strip()
        for t in DEMO_TABLES
    )
    assert sorted(documents["documentation"]) == sorted(
        (task_dir / f"{t}_detail.md").read_text(encoding="utf-8").strip() for t in DEMO_TABLES
    )
    assert sorted(json.loads(d)["sql"] for d in documents["sql"]) == sorted(p["sql"] for p in pairs)

    log_text = (task_dir / "data_pipeline.log").read_text(encoding="utf-8")
    assert "[ddl_generation] 开始执行步骤: ddl_generation" in log_text
    assert "s3cret-pw" not in log_text
    shared_log = Path(settings.log_dir) / "data_pipeline.log"
    assert "s3cret-pw" not in shared_log.read_text(encoding="utf-8")
