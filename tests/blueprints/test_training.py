"""The training blueprint end to end: real pgvector store, fake embeddings and LLM."""

from __future__ import annotations

import io
import json

from werkzeug.datastructures import FileStorage

from citu.app import create_app

SQL_A = "SELECT service_name AS 服务区名称, SUM(pay_sum) AS 总收入 FROM bss_business_day_data GROUP BY service_name;"
SQL_B = "SELECT count(*) AS 服务区数量 FROM bss_service_area;"


async def post(client, path, body):
    response = await client.post(path, json=body)
    return response.status_code, await response.get_json()


async def create(client, *items):
    return await post(client, "/api/v0/training_data/create", {"data": list(items)})


async def row_count(services) -> int:
    return await services.db.fetchval("SELECT count(*) FROM langchain_pg_embedding")


# ---- create / stats / query -------------------------------------------------------------------


async def test_create_each_type_then_stats(client, services):
    status, body = await create(
        client,
        {"training_data_type": "sql", "question": "各服务区总收入是多少？", "sql": SQL_A},
        {"training_data_type": "error_sql", "question": "服务区数量", "sql": "SELEC x"},
        {"training_data_type": "documentation", "content": "## 服务区\n服务区即高速公路休息区。"},
        {"training_data_type": "ddl", "ddl": "CREATE TABLE t (id int)"},
    )
    assert status == 200 and body["code"] == 200, body
    data = body["data"]
    assert data["successfully_created"] == 4 and data["failed_count"] == 0
    assert data["summary"] == {"sql": 1, "documentation": 1, "ddl": 1, "error_sql": 1}
    assert data["current_total_count"] == 4 and data["response"] == "训练数据创建完成"
    suffixes = [res["training_id"].rsplit("-", 1)[-1] for res in data["results"]]
    assert suffixes == ["sql", "error_sql", "doc", "ddl"]
    assert data["results"][0]["message"] == "sql训练数据创建成功"

    body = await (await client.get("/api/v0/training_data/stats")).get_json()
    assert body["data"]["total_count"] == 4
    assert body["data"]["type_breakdown"] == {
        "sql": 1,
        "documentation": 1,
        "ddl": 1,
        "error_sql": 1,
    }
    assert body["data"]["type_percentages"]["sql"] == 25.0


async def test_stats_when_empty(client):
    body = await (await client.get("/api/v0/training_data/stats")).get_json()
    assert body["data"]["total_count"] == 0
    assert body["data"]["type_percentages"] == {
        "sql": 0.0,
        "documentation": 0.0,
        "ddl": 0.0,
        "error_sql": 0.0,
    }


async def test_create_is_idempotent(client, services):
    item = {"training_data_type": "sql", "question": "服务区有多少个？", "sql": SQL_B}
    _, first = await create(client, item)
    spaced = {**item, "question": "  服务区有多少个？ ", "sql": SQL_B.replace(" ", "  ")}
    status, second = await create(client, spaced, item)
    assert status == 200
    ids = {first["data"]["results"][0]["training_id"]}
    ids |= {res["training_id"] for res in second["data"]["results"]}
    assert len(ids) == 1
    assert [res["duplicate"] for res in second["data"]["results"]] == [True, True]
    assert second["data"]["newly_stored"] == 0 and second["data"]["duplicates"] == 2
    assert await row_count(services) == 1


