"""The feedback blueprint against the real citu database: every route, filter and edge."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$")


async def seed(services, *rows: dict) -> list[int]:
    """Insert rows directly (fixed create_time etc.) and return their ids in order."""
    ids = []
    async with services.db.acquire() as conn:
        for row in rows:
            values = {
                "question": "问题",
                "sql": "SELECT 1",
                "is_thumb_up": True,
                "user_id": "guest",
                "create_time": datetime(2025, 1, 1, 8, 0, 0),
                "is_in_training_data": False,
                "update_time": None,
                **row,
            }
            ids.append(
                await conn.fetchval(
                    "INSERT INTO qa_feedback (question, sql, is_thumb_up, user_id, create_time,"
                    " is_in_training_data, update_time) VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING id",
                    *values.values(),
                )
            )
    return ids


async def query(client, **body) -> tuple[int, dict]:
    response = await client.post("/api/v0/qa_feedback/query", json=body)
    return response.status_code, await response.get_json()


def ids_of(body: dict) -> list[int]:
    return [record["id"] for record in body["data"]["records"]]


# --- add ----------------------------------------------------------------------------------


async def test_add_stores_the_row_with_local_create_time(client, services):
    before = datetime.now()
    response = await client.post(
        "/api/v0/qa_feedback/add",
        json={"question": "收入多少？", "sql": "SELECT 1;", "is_thumb_up": True, "user_id": "u1"},
    )
    body = await response.get_json()
    assert response.status_code == 200 and body["code"] == 200 and body["success"] is True
    assert body["data"]["response"] == "反馈记录创建成功"
    row = await services.db.fetchrow(
        "SELECT * FROM qa_feedback WHERE id = $1", body["data"]["feedback_id"]
    )
    assert (row["question"], row["sql"], row["is_thumb_up"], row["user_id"]) == (
        "收入多少？",
        "SELECT 1;",
        True,
        "u1",
    )
    assert before <= row["create_time"] <= datetime.now()
    assert row["is_in_training_data"] is False and row["update_time"] is None


async def test_add_defaults_user_and_reads_false_strings_as_false(client, services):
    response = await client.post(
        "/api/v0/qa_feedback/add", json={"question": "q", "sql": "SELECT 2", "is_thumb_up": "false"}
    )
    feedback_id = (await response.get_json())["data"]["feedback_id"]
    row = await services.db.fetchrow("SELECT * FROM qa_feedback WHERE id = $1", feedback_id)
    assert row["user_id"] == "guest" and row["is_thumb_up"] is False


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({"sql": "SELECT 1", "is_thumb_up": True}, "question"),
        ({"question": "", "sql": "SELECT 1", "is_thumb_up": True}, "question"),
        ({"question": "q", "is_thumb_up": True}, "sql"),
        ({"question": "q", "sql": "SELECT 1"}, "is_thumb_up"),
        ({"question": "q", "sql": "SELECT 1", "is_thumb_up": None}, "is_thumb_up"),
        ({}, "question"),  # the first missing one is reported
    ],
)
async def test_add_missing_fields_are_400_in_order(client, services, body, missing):
    response = await client.post("/api/v0/qa_feedback/add", json=body)
    data = (await response.get_json())["data"]
    assert response.status_code == 400
    assert data["response"] == f"缺少必需参数：{missing}" and data["missing_params"] == [missing]
    assert await services.db.fetchval("SELECT count(*) FROM qa_feedback") == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": "q", "sql": "s", "is_thumb_up": "maybe"}, "is_thumb_up"),
        ({"question": "q", "sql": "s", "is_thumb_up": True, "user_id": "x" * 65}, "user_id"),
        ({"question": "q", "sql": "s", "is_thumb_up": True, "user_id": None}, "user_id"),
        ({"question": ["q"], "sql": "s", "is_thumb_up": True}, "question"),
    ],
)
async def test_add_invalid_values_are_400(client, body, field):
    response = await client.post("/api/v0/qa_feedback/add", json=body)
    data = (await response.get_json())["data"]
    assert response.status_code == 400 and data["invalid_params"] == [field]


async def test_add_without_json_body_is_400(client):
    response = await client.post("/api/v0/qa_feedback/add", data="question=q")
    assert response.status_code == 400
    assert (await response.get_json())["code"] == 400


# --- query --------------------------------------------------------------------------------


async def test_query_defaults_newest_first_with_record_shape(client, services):
    old, new = await seed(
        services,
        {"create_time": datetime(2025, 1, 1, 8, 0, 0)},
        {"create_time": datetime(2025, 1, 2, 8, 0, 0, 123456), "user_id": "u2"},
    )
    status, body = await query(client)
    assert status == 200 and body["message"] == "操作成功"
    assert ids_of(body) == [new, old]
    assert body["data"]["records"][0] == {
        "id": new,
        "question": "问题",
        "sql": "SELECT 1",
        "is_thumb_up": True,
        "user_id": "u2",
        "create_time": "2025-01-02T08:00:00.123456",
        "is_in_training_data": False,
        "update_time": None,
    }
    # Microseconds are always written, even when zero (one format for every timestamp).
    assert body["data"]["records"][1]["create_time"] == "2025-01-01T08:00:00.000000"
    assert body["data"]["pagination"] == {
        "page": 1,
        "page_size": 20,
        "total": 2,
        "total_pages": 1,
        "has_next": False,
        "has_prev": False,
    }
    assert body["data"]["response"] == "查询成功，共找到 2 条记录"


async def test_query_filters_by_thumb_and_training_flags(client, services):
    up_new, up_trained, down_new, down_trained = await seed(
        services,
        {"is_thumb_up": True},
        {"is_thumb_up": True, "is_in_training_data": True},
        {"is_thumb_up": False},
        {"is_thumb_up": False, "is_in_training_data": True},
    )
    cases = [
        ({"is_thumb_up": True}, {up_new, up_trained}),
        ({"is_thumb_up": False}, {down_new, down_trained}),
        ({"is_in_training_data": True}, {up_trained, down_trained}),
        ({"is_in_training_data": False}, {up_new, down_new}),
        ({"is_thumb_up": False, "is_in_training_data": False}, {down_new}),
        (
            {"is_thumb_up": None, "is_in_training_data": None},
            {up_new, up_trained, down_new, down_trained},
        ),
    ]
    for filters, expected in cases:
        status, body = await query(client, **filters)
        assert status == 200 and set(ids_of(body)) == expected, filters
        assert body["data"]["pagination"]["total"] == len(expected)


async def test_query_filters_by_create_time_range(client, services):
    jan1, jan2, jan3 = await seed(
        services,
        {"create_time": datetime(2025, 1, 1, 12, 0)},
        {"create_time": datetime(2025, 1, 2, 12, 0)},
        {"create_time": datetime(2025, 1, 3, 0, 0)},
    )
    cases = [
        ({"create_time_start": "2025-01-02"}, {jan2, jan3}),
        ({"create_time_start": "2025-01-02 12:00:00"}, {jan2, jan3}),
        ({"create_time_start": "2025-01-02 12:00:01"}, {jan3}),
        # A bare end date means midnight at its start (kept from the old service).
        ({"create_time_end": "2025-01-02"}, {jan1}),
        ({"create_time_end": "2025-01-03"}, {jan1, jan2, jan3}),
        ({"create_time_start": "2025-01-02", "create_time_end": "2025-01-02T23:59:59"}, {jan2}),
        ({"create_time_start": "", "create_time_end": None}, {jan1, jan2, jan3}),
        ({"create_time_start": "2025-02-01"}, set()),
    ]
    for filters, expected in cases:
        status, body = await query(client, **filters)
        assert status == 200 and set(ids_of(body)) == expected, filters


@pytest.mark.parametrize("field", ["create_time_start", "create_time_end"])
@pytest.mark.parametrize("value", ["not-a-date", "2025-13-45", "2025-02-30 10:00"])
async def test_query_bad_dates_are_400(client, field, value):
    status, body = await query(client, **{field: value})
    assert status == 400 and body["data"]["invalid_params"] == [field]


@pytest.mark.parametrize("sort_by", ["id", "create_time", "update_time", "user_id"])
@pytest.mark.parametrize("sort_order", ["asc", "DESC"])
async def test_query_sorts_by_each_whitelisted_column(client, services, sort_by, sort_order):
    await seed(
        services,
        {"user_id": "b", "create_time": datetime(2025, 1, 2), "update_time": datetime(2025, 2, 1)},
        {"user_id": "a", "create_time": datetime(2025, 1, 3), "update_time": datetime(2025, 2, 3)},
        {"user_id": "c", "create_time": datetime(2025, 1, 1), "update_time": datetime(2025, 2, 2)},
    )
    status, body = await query(client, sort_by=sort_by, sort_order=sort_order)
    values = [record[sort_by] for record in body["data"]["records"]]
    assert status == 200
    assert values == sorted(values, reverse=sort_order.lower() == "desc")


async def test_query_unknown_sort_values_fall_back_to_newest_first(client, services):
    first, second = await seed(
        services, {"create_time": datetime(2025, 1, 1)}, {"create_time": datetime(2025, 1, 2)}
    )
    status, body = await query(client, sort_by="question; DROP TABLE qa_feedback", sort_order="up")
    assert status == 200 and ids_of(body) == [second, first]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sort_order": 1}, "sort_order"),
        ({"sort_by": ["id"]}, "sort_by"),
        ({"page": "abc"}, "page"),
        ({"page_size": 2.5}, "page_size"),
        ({"is_thumb_up": "perhaps"}, "is_thumb_up"),
        ({"is_in_training_data": 7}, "is_in_training_data"),
    ],
)
async def test_query_wrongly_typed_values_are_400(client, body, field):
    status, reply = await query(client, **body)
    assert status == 400 and reply["data"]["invalid_params"] == [field]


@pytest.mark.parametrize(
    ("body", "text", "field"),
    [
        ({"page": 0}, "页码必须大于0", "page"),
        ({"page": -3}, "页码必须大于0", "page"),
        ({"page_size": 0}, "每页大小必须在1-100之间", "page_size"),
        ({"page_size": 101}, "每页大小必须在1-100之间", "page_size"),
        # Beyond 64 bits: refused by the body parser, naming the field.
        (
            {"page": 10**20},
            "请求体中的数字超出范围（整数需在 -9223372036854775808 到 9223372036854775807 之间，"
            "不能是NaN或无穷大）",
            "page",
        ),
    ],
)
async def test_query_page_bounds_are_400(client, body, text, field):
    status, reply = await query(client, **body)
    assert status == 400 and reply["message"] == "请求参数错误"
    assert reply["data"]["response"] == text and reply["data"]["invalid_params"] == [field]


async def test_query_pagination_edges(client, services):
    ids = await seed(services, *({"create_time": datetime(2025, 1, day)} for day in range(1, 6)))
    newest_first = list(reversed(ids))

    status, body = await query(client, page=1, page_size=2)
    assert ids_of(body) == newest_first[:2]
    assert body["data"]["pagination"] == {
        "page": 1,
        "page_size": 2,
        "total": 5,
        "total_pages": 3,
        "has_next": True,
        "has_prev": False,
    }
    _, body = await query(client, page=2, page_size=2)
    assert ids_of(body) == newest_first[2:4]
    assert body["data"]["pagination"]["has_next"] and body["data"]["pagination"]["has_prev"]
    _, body = await query(client, page=3, page_size=2)  # the partial last page
    assert ids_of(body) == newest_first[4:]
    assert not body["data"]["pagination"]["has_next"]
    _, body = await query(client, page=4, page_size=2)  # past the end: empty, still 200
    assert ids_of(body) == [] and body["data"]["pagination"]["total"] == 5
    assert body["data"]["pagination"]["has_prev"] and not body["data"]["pagination"]["has_next"]
    _, body = await query(client, page_size=100)
    assert ids_of(body) == newest_first
    _, body = await query(client, page=5, page_size=1)
    assert ids_of(body) == newest_first[4:] and body["data"]["pagination"]["total_pages"] == 5


async def test_query_pages_do_not_overlap_when_timestamps_tie(client, services):
    ids = await seed(services, *({} for _ in range(7)))  # all share one create_time
    seen = []
    for page in (1, 2, 3):
        _, body = await query(client, page=page, page_size=3)
        seen += ids_of(body)
    assert sorted(seen) == sorted(ids)


async def test_query_on_empty_table(client):
    status, body = await query(client, page=1, page_size=10)
    assert status == 200 and body["data"]["records"] == []
    assert body["data"]["pagination"]["total"] == 0
    assert body["data"]["pagination"]["total_pages"] == 0
    assert body["data"]["pagination"]["has_next"] is False


# --- delete -------------------------------------------------------------------------------


async def test_delete_removes_the_row_then_404s(client, services):
    feedback_id, other = await seed(services, {}, {})
    response = await client.delete(f"/api/v0/qa_feedback/delete/{feedback_id}")
    body = await response.get_json()
    assert response.status_code == 200
    assert body["data"]["deleted_id"] == feedback_id
    assert body["data"]["response"] == "反馈记录删除成功"
    assert await services.db.fetchval("SELECT array_agg(id) FROM qa_feedback") == [other]

    response = await client.delete(f"/api/v0/qa_feedback/delete/{feedback_id}")
    body = await response.get_json()
    assert response.status_code == 404 and body["data"]["error_type"] == "resource_not_found"
    assert body["data"]["response"] == f"反馈记录不存在 (ID: {feedback_id})"


@pytest.mark.parametrize("path_id", ["99999999999", "0"])
async def test_delete_impossible_ids_are_404(client, path_id):
    response = await client.delete(f"/api/v0/qa_feedback/delete/{path_id}")
    assert response.status_code == 404
    assert (await response.get_json())["data"]["response"] == f"反馈记录不存在 (ID: {int(path_id)})"


async def test_delete_with_non_numeric_id_is_404_envelope(client):
    response = await client.delete("/api/v0/qa_feedback/delete/abc")
    assert response.status_code == 404 and (await response.get_json())["code"] == 404


# --- update -------------------------------------------------------------------------------


async def test_update_sets_fields_and_update_time(client, services):
    (feedback_id,) = await seed(services, {})
    response = await client.put(
        f"/api/v0/qa_feedback/update/{feedback_id}",
        json={"is_thumb_up": False, "question": "新问题", "ignored": 1},
    )
    body = await response.get_json()
    assert response.status_code == 200 and body["data"]["response"] == "反馈记录更新成功"
    assert body["data"]["updated_id"] == feedback_id
    assert body["data"]["updated_fields"] == ["question", "is_thumb_up"]  # whitelist order
    row = await services.db.fetchrow("SELECT * FROM qa_feedback WHERE id = $1", feedback_id)
    assert row["question"] == "新问题" and row["is_thumb_up"] is False and row["sql"] == "SELECT 1"
    assert row["update_time"] is not None

    response = await client.put(
        f"/api/v0/qa_feedback/update/{feedback_id}",
        json={"sql": "SELECT 2", "user_id": "u9", "is_in_training_data": True},
    )
    assert (await response.get_json())["data"]["updated_fields"] == [
        "sql",
        "user_id",
        "is_in_training_data",
    ]
    row = await services.db.fetchrow("SELECT * FROM qa_feedback WHERE id = $1", feedback_id)
    assert (row["sql"], row["user_id"], row["is_in_training_data"]) == ("SELECT 2", "u9", True)


async def test_update_without_known_fields_is_400(client, services):
    (feedback_id,) = await seed(services, {})
    response = await client.put(f"/api/v0/qa_feedback/update/{feedback_id}", json={"x": 1})
    data = (await response.get_json())["data"]
    assert response.status_code == 400 and data["response"] == "没有提供有效的更新字段"
    assert data["missing_params"] == [
        "question",
        "sql",
        "is_thumb_up",
        "user_id",
        "is_in_training_data",
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": None}, "question"),
        ({"sql": ""}, "sql"),
        ({"is_in_training_data": None}, "is_in_training_data"),
        ({"is_thumb_up": "sometimes"}, "is_thumb_up"),
        ({"user_id": "x" * 65}, "user_id"),
    ],
)
async def test_update_invalid_values_are_400_and_change_nothing(client, services, body, field):
    (feedback_id,) = await seed(services, {})
    response = await client.put(f"/api/v0/qa_feedback/update/{feedback_id}", json=body)
    data = (await response.get_json())["data"]
    assert response.status_code == 400 and data["invalid_params"] == [field]
    row = await services.db.fetchrow("SELECT * FROM qa_feedback WHERE id = $1", feedback_id)
    assert row["update_time"] is None and row["question"] == "问题"


@pytest.mark.parametrize("path_id", ["12345", "99999999999"])
async def test_update_unknown_id_is_404(client, path_id):
    response = await client.put(f"/api/v0/qa_feedback/update/{path_id}", json={"sql": "SELECT 3"})
    body = await response.get_json()
    assert response.status_code == 404
    assert body["data"]["response"] == f"反馈记录不存在或无变化 (ID: {path_id})"


# --- stats --------------------------------------------------------------------------------


async def test_stats_counts_and_rates(client, services):
    await seed(
        services,
        {"is_thumb_up": True, "is_in_training_data": True},
        {"is_thumb_up": True},
        {"is_thumb_up": False},
    )
    response = await client.get("/api/v0/qa_feedback/stats")
    data = (await response.get_json())["data"]
    assert response.status_code == 200 and data["response"] == "统计信息获取成功"
    assert {key: data[key] for key in data if key not in ("response", "timestamp")} == {
        "total_feedback": 3,
        "positive_feedback": 2,
        "negative_feedback": 1,
        "trained_feedback": 1,
        "untrained_feedback": 2,
        "positive_rate": 66.67,
        "training_rate": 33.33,
    }


async def test_stats_on_empty_table(client):
    data = (await (await client.get("/api/v0/qa_feedback/stats")).get_json())["data"]
    assert data["total_feedback"] == 0 and data["positive_rate"] == 0.0
    assert data["training_rate"] == 0.0


async def test_database_failure_answers_the_route_text(client, services):
    await services.db.execute("ALTER TABLE qa_feedback RENAME TO qa_feedback_gone")
    response = await client.get("/api/v0/qa_feedback/stats")
    body = await response.get_json()
    assert response.status_code == 500 and body["message"] == "系统内部错误"
    assert body["data"]["response"] == "获取统计信息失败，请稍后重试"


async def test_timestamps_share_one_format(client, services):
    (feedback_id,) = await seed(services, {})
    await client.put(f"/api/v0/qa_feedback/update/{feedback_id}", json={"sql": "SELECT 9"})
    _, body = await query(client)
    record = body["data"]["records"][0]
    assert TIMESTAMP.match(record["create_time"]) and TIMESTAMP.match(record["update_time"])


async def test_routes_are_documented_in_openapi(client):
    paths = (await (await client.get("/openapi.json")).get_json())["paths"]
    query = paths["/api/v0/qa_feedback/query"]["post"]
    assert query["summary"] == "List feedback records, filtered, sorted and paginated."
    assert "page_size" in str(query["requestBody"])
    assert "/api/v0/qa_feedback/update/{feedback_id}" in paths


# --- add_to_training ----------------------------------------------------------------------


async def vector_documents(services, collection: str) -> list[dict]:
    rows = await services.db.fetch(
        "SELECT e.document FROM langchain_pg_embedding e"
        " JOIN langchain_pg_collection c ON c.uuid = e.collection_id WHERE c.name = $1"
        " ORDER BY e.document",
        collection,
    )
    return [json.loads(row["document"]) for row in rows]


async def trained_flags(services) -> dict[int, bool]:
    rows = await services.db.fetch("SELECT id, is_in_training_data FROM qa_feedback")
    return {row["id"]: row["is_in_training_data"] for row in rows}


async def promote(client, ids) -> tuple[int, dict]:
    response = await client.post("/api/v0/qa_feedback/add_to_training", json={"feedback_ids": ids})
    return response.status_code, await response.get_json()


async def test_add_to_training_promotes_a_mixed_batch(client, services, fake_llm):
    up, down, trained, no_question, unsafe = await seed(
        services,
        {"question": "各服务区的收入是多少？", "sql": "SELECT name FROM bss_service_area"},
        {
            "question": "查询车流量",
            "sql": "SELEC count(*) FROM bss_car_day_count",
            "is_thumb_up": False,
        },
        {"question": "已训练", "is_in_training_data": True},
        {"question": "   "},
        {"question": "删除数据", "sql": "DELETE FROM bss_company"},
    )
    requested = [up, down, trained, no_question, unsafe, up, 987654, str(down)]
    status, body = await promote(client, requested)

    assert status == 200 and body["code"] == 200 and body["success"] is True
    data = body["data"]
    assert data["summary"] == {
        "total_requested": 8,  # duplicates and unknown ids included, as before
        "total_processed": 5,
        "positive_trained": 1,
        "negative_trained": 1,
        "already_trained": 1,
        "errors": 2,
    }
    assert data["successfully_trained_ids"] == [up, down]
    assert data["training_details"] == {"sql_training_count": 1, "error_sql_training_count": 1}
    assert data["response"] == "训练数据添加完成，成功处理 2 条记录"

    assert await vector_documents(services, "sql") == [
        {"question": "各服务区的收入是多少？", "sql": "SELECT name FROM bss_service_area"}
    ]
    assert await vector_documents(services, "error_sql") == [
        {
            "question": "查询车流量",
            "sql": "SELEC count(*) FROM bss_car_day_count",
            "type": "error_sql",
        }
    ]
    flags = await trained_flags(services)
    assert flags == {up: True, down: True, trained: True, no_question: False, unsafe: False}
    marked = await services.db.fetchval(
        "SELECT count(*) FROM qa_feedback WHERE update_time IS NOT NULL"
    )
    assert marked == 2
    assert len(fake_llm.embedding_requests) >= 1


async def test_add_to_training_again_only_counts_already_trained(client, services, fake_llm):
    (up,) = await seed(
        services, {"question": "服务区数量", "sql": "SELECT count(*) FROM bss_service_area"}
    )
    await promote(client, [up])
    calls = len(fake_llm.embedding_requests)
    status, body = await promote(client, [up])
    assert status == 200 and body["data"]["summary"]["already_trained"] == 1
    assert body["data"]["successfully_trained_ids"] == []
    assert body["data"]["response"] == "训练数据添加完成，成功处理 0 条记录"
    assert len(fake_llm.embedding_requests) == calls  # nothing embedded the second time
    assert len(await vector_documents(services, "sql")) == 1


async def test_add_to_training_unknown_ids_are_404(client, services):
    await seed(services, {})
    status, body = await promote(client, [424242, 99999999999, -1])
    assert status == 404 and body["data"]["response"] == "未找到任何有效的反馈记录"


@pytest.mark.parametrize(
    "body", [{}, {"feedback_ids": []}, {"feedback_ids": 5}, {"feedback_ids": None}]
)
async def test_add_to_training_without_id_list_is_400(client, body):
    response = await client.post("/api/v0/qa_feedback/add_to_training", json=body)
    data = (await response.get_json())["data"]
    assert response.status_code == 400
    assert data["response"] == "缺少有效的反馈ID列表" and data["missing_params"] == ["feedback_ids"]


@pytest.mark.parametrize("ids", [["abc"], [1, True], [1.5], [[1]], [None], ["+-5"], ["٣"]])
async def test_add_to_training_malformed_ids_are_400(client, ids):
    status, body = await promote(client, ids)
    assert status == 400 and body["data"]["invalid_params"] == ["feedback_ids"]


async def test_failed_embedding_leaves_nothing_trained(client, services, fake_llm):
    ids = await seed(
        services,
        {"question": "收入", "sql": "SELECT 1"},
        {"question": "车流", "sql": "SELECT 2", "is_thumb_up": False},
    )
    fake_llm.fail(500, endpoint="embeddings")
    status, body = await promote(client, ids)
    assert status == 503 and body["success"] is False and body["data"]["can_retry"] is True
    assert await trained_flags(services) == dict.fromkeys(ids, False)
    assert await services.db.fetchval("SELECT count(*) FROM langchain_pg_embedding") == 0

    status, body = await promote(client, ids)  # the endpoint is back: the retry succeeds
    assert status == 200 and body["data"]["successfully_trained_ids"] == ids


async def test_database_error_mid_batch_rolls_back_every_vector(client, services):
    first, second = await seed(
        services,
        {"question": "第一条", "sql": "SELECT 1"},
        {"question": "第二条 boom", "sql": "SELECT 2"},
    )
    await services.db.execute(
        """
        CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.document LIKE '%boom%' THEN RAISE EXCEPTION 'disk on fire'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_boom BEFORE INSERT ON langchain_pg_embedding
            FOR EACH ROW EXECUTE FUNCTION refuse_boom();
        """
    )
    status, body = await promote(client, [first, second])
    assert status == 500 and body["data"]["response"] == "添加训练数据失败，请稍后重试"
    assert await trained_flags(services) == {first: False, second: False}
    assert await services.db.fetchval("SELECT count(*) FROM langchain_pg_embedding") == 0


async def test_failed_marking_rolls_back_the_vectors(client, services):
    (feedback_id,) = await seed(services, {"question": "标记失败", "sql": "SELECT 1"})
    await services.db.execute(
        """
        CREATE FUNCTION refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'no updates today'; END $$;
        CREATE TRIGGER refuse_update BEFORE UPDATE ON qa_feedback
            FOR EACH ROW EXECUTE FUNCTION refuse_update();
        """
    )
    status, _ = await promote(client, [feedback_id])
    assert status == 500
    assert await services.db.fetchval("SELECT count(*) FROM langchain_pg_embedding") == 0
    assert await trained_flags(services) == {feedback_id: False}


async def test_promoting_again_after_a_reset_adds_no_duplicate_vector(client, services):
    (feedback_id,) = await seed(services, {"question": "路段数量", "sql": "SELECT count(*) FROM x"})
    await promote(client, [feedback_id])
    await client.put(
        f"/api/v0/qa_feedback/update/{feedback_id}", json={"is_in_training_data": False}
    )
    status, body = await promote(client, [feedback_id])
    assert status == 200 and body["data"]["successfully_trained_ids"] == [feedback_id]
    assert len(await vector_documents(services, "sql")) == 1
    assert await trained_flags(services) == {feedback_id: True}
