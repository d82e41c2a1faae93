"""Every pipeline route: shapes, validation texts, and the defects the old service had."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage

from fakes.pipeline_script import BUSINESS_CONTEXT, DEMO_TABLES, script_pipeline

BASE = "/api/v0/data_pipeline"


@pytest.fixture
def settings(settings):
    settings.pipeline_llm_retry_delay = 0.01
    settings.pipeline_cancel_poll_seconds = 0.1
    return settings


def upload(content: bytes, name: str) -> dict:
    return {"file": FileStorage(io.BytesIO(content), filename=name)}


async def body_of(response) -> dict:
    return await response.get_json()


async def new_task(client, **extra) -> str:
    response = await client.post(
        f"{BASE}/tasks", json={"business_context": BUSINESS_CONTEXT, **extra}
    )
    assert response.status_code == 201
    return (await body_of(response))["data"]["task_id"]


async def run_to_end(client, task_id: str, body: dict) -> dict:
    response = await client.post(f"{BASE}/tasks/{task_id}/execute", json=body)
    assert response.status_code == 202, await response.get_data()
    for _ in range(600):
        data = (await body_of(await client.get(f"{BASE}/tasks/{task_id}")))["data"]
        if data["status"] != "in_progress":
            return data
        await asyncio.sleep(0.05)
    raise AssertionError("run did not finish")


def task_root(settings) -> Path:
    return Path(settings.data_dir) / "data_pipeline" / "training_data"


# ---- E1, E3, E5, E6 --------------------------------------------------------------------------


async def test_create_task_reply_and_row(client, settings):
    response = await client.post(
        f"{BASE}/tasks", json={"task_name": "高速", "db_name": "highway_db"}
    )
    assert response.status_code == 201
    body = await body_of(response)
    assert body["code"] == 200 and body["message"] == "操作成功"
    data = body["data"]
    assert data["task_id"].startswith("task_") and data["status"] == "pending"
    assert data["file_upload_mode"] is True
    assert (
        data["next_step"] == f"POST /api/v0/data_pipeline/tasks/{data['task_id']}/upload-table-list"
    )
    assert data["response"] == "任务创建成功，请上传表清单文件后再执行任务"
    assert (task_root(settings) / data["task_id"]).is_dir()

    status = (await body_of(await client.get(f"{BASE}/tasks/{data['task_id']}")))["data"]
    assert status["step_status"] == dict.fromkeys(
        ["ddl_generation", "qa_generation", "sql_validation", "training_load"], "pending"
    )
    assert status["total_steps"] == 4 and status["current_step"] is None
    assert status["parameters"]["business_context"] == "数据库管理系统"
    assert status["parameters"]["table_list_file"] == "{task_directory}/table_list.txt"
    assert status["response"] == "获取任务状态成功"


async def test_task_ids_never_collide(client):
    responses = await asyncio.gather(*(client.post(f"{BASE}/tasks", json={}) for _ in range(5)))
    ids = [(await body_of(r))["data"]["task_id"] for r in responses]
    assert all(r.status_code == 201 for r in responses)
    assert len(set(ids)) == 5


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"enable_sql_validation": "false"}, "enable_sql_validation"),
        ({"task_name": "x" * 256}, "task_name"),
        ({"table_list_file": "/etc/passwd"}, "table_list_file"),
        ({"db_connection": "mysql://x@y/z"}, "db_connection"),
    ],
)
async def test_create_task_rejects_bad_input(client, body, param):
    response = await client.post(f"{BASE}/tasks", json=body)
    assert response.status_code == 400
    assert (await body_of(response))["data"]["invalid_params"] == [param]


async def test_create_task_rejects_non_object_body(client):
    response = await client.post(f"{BASE}/tasks", data=b"[1, 2]")
    assert response.status_code == 400


async def test_get_unknown_task_and_reserved_segments(client):
    for segment in ("task_19990101_000000", "query", "active"):
        response = await client.get(f"{BASE}/tasks/{segment}")
        assert response.status_code == 404
        assert (await body_of(response))["data"]["response"] == f"任务不存在: {segment}"


async def test_list_tasks(client):
    first = await new_task(client, task_name="甲")
    second = await new_task(client, task_name="乙")
    data = (await body_of(await client.get(f"{BASE}/tasks?limit=1")))["data"]
    assert data["limit"] == 1 and data["offset"] == 0 and data["total"] == 1
    item = data["tasks"][0]
    assert item["task_id"] in (first, second)
    assert item["step_status"] == "pending" and item["created_by"] == "guest"
    assert item["business_context"] == BUSINESS_CONTEXT and item["directory_exists"] is True
    data = (await body_of(await client.get(f"{BASE}/tasks?status=completed")))["data"]
    assert data["tasks"] == []
    assert (await client.get(f"{BASE}/tasks?limit=-1")).status_code == 400
    # Not a number: the default, as the old service read it (out of range is still refused).
    data = (await body_of(await client.get(f"{BASE}/tasks?offset=abc")))["data"]
    assert data["offset"] == 0


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"page": 0}, "页码必须大于0"),
        ({"page_size": 101}, "每页大小必须在1-100之间"),
        ({"status": "weird"}, "不支持的状态值: weird"),
        ({"task_name": "x" * 101}, "任务名称搜索关键词最大长度为100字符"),
        ({"sort_by": "db_name"}, "不支持的排序字段: db_name"),
        ({"sort_order": "up"}, "排序方向必须是 'asc' 或 'desc'"),
        ({"created_time_start": "not a time"}, "时间格式无效: created_time_start"),
        ({"page": "2"}, "页码和每页大小必须是整数"),
    ],
)
async def test_query_tasks_validation(client, body, text):
    response = await client.post(f"{BASE}/tasks/query", json=body)
    assert response.status_code == 400
    assert (await body_of(response))["data"]["response"].startswith(text)


async def test_query_tasks_filters_and_pagination(client):
    for name in ("服务区_a", "服务区_b", "其他"):
        await new_task(client, task_name=name)
    body = {
        "task_name": "服务区_",
        "status": "pending",
        "page_size": 1,
        "page": 2,
        "sort_by": "task_name",
        "sort_order": "ASC",
        "created_time_start": "yesterday",
    }
    data = (await body_of(await client.post(f"{BASE}/tasks/query", json=body)))["data"]
    assert data["pagination"] == {
        "page": 2,
        "page_size": 1,
        "total": 2,
        "total_pages": 2,
        "has_next": False,
        "has_prev": True,
    }
    assert [t["task_name"] for t in data["tasks"]] == ["服务区_b"]
    assert data["filters_applied"]["task_name"] == "服务区_"
    assert data["sort_applied"] == {"sort_by": "task_name", "sort_order": "ASC"}
    # "_" is matched literally, not as a LIKE wildcard.
    data = (await body_of(await client.post(f"{BASE}/tasks/query", json={"task_name": "务区_"})))[
        "data"
    ]
    assert data["pagination"]["total"] == 2


# ---- E2 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "text", "key", "param"),
    [
        (
            {"execution_mode": "fast"},
            "无效的执行模式，必须是 'complete' 或 'step'",
            "invalid_params",
            "execution_mode",
        ),
        (
            {"execution_mode": "step"},
            "步骤执行模式需要指定step_name",
            "missing_params",
            "step_name",
        ),
        (
            {"execution_mode": "step", "step_name": "x"},
            "无效的步骤名称，支持的步骤: ddl_generation, qa_generation, sql_validation, training_load",
            "invalid_params",
            "step_name",
        ),
        (
            {"backup_vector_tables": "yes"},
            "参数 backup_vector_tables 必须是布尔值",
            "invalid_params",
            "backup_vector_tables",
        ),
    ],
)
async def test_execute_validation(client, body, text, key, param):
    task_id = await new_task(client)
    response = await client.post(f"{BASE}/tasks/{task_id}/execute", json=body)
    assert response.status_code == 400
    data = (await body_of(response))["data"]
    assert data["response"] == text and data[key] == [param]


async def test_execute_unknown_task_is_404(client):
    response = await client.post(f"{BASE}/tasks/task_19990101_000000/execute", json={})
    assert response.status_code == 404
    assert (await body_of(response))["data"]["response"] == "任务不存在: task_19990101_000000"


async def test_execute_without_table_list_fails_the_task(client):
    task_id = await new_task(client)
    status = await run_to_end(
        client, task_id, {"execution_mode": "step", "step_name": "ddl_generation"}
    )
    assert status["status"] == "failed"
    assert "表清单文件不存在" in status["steps"][0]["error_message"]


# ---- E9, E10, E11 ------------------------------------------------------------------------------


async def test_upload_table_list_and_info(client, settings):
    task_id = await new_task(client)
    info = (await body_of(await client.get(f"{BASE}/tasks/{task_id}/table-list-info")))["data"]
    assert info["has_file"] is False and info["exists"] is False
    assert not info["expected_path"].startswith("/")

    content = "# 表清单\n-- 注释\nbss_company, bss_branch\npublic.bss_car_day_count\n".encode("gbk")
    response = await client.post(
        f"{BASE}/tasks/{task_id}/upload-table-list", files=upload(content, "list.TXT")
    )
    assert response.status_code == 200
    data = (await body_of(response))["data"]
    assert data["filename"] == "table_list.txt" and data["response"] == "表清单文件上传成功"
    stored = (task_root(settings) / task_id / "table_list.txt").read_bytes()
    assert stored.decode("utf-8").startswith("# 表清单")  # transcoded from GBK

    info = (await body_of(await client.get(f"{BASE}/tasks/{task_id}/table-list-info")))["data"]
    assert info["has_file"] is True and info["table_count"] == 3
    assert info["table_names"] == ["bss_company", "bss_branch", "public.bss_car_day_count"]


@pytest.mark.parametrize(
    ("content", "name", "text"),
    [
        (b"bss_company", "list.csv", "不支持的文件类型，仅支持: .txt"),
        (b"", "list.txt", "文件为空，请选择有效的表清单文件"),
        (b"   \n  ", "list.txt", "表清单文件为空"),
        (b"# only comments\n", "list.txt", "表清单文件不包含有效的表名"),
        (
            b"ok_table\nbad-name\n1abc\nx;drop",
            "list.txt",
            "表清单文件包含无效的表名格式: bad-name, 1abc, x;drop",
        ),
        (b"\xff\xfe\xfa\xfb", "list.txt", "文件编码错误，请确保文件为UTF-8或GBK格式"),
        (b"a" * (2 * 1024 * 1024 + 1), "list.txt", "文件大小超过限制: 2MB"),
    ],
)
async def test_upload_table_list_rejections(client, content, name, text):
    task_id = await new_task(client)
    response = await client.post(
        f"{BASE}/tasks/{task_id}/upload-table-list", files=upload(content, name)
    )
    assert response.status_code == 400
    assert (await body_of(response))["data"]["response"] == text


async def test_upload_table_list_needs_a_file_and_a_task(client):
    task_id = await new_task(client)
    response = await client.post(f"{BASE}/tasks/{task_id}/upload-table-list", form={"x": "1"})
    assert response.status_code == 400
    assert (await body_of(response))["data"]["missing_params"] == ["file"]
    response = await client.post(
        f"{BASE}/tasks/task_19990101_000000/upload-table-list", files=upload(b"a", "a.txt")
    )
    assert response.status_code == 404


async def test_create_table_list_from_names(client, settings):
    task_id = await new_task(client)
    response = await client.post(
        f"{BASE}/tasks/{task_id}/table-list",
        json={"tables": "bss_company, bss_branch,bss_company, #skip, public.bss_car_day_count"},
    )
    data = (await body_of(response))["data"]
    assert (
        data["table_count"] == 3 and data["unique_table_count"] == 3 and data["original_count"] == 5
    )
    assert data["response"] == "表清单已成功创建，包含 3 个表"
    text = (task_root(settings) / task_id / "table_list.txt").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "# 表清单文件" and lines[2] == "# 表数量: 3" and lines[3] == ""
    assert lines[4:] == ["bss_company", "bss_branch", "public.bss_car_day_count"]

    for body, text in [
        ({}, "缺少必需参数：tables"),
        ({"tables": 5}, "tables参数格式错误，应为字符串（逗号分隔）或数组"),
        ({"tables": [" ", ""]}, "表名列表不能为空"),
        ({"tables": ["ok", "no way"]}, "包含无效的表名格式: no way"),
        ({"tables": ["#a"]}, "表名数量不能少于 1 个"),
    ]:
        response = await client.post(f"{BASE}/tasks/{task_id}/table-list", json=body)
        assert response.status_code == 400, body
        assert (await body_of(response))["data"]["response"] == text


# ---- E7, E8, E12 -------------------------------------------------------------------------------


async def test_files_upload_list_download(client, settings):
    task_id = await new_task(client)
    response = await client.post(
        f"{BASE}/tasks/{task_id}/files", files=upload(b"create table x();", "extra.ddl")
    )
    data = (await body_of(response))["data"]
    assert (
        data["uploaded_file"]["filename"] == "extra.ddl"
        and data["uploaded_file"]["overwrite_mode"] == "backup"
    )
    assert "backup_info" not in data

    response = await client.post(f"{BASE}/tasks/{task_id}/files", files=upload(b"v2", "extra.ddl"))
    data = (await body_of(response))["data"]
    assert data["backup_info"]["backup_filename"] == "extra.ddl_bak1"
    assert data["backup_info"]["backup_version"] == 1

    response = await client.post(
        f"{BASE}/tasks/{task_id}/files",
        files=upload(b"v3", "extra.ddl"),
        form={"overwrite_mode": "skip"},
    )
    data = (await body_of(response))["data"]
    assert data["skipped"] is True and data["response"] == "文件已存在，跳过上传: extra.ddl"

    response = await client.post(
        f"{BASE}/tasks/{task_id}/files",
        files=upload(b"v4", "extra.ddl"),
        form={"overwrite_mode": "replace"},
    )
    assert "backup_info" not in (await body_of(response))["data"]

    listing = (await body_of(await client.get(f"{BASE}/tasks/{task_id}/files")))["data"]
    names = {f["file_name"]: f for f in listing["files"]}
    assert set(names) == {"extra.ddl", "extra.ddl_bak1"}
    assert (
        names["extra.ddl"]["file_type"] == "ddl" and names["extra.ddl_bak1"]["file_type"] == "other"
    )
    assert names["extra.ddl"]["file_size_formatted"] == "2.0 B"
    assert listing["directory_info"]["total_files"] == 2
    assert not listing["directory_info"]["directory_path"].startswith("/")

    response = await client.get(f"{BASE}/tasks/{task_id}/files/extra.ddl")
    assert response.status_code == 200 and await response.get_data() == b"v4"
    assert "attachment" in response.headers["Content-Disposition"]
    response = await client.get(f"{BASE}/tasks/{task_id}/files/missing.txt")
    assert response.status_code == 404
    assert (await body_of(response))["data"]["response"] == "文件不存在: missing.txt"


@pytest.mark.parametrize(
    ("name", "form", "text"),
    [
        ("x.exe", {}, "不支持的文件类型: .exe"),
        (
            "x.txt",
            {"overwrite_mode": "merge"},
            "无效的overwrite_mode参数: merge，支持的值: ['backup', 'replace', 'skip']",
        ),
        ("empty.txt", {}, "文件为空"),
    ],
)
async def test_upload_file_rejections(client, name, form, text):
    task_id = await new_task(client)
    content = b"" if name == "empty.txt" else b"data"
    response = await client.post(
        f"{BASE}/tasks/{task_id}/files", files=upload(content, name), form=form
    )
    assert response.status_code == 400
    assert (await body_of(response))["data"]["response"].startswith(text)


async def test_upload_file_size_limit(client, settings):
    settings.pipeline_upload_max_bytes = 10
    task_id = await new_task(client)
    response = await client.post(
        f"{BASE}/tasks/{task_id}/files", files=upload(b"x" * 11, "big.txt")
    )
    assert response.status_code == 400
    assert (await body_of(response))["data"]["response"].startswith("文件大小超出限制")


# ---- E13 ---------------------------------------------------------------------------------------


async def test_delete_tasks(client, settings, services):
    keep = await new_task(client)
    gone = await new_task(client)
    (task_root(settings) / gone / "a.txt").write_text("12345")
    response = await client.delete(f"{BASE}/tasks", json={"task_ids": [gone], "confirm": True})
    data = (await body_of(response))["data"]
    assert data["response"] == "目录删除成功"
    item = data["deleted_tasks"][0]
    assert item["directory_deleted"] is True and item["deleted_files_count"] == 1
    assert item["deleted_size"] == "5 B" and item["database_records_deleted"] is False
    assert not (task_root(settings) / gone).exists() and (task_root(settings) / keep).exists()
    listed = (await body_of(await client.get(f"{BASE}/tasks")))["data"]["tasks"]
    assert {t["task_id"]: t["directory_exists"] for t in listed}[gone] is False

    response = await client.delete(
        f"{BASE}/tasks?task_ids[]={gone}&task_ids[]={keep}&confirm=true&delete_database_records=1"
    )
    data = (await body_of(response))["data"]
    assert data["response"] == "批量操作完成：1个目录已删除，1个目录不存在"
    assert data["summary"] == {"total_requested": 2, "successfully_deleted": 2, "failed": 0}
    assert not await services.pipeline.store.exists(keep)


@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"confirm": True}, "缺少必需参数: task_ids"),
        ({"task_ids": ["task_1"]}, "缺少必需参数: confirm"),
        ({"task_ids": ["task_1"], "confirm": "sure"}, "confirm参数必须为true以确认删除操作"),
        ({"task_ids": "task_1", "confirm": True}, "task_ids必须是非空的任务ID列表"),
    ],
)
async def test_delete_tasks_validation(client, params, text):
    response = await client.delete(f"{BASE}/tasks", json=params)
    assert response.status_code == 400
    assert (await body_of(response))["data"]["response"] == text


# ---- E4, E14 -----------------------------------------------------------------------------------


async def test_logs_and_log_query(client, fake_llm):
    script_pipeline(fake_llm)
    task_id = await new_task(client)
    await client.post(
        f"{BASE}/tasks/{task_id}/table-list", json={"tables": ["bss_company", "no_such_table"]}
    )
    status = await run_to_end(
        client, task_id, {"execution_mode": "step", "step_name": "ddl_generation"}
    )
    assert status["status"] == "partial_completed"

    data = (await body_of(await client.get(f"{BASE}/tasks/{task_id}/logs?limit=3")))["data"]
    assert data["total"] == 3 and data["source"] == "file"
    assert data["log_file"] == f"data_pipeline/training_data/{task_id}/data_pipeline.log"
    entry = data["logs"][0]
    assert set(entry) == {"timestamp", "level", "logger", "message"}
    errors = (await body_of(await client.get(f"{BASE}/tasks/{task_id}/logs?level=error")))["data"]
    assert errors["logs"] and all(e["level"] == "ERROR" for e in errors["logs"])
    assert (await client.get(f"{BASE}/tasks/{task_id}/logs?limit=0")).status_code == 400

    body = {
        "step_name": "ddl_generation",
        "keyword": "no_such_table",
        "sort_order": "asc",
        "page_size": 1,
    }
    response = await client.post(f"{BASE}/tasks/{task_id}/logs/query", json=body)
    data = (await body_of(response))["data"]
    assert data["pagination"]["total"] >= 1 and len(data["logs"]) == 1
    assert data["logs"][0]["step"] == "ddl_generation" and data["logs"][0]["line_number"] >= 1
    assert data["log_file_info"]["exists"] is True
    body = {"start_time": "2999-01-01", "end_time": "2999-01-02T00:00:00"}
    data = (await body_of(await client.post(f"{BASE}/tasks/{task_id}/logs/query", json=body)))[
        "data"
    ]
    assert data["logs"] == []

    for bad, text in [
        ({"page": 0}, "页码必须是大于0的整数"),
        ({"page_size": 501}, "每页大小必须是1-500之间的整数"),
        ({"level": "TRACE"}, "日志级别必须是DEBUG、INFO、WARNING、ERROR、CRITICAL之一"),
        ({"start_time": "07/21/2025"}, "开始时间格式无效"),
        ({"keyword": "k" * 201}, "关键字长度不能超过200个字符"),
        ({"sort_by": "file"}, "排序字段必须是以下之一"),
        ({"sort_order": "ASC"}, "排序方向必须是asc或desc"),
    ]:
        response = await client.post(f"{BASE}/tasks/{task_id}/logs/query", json=bad)
        assert response.status_code == 400, bad
        assert (await body_of(response))["data"]["response"].startswith(text)
    response = await client.post(f"{BASE}/tasks/task_19990101_000000/logs/query", json={})
    assert response.status_code == 404


# ---- E15, E16 ----------------------------------------------------------------------------------


async def test_database_tables(client):
    data = (await body_of(await client.post("/api/v0/database/tables", json={})))["data"]
    assert data["tables"] == sorted(f"public.{t}" for t in DEMO_TABLES)
    assert data["schemas"] == ["public"] and data["total"] == len(DEMO_TABLES)
    assert "table_name_pattern" not in data
    body = {"table_name_pattern": "bss_service*", "schema": "public, other"}
    data = (await body_of(await client.post("/api/v0/database/tables", json=body)))["data"]
    assert data["tables"] == [
        "public.bss_service_area",
        "public.bss_service_area_mapper",
    ]
    assert data["schemas"] == ["public", "other"] and data["table_name_pattern"] == "bss_service*"
    response = await client.post("/api/v0/database/tables", json={"schema": 3})
    assert response.status_code == 400


async def test_table_ddl_variants(client):
    body = {"table": "public.bss_car_day_count", "type": "both"}
    data = (await body_of(await client.post("/api/v0/database/table/ddl", json=body)))["data"]
    assert data["response"] == "获取表BOTH成功"
    assert (
        data["ddl"].startswith("-- 中文名: ")
        and "create table public.bss_car_day_count (" in data["ddl"]
    )
    assert data["md"].startswith("## bss_car_day_count（")
    assert data["table_info"]["full_name"] == "public.bss_car_day_count"
    assert data["table_info"]["row_count"] > 0 and data["table_info"]["field_count"] == len(
        data["fields"]
    )
    car_type = next(f for f in data["fields"] if f["name"] == "car_type")
    assert car_type["type"] == "character varying" and car_type["is_enum"] is True
    assert data["generation_info"]["has_llm_comments"] is False

    data = (
        await body_of(
            await client.post("/api/v0/database/table/ddl", json={"table": "bss_company"})
        )
    )["data"]
    assert "ddl" in data and "md" not in data and data["response"] == "获取表DDL成功"

    response = await client.post(
        "/api/v0/database/table/ddl", json={"table": "bss_company", "type": "xml"}
    )
    assert response.status_code == 400
    assert (await body_of(response))["data"][
        "response"
    ] == "无效的type参数: xml，支持的值: ['ddl', 'md', 'both']"
    response = await client.post("/api/v0/database/table/ddl", json={})
    assert (await body_of(response))["data"]["missing_params"] == ["table"]
    response = await client.post("/api/v0/database/table/ddl", json={"table": "nope", "type": "md"})
    assert response.status_code == 404
    assert (await body_of(response))["data"]["response"] == (
        "获取表MD失败: 获取表结构失败: 表 public.nope 不存在或无权限访问"
    )


async def test_table_ddl_asks_the_llm_only_for_missing_comments(client, fake_llm, business_db_url):
    import asyncpg

    conn = await asyncpg.connect(business_db_url)
    try:
        # Its own schema: other tests list the public tables of this shared database.
        await conn.execute("CREATE SCHEMA IF NOT EXISTS scratch")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS scratch.bare_t (id int PRIMARY KEY, kind varchar(10))"
        )
    finally:
        await conn.close()
    answer = {
        "table_comment": "表注释: 裸表，用于测试",
        "fields": [{"name": "kind", "comment": "种类"}, {"name": "ghost", "comment": "不存在"}],
    }
    fake_llm.when(
        "补全缺失的中文注释", "```json\n" + json.dumps(answer, ensure_ascii=False) + "\n```"
    )
    body = {"table": "scratch.bare_t", "business_context": BUSINESS_CONTEXT}
    data = (await body_of(await client.post("/api/v0/database/table/ddl", json=body)))["data"]
    assert data["ddl"].startswith("-- 中文名: 裸表\n-- 描述: 裸表，用于测试\n")
    assert data["table_info"]["comment"] == "裸表，用于测试"
    fields = {f["name"]: f["comment"] for f in data["fields"]}
    assert fields == {"id": None, "kind": "种类"}
    assert data["generation_info"]["has_llm_comments"] is True

    fake_llm.reset()
    fake_llm.when("补全缺失的中文注释", "抱歉，我暂时无法回答您的问题。请稍后再试。")
    data = (await body_of(await client.post("/api/v0/database/table/ddl", json=body)))["data"]
    assert data["table_info"]["comment"] is None  # an apology never becomes a comment
    assert data["ddl"].startswith("-- 中文名: bare_t\ncreate table scratch.bare_t (")


async def test_unreachable_business_database(client):
    closed = "postgresql://postgres:pw@127.0.0.1:1/nowhere"
    response = await client.post("/api/v0/database/tables", json={"db_connection": closed})
    assert response.status_code == 500
    body = await response.get_json()
    assert body["data"]["response"] == "获取表列表失败: 数据库连接或查询失败"
    task_id = await new_task(client, db_connection=closed)
    await client.post(f"{BASE}/tasks/{task_id}/table-list", json={"tables": ["bss_company"]})
    status = await run_to_end(client, task_id, {})
    assert status["status"] == "failed"
    assert status["error_message"].startswith("[ddl_generation] 无法连接到业务数据库")
    assert status["parameters"]["db_connection"] == "postgresql://postgres:***@127.0.0.1:1/nowhere"
    assert "pw@" not in json.dumps(status)


async def test_oversized_upload_is_413(app, client):
    task_id = await new_task(client)
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = await client.post(
        f"{BASE}/tasks/{task_id}/files", files=upload(b"x" * 5000, "big.txt")
    )
    assert response.status_code == 413
    assert (await body_of(response))["data"]["response"] == "请求体过大"