async def test_create_partial_and_total_failure_keep_old_statuses(client, services):
    status, body = await create(
        client,
        {"training_data_type": "ddl", "ddl": "CREATE TABLE a (id int)"},
        {"training_data_type": "sql", "question": "删掉", "sql": "DELETE FROM bss_company"},
        {"training_data_type": "nope"},
        "not an object",
    )
    assert status == 207 and body["code"] == 500 and body["success"] is False
    assert body["data"]["response"] == "训练数据创建部分成功，成功1条，失败3条"
    failed = body["data"]["results"][1:]
    assert failed[0]["error"].startswith('在训练集中禁止使用"UPDATE,DELETE,ALERT,DROP"')
    assert failed[1]["error"] == "不支持的训练数据类型: nope" and failed[1]["type"] == "nope"
    assert failed[2]["type"] == "unknown" and failed[2]["message"] == "创建失败"

    # A NUL character anywhere in a JSON body refuses the whole request (PostgreSQL text).
    status, body = await create(client, {"training_data_type": "documentation", "content": "\x00 "})
    assert status == 400 and "NUL" in body["data"]["response"]
    status, body = await create(client, {"training_data_type": "ddl"})
    assert status == 400 and body["code"] == 500
    assert body["data"]["results"][0]["error"] == "ddl字段是必需的"
    assert await row_count(services) == 1


async def test_create_validation(client):
    status, body = await post(client, "/api/v0/training_data/create", {})
    assert status == 400 and body["data"]["missing_params"] == ["data"]
    status, body = await post(client, "/api/v0/training_data/create", {"data": "x"})
    assert status == 400 and body["data"]["response"] == "data字段格式错误，应为对象或数组"
    many = [{"training_data_type": "ddl", "ddl": f"CREATE TABLE t{i} (id int)"} for i in range(51)]
    status, body = await post(client, "/api/v0/training_data/create", {"data": many})
    assert status == 400 and body["data"]["response"] == "批量操作最大支持50条记录"


async def test_sql_without_question_gets_generated_question(client, services, fake_llm):
    fake_llm.reply("<think>看一下</think>\n各服务区的总收入是多少")
    status, body = await create(client, {"training_data_type": "sql", "sql": SQL_A})
    assert status == 200, body
    result = body["data"]["results"][0]
    assert result["generated_question"] == "各服务区的总收入是多少?"
    document = await services.db.fetchval("SELECT document FROM langchain_pg_embedding")
    assert json.loads(document) == {"question": "各服务区的总收入是多少?", "sql": SQL_A}
    assert SQL_A in fake_llm.last_request["messages"][-1]["content"]


async def test_sql_without_question_and_without_llm_is_refused(settings):
    settings.llm_base_url = None
    app = create_app(settings)
    async with app.test_app():
        client = app.test_client()
        status, body = await create(client, {"training_data_type": "sql", "sql": SQL_A})
        assert status == 400
        assert "未配置LLM" in body["data"]["results"][0]["error"]
        status, body = await post(client, "/api/v0/citu_train_question_sql", {"sql": SQL_A})
        assert status == 400 and "未配置LLM" in body["data"]["response"]
        assert (
            await app.extensions["citu"].db.fetchval("SELECT count(*) FROM langchain_pg_embedding")
            == 0
        )


async def test_query_filters_search_sort_and_pages(client):
    items = [
        {
            "training_data_type": "sql",
            "question": f"问题{i}：宜春服务区",
            "sql": f"SELECT {i} AS 值",
        }
        for i in range(5)
    ]
    items += [
        {"training_data_type": "ddl", "ddl": "CREATE TABLE yichun (id int)"},
        {"training_data_type": "documentation", "content": "宜春是一个城市"},
    ]
    await create(client, *items)

    status, body = await post(
        client,
        "/api/v0/training_data/query",
        {"training_data_type": "sql", "search_keyword": "宜春", "page": 2, "page_size": 2},
    )
    assert status == 200
    data = body["data"]
    assert data["pagination"] == {
        "page": 2,
        "page_size": 2,
        "total": 5,
        "total_pages": 3,
        "has_next": True,
        "has_prev": True,
    }
    assert data["filters_applied"] == {"training_data_type": "sql", "search_keyword": "宜春"}
    assert data["response"] == "查询成功，共找到 5 条记录"
    record = data["records"][0]
    assert set(record) == {"id", "question", "content", "training_data_type"}
    assert record["content"].startswith("SELECT") and "宜春" in record["question"]

    _, body = await post(client, "/api/v0/training_data/query", {"search_keyword": "YICHUN"})
    assert [r["training_data_type"] for r in body["data"]["records"]] == ["ddl"]
    assert body["data"]["records"][0]["question"] is None

    _, body = await post(
        client, "/api/v0/training_data/query", {"sort_by": "id", "sort_order": "ASC"}
    )
    ids = [r["id"] for r in body["data"]["records"]]
    assert ids == sorted(ids) and len(ids) == 7

    _, body = await post(client, "/api/v0/training_data/query", {"page": 9, "page_size": 5})
    assert body["data"]["records"] == [] and body["data"]["pagination"]["total"] == 7
    assert body["data"]["pagination"]["has_next"] is False

    _, body = await post(client, "/api/v0/training_data/query", {"search_keyword": "100%_"})
    assert body["data"]["records"] == [] and body["data"]["response"] == "查询成功，共找到 0 条记录"


