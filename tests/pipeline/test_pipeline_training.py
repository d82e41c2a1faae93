"""training_load and the vector routes, against the real vector store of the training service."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest

from citu.pipeline.engine import RunOptions
from fakes.pipeline_script import BUSINESS_CONTEXT, DEMO_TABLES, script_pipeline, valid_pair_count

BASE = "/api/v0/data_pipeline"


@pytest.fixture
def settings(settings):
    settings.pipeline_llm_retry_delay = 0.01
    return settings


@pytest.fixture
def pipeline(services):
    return services.pipeline


async def embedding_rows(settings) -> list[dict]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch(
            "SELECT e.id, c.name AS collection, e.document, e.cmetadata::text AS cmetadata, "
            "e.embedding::text AS embedding FROM langchain_pg_embedding e "
            "JOIN langchain_pg_collection c ON c.uuid = e.collection_id ORDER BY e.id"
        )
    finally:
        await conn.close()
    return [dict(row) for row in rows]


def by_collection(rows: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["collection"], []).append(row)
    return grouped


async def run(pipeline, task_id: str, options: RunOptions) -> dict:
    await (await pipeline.runner.execute(task_id, options))
    return await pipeline.task_status(task_id)


async def test_full_workflow_reaches_the_vector_store(pipeline, fake_llm, settings):
    script_pipeline(fake_llm)
    data = await pipeline.create_task(
        {"business_context": BUSINESS_CONTEXT, "db_name": "highway_db"}
    )
    task_id = data["task_id"]
    await pipeline.create_table_list(task_id, DEMO_TABLES)
    status = await run(pipeline, task_id, RunOptions())
    assert status["status"] == "completed", status
    assert set(status["step_status"].values()) == {"completed"}

    task_dir = pipeline.paths.task_dir(task_id)
    rows = await embedding_rows(settings)
    grouped = by_collection(rows)
    assert len(grouped["ddl"]) == len(DEMO_TABLES)
    assert len(grouped["documentation"]) == len(DEMO_TABLES)  # one section per table doc
    assert len(grouped["sql"]) == valid_pair_count()
    assert all(row["id"].endswith("-ddl") for row in grouped["ddl"])
    ddl_text = (
        (task_dir / "bss_company.ddl")
        .read_text(encoding="utf-8")
        .rstrip()
        .removesuffix(";")
        .strip()
    )
    assert ddl_text in [row["document"] for row in grouped["ddl"]]
    doc_text = (task_dir / "bss_company_detail.md").read_text(encoding="utf-8").strip()
    assert doc_text in [row["document"] for row in grouped["documentation"]]
    pair_file = next(task_dir.glob("qs_highway_db_*_pair.json"))
    pairs = json.loads(pair_file.read_text(encoding="utf-8"))
    stored = [json.loads(row["document"]) for row in grouped["sql"]]
    assert sorted(p["question"] for p in stored) == sorted(p["question"] for p in pairs)
    assert not any("metadata" in row["document"][:40] for row in grouped["documentation"])

    result = json.loads((task_dir / "task_result.json").read_text(encoding="utf-8"))
    load = result["artifacts"]["training_data_load"]
    assert load["loaded_counts"] == {"ddl": 8, "documentation": 8, "sql": valid_pair_count()}
    assert load["total_records"] == len(rows)
    assert load["data_type_counts"] == {"ddl": 8, "documentation": 8, "sql": valid_pair_count()}

    # Re-running the step adds nothing: training is idempotent.
    status = await run(pipeline, task_id, RunOptions(mode="step", step="training_load"))
    assert status["status"] == "completed"
    assert await embedding_rows(settings) == rows


async def test_training_load_backup_truncate_and_skip(pipeline, fake_llm, settings):
    data = await pipeline.create_task({"business_context": BUSINESS_CONTEXT})
    task_id = data["task_id"]
    task_dir = pipeline.paths.task_dir(task_id)
    (task_dir / "notes.md").write_text(
        "# 营收口径\n营收=pay_sum\n## 车流\n车流=customer_count\n", encoding="utf-8"
    )
    (task_dir / "extra_pair.sql").write_text(
        "Question: 公司数量\nSQL: SELECT COUNT(*) FROM bss_company;\n\nQuestion: 档口数量\nSQL: SELECT COUNT(*)\nFROM bss_branch;\n",
        encoding="utf-8",
    )
    (task_dir / "old.ddl_1").write_text("create table ignored();", encoding="utf-8")
    status = await run(pipeline, task_id, RunOptions(mode="step", step="training_load"))
    assert status["step_status"]["training_load"] == "completed", status
    rows = await embedding_rows(settings)
    assert sorted(row["document"] for row in by_collection(rows)["documentation"]) == [
        "# 营收口径\n营收=pay_sum",
        "## 车流\n车流=customer_count",
    ]
    assert len(by_collection(rows)["sql"]) == 2 and "ddl" not in by_collection(rows)

    # Backup + truncate: the CSVs hold the rows, then the embeddings are reloaded from the files.
    options = RunOptions(mode="step", step="training_load", truncate_vector_tables=True)
    status = await run(pipeline, task_id, options)
    assert status["step_status"]["training_load"] == "completed"
    backups = sorted((task_dir / "vector_bak").glob("langchain_pg_embedding_*.csv"))
    assert len(backups) == 1
    assert (
        backups[0].read_text(encoding="utf-8").splitlines()[0]
        == "id,collection_id,embedding,document,cmetadata"
    )
    log = (task_dir / "vector_bak" / "vector_backup_log.txt").read_text(encoding="utf-8")
    assert f"Task ID: {task_id}" in log and "TRUNCATED (4 rows removed)" in log
    result = json.loads((task_dir / "training_load_result.json").read_text(encoding="utf-8"))
    assert result["vector_management"]["truncate_performed"] is True
    assert len(await embedding_rows(settings)) == 4

    # skip_training: only the backup happens.
    await asyncio.sleep(1.1)
    options = RunOptions(
        mode="step", step="training_load", backup_vector_tables=True, skip_training=True
    )
    status = await run(pipeline, task_id, options)
    assert status["step_status"]["training_load"] == "completed"
    assert len(list((task_dir / "vector_bak").glob("langchain_pg_embedding_*.csv"))) == 2
    result = json.loads((task_dir / "training_load_result.json").read_text(encoding="utf-8"))
    assert result["skipped"] is True


async def test_training_load_without_files_fails(pipeline):
    data = await pipeline.create_task({})
    status = await run(pipeline, data["task_id"], RunOptions(mode="step", step="training_load"))
    assert status["status"] == "failed"
    assert status["steps"][3]["error_message"] == "训练数据加载失败：未找到可处理的训练文件"


async def seed_vectors(services) -> None:
    training = services.training
    await training.add_ddl("create table t1 (id int)")
    await training.add_documentation('## 文档\n说明, 含逗号和"引号"\n第二行')
    await training.add_question_sql("有多少公司？", "SELECT COUNT(*) FROM bss_company;")


async def test_backup_then_restore_round_trip(client, services, settings):
    await seed_vectors(services)
    before = await embedding_rows(settings)
    assert len(before) == 3

    response = await client.post(f"{BASE}/vector/backup", json={})
    assert response.status_code == 200
    data = (await response.get_json())["data"]
    assert data["backup_performed"] is True and data["truncate_performed"] is False
    assert data["backup_directory"] == "data_pipeline/training_data/vector_bak"
    assert data["tables_backed_up"]["langchain_pg_embedding"]["row_count"] == 3
    assert data["response"] == "Vector表备份完成"
    stamp = data["tables_backed_up"]["langchain_pg_collection"]["backup_file"][
        len("langchain_pg_collection_") : -4
    ]

    listing = (await (await client.get(f"{BASE}/vector/restore/list")).get_json())["data"]
    assert (
        listing["summary"]["total_backup_sets"] == 1 and listing["summary"]["global_backups"] == 1
    )
    location = listing["backup_locations"][0]
    assert (
        location["type"] == "global"
        and location["relative_path"] == "data_pipeline/training_data/vector_bak"
    )
    assert (
        location["backups"][0]["timestamp"] == stamp and location["backups"][0]["has_log"] is True
    )

    # Damage the store, then restore with truncate: identical rows come back.
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute("DELETE FROM langchain_pg_embedding WHERE id LIKE '%-ddl'")
        await conn.execute(
            "UPDATE langchain_pg_embedding SET document = 'changed' WHERE id LIKE '%-doc'"
        )
    finally:
        await conn.close()
    body = {
        "backup_path": location["relative_path"],
        "timestamp": stamp,
        "truncate_before_restore": True,
    }
    response = await client.post(f"{BASE}/vector/restore", json=body)
    assert response.status_code == 200, await response.get_data()
    data = (await response.get_json())["data"]
    assert data["restore_performed"] is True and data["errors"] == []
    assert data["restore_results"]["langchain_pg_embedding"]["rows_restored"] == 3
    assert data["truncate_results"]["langchain_pg_embedding"]["rows_before"] == 2
    assert data["backup_info"]["backup_date"][:4] == stamp[:4]
    assert await embedding_rows(settings) == before


async def test_restore_is_all_or_nothing(client, services, settings):
    await seed_vectors(services)
    backup_dir = Path(settings.data_dir) / "data_pipeline" / "training_data" / "vector_bak"
    backup_dir.mkdir(parents=True)
    rows = await embedding_rows(settings)
    conn = await asyncpg.connect(settings.database_url)
    try:
        collections = await conn.fetch("SELECT uuid, name FROM langchain_pg_collection")
    finally:
        await conn.close()
    (backup_dir / "langchain_pg_collection_20250101_000000.csv").write_text(
        "uuid,name,cmetadata\r\n" + "".join(f"{c['uuid']},{c['name']},\r\n" for c in collections),
        encoding="utf-8",
    )
    ddl_collection = next(c["uuid"] for c in collections if c["name"] == "ddl")
    dim = settings.embedding_dimension
    good = "[" + ",".join(["0.1"] * dim) + "]"
    # An old-format row (Python-repr cmetadata, CRLF) and a row with a broken vector.
    (backup_dir / "langchain_pg_embedding_20250101_000000.csv").write_text(
        "id,collection_id,embedding,document,cmetadata\r\n"
        f"old-1-ddl,{ddl_collection},\"{good}\",create table old_t (id int),\"{{'id': 'old-1-ddl'}}\"\r\n"
        f"bad-2-ddl,{ddl_collection},\"[1,2\",create table bad_t (id int),\"{{'id': 'bad-2-ddl'}}\"\r\n",
        encoding="utf-8",
    )
    body = {
        "backup_path": "data_pipeline/training_data/vector_bak",
        "timestamp": "20250101_000000",
        "truncate_before_restore": True,
    }
    response = await client.post(f"{BASE}/vector/restore", json=body)
    assert response.status_code == 500
    data = (await response.get_json())["data"]
    assert data["response"] == "Vector表恢复失败，所有更改已回滚"
    assert await embedding_rows(settings) == rows  # nothing truncated, nothing half-restored

    (backup_dir / "langchain_pg_embedding_20250101_000000.csv").write_text(
        "id,collection_id,embedding,document,cmetadata\r\n"
        f"old-1-ddl,{ddl_collection},\"{good}\",create table old_t (id int),\"{{'id': 'old-1-ddl', 'createdat': None}}\"\r\n",
        encoding="utf-8",
    )
    body["tables"] = ["langchain_pg_embedding"]
    body["truncate_before_restore"] = False
    response = await client.post(f"{BASE}/vector/restore", json=body)
    assert response.status_code == 200, await response.get_data()
    restored = {row["id"]: row for row in await embedding_rows(settings)}
    assert len(restored) == len(rows) + 1
    assert json.loads(restored["old-1-ddl"]["cmetadata"]) == {"id": "old-1-ddl", "createdat": None}


async def test_restore_validation(client):
    cases = [
        ({}, 400, "缺少必需参数: backup_path, timestamp"),
        ({"backup_path": "x", "timestamp": "t", "tables": "a"}, 400, "tables参数必须是数组格式"),
        (
            {"backup_path": "x", "timestamp": "2025"},
            400,
            "无效的timestamp格式，应为YYYYMMDD_HHMMSS",
        ),
        (
            {"backup_path": "x", "timestamp": "20250101_000000", "tables": ["users"]},
            400,
            "不支持的表名: ['users']",
        ),
        (
            {"backup_path": "data_pipeline/training_data/nowhere", "timestamp": "20250101_000000"},
            404,
            "备份目录不存在: data_pipeline/training_data/nowhere",
        ),
    ]
    for body, status, text in cases:
        response = await client.post(f"{BASE}/vector/restore", json=body)
        assert response.status_code == status, body
        assert (await response.get_json())["data"]["response"] == text


async def test_task_backup_and_listing(client, services):
    response = await client.post(f"{BASE}/tasks", json={})
    task_id = (await response.get_json())["data"]["task_id"]
    response = await client.post(f"{BASE}/vector/backup", json={"task_id": "task_19990101_000000"})
    assert response.status_code == 404
    response = await client.post(
        f"{BASE}/vector/backup", json={"task_id": task_id, "backup_vector_tables": False}
    )
    assert (await response.get_json())["data"]["backup_performed"] is False
    response = await client.post(f"{BASE}/vector/backup", json={"task_id": task_id})
    data = (await response.get_json())["data"]
    assert data["backup_directory"] == f"data_pipeline/training_data/{task_id}/vector_bak"
    listing = (
        await (
            await client.get(f"{BASE}/vector/restore/list", query_string={"task_id": task_id})
        ).get_json()
    )["data"]
    assert listing["backup_locations"][0]["task_id"] == task_id
    assert listing["response"] == "成功扫描到 1 个备份位置，共 1 个备份集"
    listing = (await (await client.get(f"{BASE}/vector/restore/list?global_only=true")).get_json())[
        "data"
    ]
    assert listing["backup_locations"] == [] and listing["response"] == "未找到任何可用的备份文件"