async def test_query_empty_store_and_validation(client):
    status, body = await post(client, "/api/v0/training_data/query", {})
    assert status == 200 and body["data"]["response"] == "查询成功，暂无训练数据"
    assert body["data"]["pagination"]["total_pages"] == 0
    for payload, text, field in [
        ({"page": 0}, "页码必须大于0", "page"),
        ({"page_size": 101}, "每页大小必须在1-100之间", "page_size"),
        ({"search_keyword": "x" * 101}, "搜索关键词最大长度为100字符", "search_keyword"),
    ]:
        status, body = await post(client, "/api/v0/training_data/query", payload)
        assert status == 400 and body["data"]["response"] == text
        assert body["data"]["missing_params"] == [field]
    status, body = await post(client, "/api/v0/training_data/query", {"page": "abc"})
    assert status == 400 and body["data"]["invalid_params"] == ["page"]


# ---- delete / update ----------------------------------------------------------------------------


async def test_delete(client, services):
    _, body = await create(
        client,
        {"training_data_type": "ddl", "ddl": "CREATE TABLE a (id int)"},
        {"training_data_type": "ddl", "ddl": "CREATE TABLE b (id int)"},
    )
    a, b = (res["training_id"] for res in body["data"]["results"])

    status, body = await post(client, "/api/v0/training_data/delete", {"ids": [a]})
    assert status == 400 and body["data"]["response"] == "删除操作需要确认，请设置confirm为true"
    status, body = await post(
        client, "/api/v0/training_data/delete", {"ids": [a, "missing-ddl", a], "confirm": True}
    )
    assert status == 207 and body["code"] == 500
    assert body["data"]["deleted_ids"] == [a] and body["data"]["failed_ids"] == ["missing-ddl", a]
    assert body["data"]["failed_details"][0] == {
        "id": "missing-ddl",
        "error": "记录不存在或删除失败",
    }
    assert body["data"]["current_total_count"] == 1

    status, body = await post(client, "/api/v0/training_data/delete", {"ids": [b], "confirm": True})
    assert status == 200 and body["data"]["response"] == "训练数据删除完成"
    status, body = await post(client, "/api/v0/training_data/delete", {"ids": [b], "confirm": True})
    assert status == 400 and body["code"] == 500 and body["data"]["response"] == "训练数据删除失败"
    status, body = await post(client, "/api/v0/training_data/delete", {"ids": []})
    assert status == 400 and body["data"]["missing_params"] == ["ids"]
    assert await row_count(services) == 0


async def test_update_replaces_in_one_step(client, services, fake_llm):
    _, body = await create(
        client, {"training_data_type": "sql", "question": "服务区数量？", "sql": SQL_B}
    )
    old = body["data"]["results"][0]["training_id"]

    status, body = await post(
        client,
        "/api/v0/training_data/update",
        {"id": old, "training_data_type": "sql", "question": "一共有多少服务区？", "sql": SQL_B},
    )
    assert status == 200, body
    new = body["data"]["new_training_id"]
    assert new != old and body["data"]["original_id"] == old and body["data"]["type"] == "sql"
    assert body["data"]["current_total_count"] == 1
    stored = await services.db.fetchval("SELECT id FROM langchain_pg_embedding")
    assert stored == new

    # Invalid new content, or an embedding failure, leave the record in place.
    status, body = await post(
        client,
        "/api/v0/training_data/update",
        {"id": new, "training_data_type": "sql", "question": "x", "sql": "DROP TABLE bss_company"},
    )
    assert status == 400 and body["data"]["invalid_params"] == ["sql"]
    fake_llm.fail(500, endpoint="embeddings")
    status, body = await post(
        client,
        "/api/v0/training_data/update",
        {"id": new, "training_data_type": "documentation", "content": "新的文档"},
    )
    assert status == 503, body
    status, body = await post(
        client, "/api/v0/training_data/update", {"id": new, "training_data_type": "ddl"}
    )
    assert status == 400 and body["data"]["missing_params"] == ["ddl"]
    assert await services.db.fetchval("SELECT id FROM langchain_pg_embedding") == new

    # Same content again: the row is kept under its (content-derived) id.
    status, body = await post(
        client,
        "/api/v0/training_data/update",
        {"id": new, "training_data_type": "sql", "question": "一共有多少服务区？", "sql": SQL_B},
    )
    assert status == 200 and body["data"]["new_training_id"] == new
    assert await row_count(services) == 1


async def test_update_validation(client):
    status, body = await post(client, "/api/v0/training_data/update", {"training_data_type": "sql"})
    assert status == 400 and body["data"]["missing_params"] == ["id"]
    status, body = await post(client, "/api/v0/training_data/update", {"id": "x-sql"})
    assert status == 400 and body["data"]["missing_params"] == ["training_data_type"]
    status, body = await post(
        client,
        "/api/v0/training_data/update",
        {"id": "nope-sql", "training_data_type": "ddl", "ddl": "CREATE TABLE a (id int)"},
    )
    assert status == 400 and body["data"]["response"] == "原始记录 nope-sql 不存在或删除失败"


# ---- upload --------------------------------------------------------------------------------------


async def upload(client, file_type, name, content: bytes):
    files = {"file": FileStorage(io.BytesIO(content), filename=name)}
    form = {"file_type": file_type} if file_type else {}
    response = await client.post("/api/v0/training_data/upload", files=files, form=form)
    return response.status_code, await response.get_json()


async def stored(services, collection):
    rows = await services.db.fetch(
        "SELECT e.document FROM langchain_pg_embedding e JOIN langchain_pg_collection c"
        " ON c.uuid = e.collection_id WHERE c.name = $1 ORDER BY e.document",
        collection,
    )
    return [r["document"] for r in rows]


async def test_upload_ddl(client, services):
    content = (
        "-- 服务区表\nCREATE TABLE a (id int, note text DEFAULT 'x;y');\n"
        "COMMENT ON TABLE a IS '服务区';\n\nCREATE TABLE b (id int);\n"
    ).encode()
    status, body = await upload(client, "ddl", "schema.ddl", content)
    assert status == 200 and body["code"] == 200, body
    data = body["data"]
    assert (
        data["status"] == "completed"
        and data["stored_count"] == 3
        and data["file_size"] == len(content)
    )
    assert data["response"] == "文件上传并训练成功：schema.ddl"
    docs = await stored(services, "ddl")
    assert "-- 服务区表\nCREATE TABLE a (id int, note text DEFAULT 'x;y')" in docs
    # The same file again stores nothing new.
    _, body = await upload(client, "ddl", "schema.ddl", content)
    assert body["data"]["stored_count"] == 0 and body["data"]["duplicate_count"] == 3
    assert len(await stored(services, "ddl")) == 3


async def test_upload_markdown_splits_on_headings(client, services):
    content = "\ufeff# 总览\n介绍\n## 服务区\n说明一\n---\n### 档口\n说明二\n#### 细节\n".encode()
    status, body = await upload(client, "markdown", "训练说明.md", content)
    assert status == 200 and body["code"] == 200, body
    assert body["data"]["filename"] == "训练说明.md" and body["data"]["stored_count"] == 3
    docs = await stored(services, "documentation")
    assert "## 服务区\n说明一\n---" in docs and "### 档口\n说明二\n#### 细节" in docs


async def test_upload_sql_pair_json(client, services):
    pairs = [
        {"Question": "服务区数量？", "SQL": SQL_B},
        {"question": "总收入？", "sql": SQL_A},
        {"question": "", "sql": SQL_A},
        {"question": "删除", "sql": "DELETE FROM bss_company"},
    ]
    status, body = await upload(client, "sql_pair_json", "pairs.json", json.dumps(pairs).encode())
    assert status == 200 and body["data"]["status"] == "partially_completed", body
    assert body["data"]["stored_count"] == 2 and body["data"]["failed_count"] == 1
    failed = [r for r in body["data"]["results"] if not r["success"]]
    assert [r["index"] for r in failed] == [2] and "禁止" in failed[0]["error"]
    assert body["data"]["results"][0]["training_id"].endswith("-sql")
    assert {json.loads(d)["question"] for d in await stored(services, "sql")} == {
        "服务区数量？",
        "总收入？",
    }


async def test_upload_sql_pair_text(client, services):
    content = (
        "Question: 服务区数量？\nSQL: SELECT count(*)\n  FROM bss_service_area;\n\n"
        "question:总收入？\nsql:" + SQL_A + "\n"
    ).encode()
    status, body = await upload(client, "sql_pair", "pairs.txt", content)
    assert status == 200 and body["data"]["stored_count"] == 2, body
    docs = [json.loads(d) for d in await stored(services, "sql")]
    assert {"question": "服务区数量？", "sql": "SELECT count(*)\n  FROM bss_service_area;"} in docs


async def test_upload_sql_generates_questions(client, services, fake_llm):
    fake_llm.when("bss_service_area", "服务区有多少个")
    fake_llm.when("pay_sum", "各服务区总收入是多少？")
    content = f"{SQL_A}\n{SQL_B}\n".encode()
    status, body = await upload(client, "sql", "examples.sql", content)
    assert status == 200 and body["data"]["stored_count"] == 2, body
    questions = {json.loads(d)["question"] for d in await stored(services, "sql")}
    assert questions == {"服务区有多少个?", "各服务区总收入是多少？"}


async def test_upload_rejections_are_body_400_with_http_200(client, services):
    cases = [
        (None, "a.sql", b"x;", "缺少必需参数：file_type"),
        (
            "pdf",
            "a.pdf",
            b"x",
            "不支持的文件类型：pdf，支持的类型：ddl, markdown, sql_pair_json, sql_pair, sql",
        ),
        (
            "markdown",
            "a.txt",
            b"## x",
            "文件类型 markdown 不支持的文件扩展名：txt，支持的扩展名：md, markdown",
        ),
        (
            "ddl",
            "a.md",
            b"CREATE",
            "文件类型 ddl 不支持的文件扩展名：md，支持的扩展名：ddl, sql, txt 或无扩展名",
        ),
        ("ddl", "a.sql", b"x" * (500 * 1024 + 1), "文件大小不能超过500KB"),
        ("ddl", "a.sql", b"select 1", "文件内容不符合DDL格式，必须包含CREATE语句"),
        ("markdown", "a.md", b"# only", "文件内容不符合Markdown格式，必须包含##标题"),
        ("sql_pair_json", "a.json", b"[]", "文件内容不符合JSON问答对格式，必须是非空数组"),
        ("sql_pair_json", "a.json", b"[1]", "文件内容不符合JSON问答对格式，数组元素必须是对象"),
        (
            "sql_pair_json",
            "a.json",
            b'[{"q": 1}]',
            "文件内容不符合JSON问答对格式，必须包含question和sql字段",
        ),
        ("sql_pair_json", "a.json", b"{", "文件内容不符合JSON问答对格式，JSON格式错误"),
        ("sql_pair", "a.txt", b"SQL: x", "文件内容不符合问答对格式，必须包含Question:"),
        ("sql_pair", "a.txt", b"Question: x", "文件内容不符合问答对格式，必须包含SQL:"),
        ("sql", "a.sql", b"select 1", "文件内容不符合SQL格式，必须包含;分隔符"),
        ("ddl", "a.sql", b";;", "文件内容不符合DDL格式，必须包含CREATE语句"),
    ]
    for file_type, name, content, text in cases:
        status, body = await upload(client, file_type, name, content)
        assert status == 200 and body["code"] == 400, (text, body)
        assert body["data"]["response"] == text
    status, body = await upload(client, "ddl", "a.sql", "CREATE TABLE 表 (id int);".encode("gbk"))
    assert status == 200 and body["code"] == 400 and "UTF-8" in body["data"]["response"]
    response = await client.post("/api/v0/training_data/upload", form={"file_type": "ddl"})
    assert (await response.get_json())["data"]["response"] == "未提供文件"
    assert await row_count(services) == 0


async def test_upload_all_items_failing_is_reported(client, services):
    status, body = await upload(
        client,
        "sql_pair_json",
        "p.json",
        json.dumps([{"question": "删", "sql": "DROP TABLE x"}]).encode(),
    )
    assert status == 200 and body["code"] == 500 and body["data"]["status"] == "failed"
    assert body["data"]["response"].startswith("训练失败: ")
    assert await row_count(services) == 0


# ---- combine -------------------------------------------------------------------------------------


async def insert_legacy(services, collection, row_id, document, createdat=None):
    vector = [0.0] * 1023 + [1.0]
    meta = (
        {"id": row_id}
        if collection in ("ddl", "documentation")
        else {"id": row_id, "createdat": createdat}
    )
    await services.db.execute(
        "INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata)"
        " SELECT $1, uuid, $2::real[]::vector, $3, $4::jsonb FROM langchain_pg_collection WHERE name = $5",
        row_id,
        vector,
        document,
        json.dumps(meta),
        collection,
    )


async def test_combine_dry_run_then_merge(client, services):
    doc = json.dumps({"question": "q", "sql": "SELECT 1"}, ensure_ascii=False)
    await insert_legacy(services, "sql", "b-sql", doc, "2025-01-02T00:00:00")
    await insert_legacy(services, "sql", "a-sql", doc, "2025-01-03T00:00:00")
    await insert_legacy(services, "sql", "c-sql", doc, None)
    await insert_legacy(services, "ddl", "d-ddl", "CREATE TABLE x (id int)")
    await insert_legacy(services, "ddl", "e-ddl", "CREATE TABLE x (id int)")

    status, body = await post(
        client,
        "/api/v0/training_data/combine",
        {"collection_names": ["sql", "ddl"], "keep_strategy": "by_metadata_time"},
    )
    assert status == 200 and body["code"] == 200, body
    data = body["data"]
    assert data["dry_run"] is True and data["collections_processed"] == ["sql", "ddl"]
    assert data["summary"]["duplicates_to_remove"] == 3
    assert data["summary"]["collections_stats"]["sql"] == {
        "before": 3,
        "after": 1,
        "duplicates_to_remove": 2,
    }
    group = data["duplicate_groups"][0]
    assert group["records_to_keep"] == "a-sql" and group["duplicate_count"] == 3
    assert sorted(group["records_to_remove"]) == ["b-sql", "c-sql"]
    assert data["response"] == "发现 3 条重复记录，预计删除后将从 5 条减少到 2 条记录"
    assert await row_count(services) == 5

    status, body = await post(
        client,
        "/api/v0/training_data/combine",
        {"collection_names": ["sql", "ddl"], "dry_run": False, "keep_strategy": "first"},
    )
    data = body["data"]
    assert status == 200 and data["summary"]["duplicates_removed"] == 3
    assert data["merged_groups"][0]["kept_record_id"] == "c-sql"  # no createdat = oldest
    assert "removed_record_ids" in data["merged_groups"][0]
    assert data["response"] == "成功合并重复记录，删除了 3 条重复记录，从 5 条减少到 2 条记录"
    ids = {r["id"] for r in await services.db.fetch("SELECT id FROM langchain_pg_embedding")}
    assert ids == {"c-sql", "d-ddl"}


async def test_combine_validation_answers_http_200(client):
    cases = [
        ({}, "请求体不能为空"),
        ({"collection_names": []}, "collection_names 参数必须是非空数组"),
        ({"collection_names": ["foo"]}, "不支持的集合名称: ['foo']"),
        (
            {"collection_names": ["sql"], "keep_strategy": "x"},
            "keep_strategy 必须是 'first', 'last' 或 'by_metadata_time'",
        ),
    ]
    for payload, text in cases:
        status, body = await post(client, "/api/v0/training_data/combine", payload)
        assert status == 200 and body["code"] == 400 and body["data"]["response"] == text


# ---- direct training routes ---------------------------------------------------------------------


async def test_citu_train_question_sql(client, services):
    status, body = await post(
        client, "/api/v0/citu_train_question_sql", {"question": "服务区数量？", "sql": SQL_B}
    )
    assert status == 200 and body["data"]["training_id"].endswith("-sql")
    assert body["data"]["message"] == "Question-SQL pair trained successfully"
    assert body["data"]["response"] == "问题-SQL对训练成功"
    status, body = await post(client, "/api/v0/citu_train_question_sql", {"question": "q"})
    assert status == 400 and body["data"]["missing_params"] == ["sql"]
    status, body = await post(
        client, "/api/v0/citu_train_question_sql", {"question": "q", "sql": "UPDATE a SET b = 1"}
    )
    assert status == 400 and body["data"]["invalid_params"] == ["sql"]
    assert await row_count(services) == 1


async def test_training_error_question_sql(client, services):
    status, body = await post(
        client, "/api/v0/training_error_question_sql", {"question": "服务区数量", "sql": "SELEC 1"}
    )
    assert status == 200 and body["data"]["id"].endswith("-error_sql")
    assert body["data"]["message"] == "错误SQL对已成功存储到error_sql集合"
    document = await services.db.fetchval("SELECT document FROM langchain_pg_embedding")
    assert json.loads(document) == {"question": "服务区数量", "sql": "SELEC 1", "type": "error_sql"}
    status, body = await post(client, "/api/v0/training_error_question_sql", {"sql": "x"})
    assert status == 400 and body["data"]["missing_params"] == ["question"]
    assert body["data"]["response"] == "question和sql参数都是必需的"
    status, body = await post(client, "/api/v0/training_error_question_sql", {})
    assert body["data"]["missing_params"] == ["question", "sql"]


async def test_routes_are_documented(client):
    spec = await (await client.get("/openapi.json")).get_json()
    create = spec["paths"]["/api/v0/training_data/create"]["post"]
    assert create["summary"].startswith("Train one item or a batch")
    assert "requestBody" in create
    for path in (
        "/api/v0/training_data/stats",
        "/api/v0/training_data/query",
        "/api/v0/training_data/delete",
        "/api/v0/training_data/update",
        "/api/v0/training_data/upload",
        "/api/v0/training_data/combine",
        "/api/v0/citu_train_question_sql",
        "/api/v0/training_error_question_sql",
    ):
        assert path in spec["paths"]
