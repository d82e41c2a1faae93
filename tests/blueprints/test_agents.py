"""The agents blueprint: ask_agent, its stream, agent_health, and the direct ask routes."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

import pytest

from citu.app import create_app
from fakes.ask_script import TOP3_SQL, kinds, script
from fakes.memory_stores import DEMO_DDL, DEMO_DOCUMENTATION, DEMO_EXAMPLE


@pytest.fixture
async def installed(services) -> None:
    """Training data for the real retriever: the demo tables, a note and one example."""
    training = services.training
    for ddl in DEMO_DDL:
        await training.add_ddl(ddl)
    await training.add_documentation(DEMO_DOCUMENTATION)
    await training.add_question_sql(*DEMO_EXAMPLE)


async def saved(redis, conversation_id: str) -> list[dict]:
    """The conversation's stored messages, oldest first."""
    raw = await redis.lrange(f"conversation:{conversation_id}:messages", 0, -1)
    return [json.loads(m) for m in reversed(raw)]


@asynccontextmanager
async def started(settings):
    app = create_app(settings)
    async with app.test_app():
        yield app.test_client()


def frames(body: bytes) -> list[dict]:
    text = body.decode()
    assert text.endswith("\n\n")
    chunks = text[:-2].split("\n\n")
    assert all(c.startswith("data: ") and "\n" not in c for c in chunks)
    return [json.loads(c[len("data: ") :]) for c in chunks]


# ---- POST /api/v0/ask_agent -------------------------------------------------------------


async def test_database_question_end_to_end(client, fake_llm, installed, redis):
    script(fake_llm)
    response = await client.post("/api/v0/ask_agent", json={"question": "收入前三的服务区是哪些"})
    body = await response.get_json()

    assert response.status_code == 200
    assert body["code"] == 200 and body["success"] is True and body["message"] == "操作成功"
    data = body["data"]
    assert data["type"] == "DATABASE" and data["sql"] == TOP3_SQL
    assert data["records"]["columns"] == ["服务区名称", "总收入"]
    assert data["records"]["row_count"] == 3 and data["records"]["is_limited"] is False
    assert isinstance(data["records"]["rows"][0]["总收入"], str)
    assert data["response"] == data["summary"] == "收入前三的服务区为庐山服务区等。"
    assert data["user_id"] == "guest" and data["conversation_id"].startswith("guest:")
    assert data["context_used"] is False and data["from_cache"] is False
    assert data["conversation_status"] == "new" and "requested_conversation_id" not in data
    assert data["routing_mode_used"] == "hybrid" and data["routing_mode_source"] == "config"
    assert data["agent_version"] == "langgraph_v1"
    assert data["classification_info"]["method"] == "rule_based_strong_business"
    assert "收入前三" in (await response.get_data(as_text=True))  # raw UTF-8, no \u escapes

    # The SQL prompt carried what the real retriever found in the training data.
    assert kinds(fake_llm) == ["sql", "summary"]
    system, *few_shot, question = fake_llm.requests[0]["messages"]
    assert "CREATE TABLE bss_" in system["content"] and "===Tables" in system["content"]
    assert [m["content"] for m in few_shot] == list(DEMO_EXAMPLE)
    assert question["content"] == "收入前三的服务区是哪些"

    messages = await saved(redis, data["conversation_id"])
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["content"] == "收入前三的服务区为庐山服务区等。"
    assert messages[1]["metadata"] == {
        "type": "DATABASE",
        "sql": TOP3_SQL,
        "execution_path": data["execution_path"],
    }


async def test_chat_question(client, fake_llm, installed):
    script(fake_llm)
    body = await (
        await client.post(
            "/api/v0/ask_agent", json={"question": "荔枝一般几月上市", "user_id": "wang1"}
        )
    ).get_json()
    data = body["data"]
    assert data["type"] == "CHAT" and data["response"] == "荔枝一般在5-7月上市。"
    assert "sql" not in data and "records" not in data and "summary" not in data
    assert data["user_id"] == "wang1" and data["conversation_id"].startswith("wang1:")


@pytest.mark.parametrize(
    ("mode", "expected_type"),
    [
        ("database_direct", "DATABASE"),
        ("chat_direct", "CHAT"),
        ("llm_only", "DATABASE"),
        ("hybrid", "CHAT"),
    ],
)
async def test_each_routing_mode(client, fake_llm, installed, mode, expected_type):
    script(fake_llm)
    body = await (
        await client.post(
            "/api/v0/ask_agent", json={"question": "荔枝一般几月上市", "routing_mode": mode}
        )
    ).get_json()
    assert body["data"]["type"] == expected_type
    assert (
        body["data"]["routing_mode_used"] == mode and body["data"]["routing_mode_source"] == "api"
    )


async def test_follow_up_question_uses_the_context(client, fake_llm, installed):
    script(fake_llm)
    first = await (
        await client.post(
            "/api/v0/ask_agent", json={"question": "收入前三的服务区是哪些", "user_id": "li"}
        )
    ).get_json()
    cid = first["data"]["conversation_id"]
    fake_llm.reset()
    script(fake_llm, sql="SELECT 1 AS 一;")
    second = await (
        await client.post(
            "/api/v0/ask_agent",
            json={
                "question": "那收入最低的呢",
                "conversation_id": cid,
                "routing_mode": "database_direct",
            },
        )
    ).get_json()

    data = second["data"]
    assert data["conversation_id"] == cid and data["conversation_status"] == "continue"
    assert data["context_used"] is True and data["user_id"] == "li"
    sql_prompt = fake_llm.requests[0]["messages"][-1]["content"]
    assert sql_prompt == (
        "\n[CONTEXT]\nUser: 收入前三的服务区是哪些\nAssistant: 收入前三的服务区为庐山服务区等。"
        "\n\n[CURRENT]\n那收入最低的呢"
    )


async def test_unknown_conversation_starts_a_new_one(client, fake_llm, installed):
    script(fake_llm)
    body = await (
        await client.post(
            "/api/v0/ask_agent",
            json={
                "question": "你好",
                "conversation_id": "zhang:20250101000000000",
                "routing_mode": "chat_direct",
            },
        )
    ).get_json()
    data = body["data"]
    assert data["user_id"] == "zhang" and data["conversation_status"] == "invalid_id_new"
    assert data["requested_conversation_id"] == "zhang:20250101000000000"
    assert data["conversation_id"] != "zhang:20250101000000000"


async def test_cache_hit(services, client, fake_llm, installed, redis):
    services.settings.enable_question_answer_cache = True
    script(fake_llm)
    first = await (
        await client.post("/api/v0/ask_agent", json={"question": "收入前三的服务区是哪些"})
    ).get_json()
    calls = len(fake_llm.requests)
    second = await (
        await client.post("/api/v0/ask_agent", json={"question": "  收入前三的服务区是哪些 "})
    ).get_json()

    assert len(fake_llm.requests) == calls  # answered without the LLM
    data = second["data"]
    assert data["from_cache"] is True and data["type"] == "DATABASE"
    assert data["records"] == first["data"]["records"] and data["sql"] == TOP3_SQL
    assert "routing_mode_used" not in data and "routing_mode_source" not in data
    messages = await saved(redis, data["conversation_id"])
    assert messages[-1]["metadata"] == {"from_cache": True}


async def test_missing_question_is_400(client, installed):
    response = await client.post("/api/v0/ask_agent", json={"user_id": "x"})
    body = await response.get_json()
    assert response.status_code == 400
    assert body["data"]["missing_params"] == ["question"]
    assert body["data"]["response"] == "缺少必需参数：question"


async def test_invalid_routing_mode_is_400(client, installed):
    response = await client.post(
        "/api/v0/ask_agent", json={"question": "q", "routing_mode": "fast"}
    )
    body = await response.get_json()
    assert response.status_code == 400 and body["code"] == 400
    assert body["data"]["invalid_params"] == ["routing_mode"]
    assert body["data"]["response"] == (
        "无效的routing_mode参数值: fast，支持的值: "
        "['database_direct', 'chat_direct', 'hybrid', 'llm_only']"
    )


async def test_user_conversation_mismatch_is_400(client, installed):
    response = await client.post(
        "/api/v0/ask_agent",
        json={"question": "q", "user_id": "bob", "conversation_id": "alice:20250101000000000"},
    )
    body = await response.get_json()
    assert response.status_code == 400
    assert body["data"]["invalid_params"] == ["user_id", "conversation_id"]
    assert body["data"]["response"] == (
        "用户ID不匹配：conversation_id中的用户ID 'alice' 与提供的用户ID 'bob' 不一致"
    )


async def test_malformed_body_is_a_400_envelope(client, installed):
    response = await client.post(
        "/api/v0/ask_agent", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert (await response.get_json())["success"] is False


async def test_refused_sql_explains_why(client, fake_llm, installed, services, redis):
    script(fake_llm, sql="DELETE FROM bss_company;")
    pool = services.require_business_db()
    before = await pool.fetchval("SELECT count(*) FROM bss_company")
    response = await client.post(
        "/api/v0/ask_agent", json={"question": "删除所有公司", "routing_mode": "database_direct"}
    )
    body = await response.get_json()

    assert response.status_code == 500 and body["success"] is False
    assert (
        body["data"]["response"]
        == "不允许的操作: 检测到写操作: DELETE。本系统只支持查询操作(SELECT)。"
    )
    assert body["data"]["error_type"] == "agent_processing_failed"
    assert body["data"]["validation_error_type"] == "forbidden_keywords"
    assert await pool.fetchval("SELECT count(*) FROM bss_company") == before
    messages = await saved(redis, body["data"]["conversation_id"])
    assert [m["role"] for m in messages] == ["user"]  # no assistant message for a failure


async def test_llm_timeout_is_504(settings, fake_llm):
    settings.llm_timeout = 0.5
    async with started(settings) as client:
        fake_llm.hang(5.0)
        response = await client.post(
            "/api/v0/ask_agent", json={"question": "你好", "routing_mode": "chat_direct"}
        )
        body = await response.get_json()
    assert response.status_code == 504 and body["code"] == 504
    assert (
        body["data"]["can_retry"] is True
        and body["data"]["response"] == "AI服务响应超时，请稍后重试"
    )


async def test_llm_error_is_503(client, fake_llm, installed):
    fake_llm.fail(502)
    response = await client.post(
        "/api/v0/ask_agent", json={"question": "你好", "routing_mode": "chat_direct"}
    )
    body = await response.get_json()
    assert response.status_code == 503 and body["data"]["can_retry"] is True
    assert body["data"]["error_type"] == "llm_unavailable"


# ---- GET /api/v0/ask_agent_stream -------------------------------------------------------


async def test_stream_database_frames_in_order(client, fake_llm, installed, redis):
    script(fake_llm)
    response = await client.get(
        "/api/v0/ask_agent_stream",
        query_string={"question": "收入前三的服务区是哪些", "user_id": "wang1"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    got = frames(await response.get_data())

    assert [f["data"]["type"] for f in got] == ["progress"] * 4 + ["completed"]
    assert [f["data"].get("node") for f in got[:4]] == [
        "classify_question",
        "agent_sql_generation",
        "agent_sql_execution",
        "format_response",
    ]
    assert [f["message"] for f in got] == [
        "正在执行: 分析问题类型",
        "正在执行: SQL生成成功",
        "正在执行: 执行数据查询",
        "正在执行：格式化响应结果",
        "处理完成",
    ]
    cid = got[0]["data"]["conversation_id"]
    assert cid.startswith("wang1:") and all(f["data"]["conversation_id"] == cid for f in got)
    done = got[-1]["data"]
    assert done["response_type"] == "DATABASE" and done["sql"] == TOP3_SQL
    assert done["query_result"]["row_count"] == 3 and done["summary"] == done["response"]
    assert set(done) == {
        "type", "response", "response_type", "sql", "query_result", "summary",
        "conversation_id", "execution_path", "classification_info", "timestamp", "chart",
    }  # fmt: skip
    assert done["chart"]["usermeta"]["citu"]["kind"] == "bar"  # three areas and their revenue
    messages = await saved(redis, cid)
    assert messages[-1]["metadata"]["classification_info"] == done["classification_info"]


async def test_stream_chat_frames_in_order(client, fake_llm, installed):
    script(fake_llm)
    response = await client.get(
        "/api/v0/ask_agent_stream", query_string={"question": "荔枝一般几月上市"}
    )
    got = frames(await response.get_data())
    assert [f["data"].get("node", f["data"]["type"]) for f in got] == [
        "classify_question",
        "agent_chat",
        "format_response",
        "completed",
    ]
    assert got[0]["data"]["details"] == "问题类型: CHAT (置信度: 0.85)"
    assert got[0]["data"]["sub_status"] == "使用rule_based_non_business方法分类"
    done = got[-1]["data"]
    assert done["response_type"] == "CHAT" and done["response"] == "荔枝一般在5-7月上市。"
    assert done["sql"] is None and done["query_result"] is None and done["summary"] is None


async def test_stream_failed_query_explains_in_the_completed_frame(client, fake_llm, installed):
    script(fake_llm, sql="SELECT company_no::int AS 编号 FROM bss_company;")
    response = await client.get(
        "/api/v0/ask_agent_stream",
        query_string={"question": "公司编号", "routing_mode": "database_direct"},
    )
    got = frames(await response.get_data())
    assert got[2]["data"]["node"] == "agent_sql_execution"
    assert got[2]["data"]["sub_status"] == "查询执行失败"
    assert got[-1]["data"]["type"] == "completed"
    assert got[-1]["data"]["response"] == "SQL执行失败: SQL执行出错：数据格式无效"


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({}, "缺少必需参数：question"),
        ({"question": "q", "routing_mode": "fast"}, "无效的routing_mode参数值: fast"),
        (
            {"question": "q", "user_id": "bob", "conversation_id": "alice:1"},
            "用户ID不匹配：conversation_id中的用户ID 'alice' 与提供的用户ID 'bob' 不一致",
        ),
    ],
)
async def test_stream_bad_input_is_one_error_frame(client, installed, query, error):
    response = await client.get("/api/v0/ask_agent_stream", query_string=query)
    assert response.status_code == 200
    got = frames(await response.get_data())
    assert len(got) == 1
    assert got[0]["code"] == 500 and got[0]["message"] == "处理失败"
    assert got[0]["data"]["type"] == "error" and got[0]["data"]["error"] == error


async def test_stream_llm_failure_is_an_error_frame(client, fake_llm, installed):
    fake_llm.fail(500)
    response = await client.get(
        "/api/v0/ask_agent_stream", query_string={"question": "你好", "routing_mode": "chat_direct"}
    )
    got = frames(await response.get_data())
    assert [f["data"]["type"] for f in got] == ["progress", "error"]
    assert got[-1]["data"]["error"] == "AI服务暂时不可用，请稍后重试"


async def test_stream_cache_hit_is_one_completed_frame(services, client, fake_llm, installed):
    services.settings.enable_question_answer_cache = True
    script(fake_llm)
    await client.post("/api/v0/ask_agent", json={"question": "荔枝一般几月上市", "user_id": "u1"})
    calls = len(fake_llm.requests)
    response = await client.get(
        "/api/v0/ask_agent_stream", query_string={"question": "荔枝一般几月上市", "user_id": "u1"}
    )
    got = frames(await response.get_data())
    assert len(fake_llm.requests) == calls
    assert len(got) == 1 and got[0]["data"]["type"] == "completed"
    assert got[0]["data"]["response"] == "荔枝一般在5-7月上市。"
    assert got[0]["data"]["conversation_id"].startswith("u1:")  # the old stream sent null


async def test_stream_client_disconnect_stops_cleanly_and_keeps_the_answer(
    client, fake_llm, installed, redis
):
    fake_llm.hang(0.5, "稍等后的回答")
    async with client.request(
        "/api/v0/ask_agent_stream?question=%E4%BD%A0%E5%A5%BD&routing_mode=chat_direct"
    ) as connection:
        await connection.send_complete()
        first = await connection.receive()
        assert b'"node": "classify_question"' in first
        await connection.disconnect()
    # The turn finishes in the background and its answer is saved.
    [cid] = await redis.lrange("user:guest:conversations", 0, -1)
    for _ in range(50):
        messages = await saved(redis, cid)
        if len(messages) == 2:
            break
        await asyncio.sleep(0.05)
    assert [m["content"] for m in messages] == ["你好", "稍等后的回答"]


# ---- GET /api/v0/agent_health ----------------------------------------------------------


async def test_agent_health_is_healthy_and_cached(client, fake_llm, installed):
    body = await (await client.get("/api/v0/agent_health")).get_json()
    assert body["code"] == 200 and body["data"]["status"] == "healthy"
    assert body["data"]["checks"] == {
        "agent_creation": True,
        "tools_import": True,
        "llm_connection": True,
        "classifier_ready": True,
    }
    assert body["data"]["tools_count"] == 4 and body["data"]["message"] == "Agent健康检查完成"
    calls = len(fake_llm.requests)
    assert calls >= 1
    again = await client.get("/api/v0/agent_health")
    assert again.status_code == 200 and len(fake_llm.requests) == calls


async def test_agent_health_degraded_when_the_llm_fails(client, fake_llm, installed):
    fake_llm.when(lambda messages: True, {"status": 500})
    response = await client.get("/api/v0/agent_health")
    body = await response.get_json()
    assert response.status_code == 503 and body["data"]["status"] == "degraded"
    assert body["message"].startswith("完整测试失败: ")
    assert body["data"]["response"] == "部分组件异常" and "message" not in body["data"]


# ---- direct routes ---------------------------------------------------------------------


async def test_direct_ask(client, fake_llm, services, installed):
    script(fake_llm)
    response = await client.post("/api/v0/ask", json={"question": "收入前三的服务区是哪些"})
    body = await response.get_json()
    assert response.status_code == 200
    data = body["data"]
    assert data["sql"] == TOP3_SQL and data["query_result"]["row_count"] == 3
    assert data["query_result"]["total_row_count"] == 3
    assert data["summary"] == data["response"] == "收入前三的服务区为庐山服务区等。"
    assert data["conversation_id"].startswith("guest:") and len(data["conversation_id"]) == 23
    # Not added to the training data unless CITU_ASK_AUTO_TRAIN is set.
    assert (await services.training.counts())["sql"] == 1


async def test_direct_ask_auto_train_is_opt_in(client, fake_llm, services, installed):
    services.settings.ask_auto_train = True
    script(fake_llm)
    await client.post("/api/v0/ask", json={"question": "收入前三", "conversation_id": "me:1"})
    assert (await services.training.counts())["sql"] == 2
    context = await services.retriever.retrieve("收入前三")
    assert {"question": "收入前三", "sql": TOP3_SQL} in [
        {"question": p["question"], "sql": p["sql"]} for p in context.question_sql
    ]


async def test_direct_ask_explanation_is_422(client, fake_llm, services, installed):
    script(fake_llm, sql="抱歉，没有天气数据。")
    response = await client.post("/api/v0/ask", json={"question": "天气"})
    body = await response.get_json()
    assert response.status_code == 422
    assert body["data"]["response"] == "抱歉，没有天气数据。请尝试提问其它问题。"


async def test_direct_ask_missing_question_and_empty_body(client, services, installed):
    response = await client.post("/api/v0/ask", json={})
    assert response.status_code == 400
    assert (await response.get_json())["data"]["missing_params"] == ["question"]
    response = await client.post(
        "/api/v0/ask", data="", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


async def test_ask_cached_answers_a_repeat_from_the_cache(client, fake_llm, services, installed):
    script(fake_llm)
    first = await (
        await client.post("/api/v0/ask_cached", json={"question": "收入前三", "user_id": "a"})
    ).get_json()
    calls = len(fake_llm.requests)
    second = await (
        await client.post("/api/v0/ask_cached", json={"question": "收入前三", "user_id": "a"})
    ).get_json()
    other = await (
        await client.post("/api/v0/ask_cached", json={"question": "收入前三", "user_id": "b"})
    ).get_json()
    assert first["data"]["cached"] is False and second["data"]["cached"] is True
    assert second["data"]["query_result"] == first["data"]["query_result"]
    assert other["data"]["cached"] is False
    assert len(fake_llm.requests) == calls + 2  # only user b's question asked the LLM


async def test_citu_run_sql(client, services, installed):
    services.settings.api_max_return_rows = 2
    body = await (
        await client.post(
            "/api/v0/citu_run_sql", json={"sql": "SELECT company_no FROM bss_company ORDER BY 1"}
        )
    ).get_json()
    total = await services.require_business_db().fetchval("SELECT count(*) FROM bss_company")
    assert body["code"] == 200
    assert body["data"]["query_result"]["row_count"] == 2
    assert body["data"]["query_result"]["total_row_count"] == total
    assert body["data"]["query_result"]["is_limited"] is True
    assert body["data"]["response"] == f"SQL执行完成，共返回 {total} 条记录，已限制显示前 2 条"


async def test_citu_run_sql_refuses_writes_and_reports_errors(client, services, installed):
    refused = await client.post("/api/v0/citu_run_sql", json={"sql": "DELETE FROM bss_company"})
    assert refused.status_code == 422
    assert (await refused.get_json())["data"][
        "response"
    ] == "SQL安全检查未通过: 检测到写操作: DELETE"
    broken = await client.post("/api/v0/citu_run_sql", json={"sql": "SELECT nope FROM bss_company"})
    assert broken.status_code == 500
    assert (await broken.get_json())["data"]["response"].startswith(
        "SQL执行失败，请检查SQL语句是否正确"
    )
    missing = await client.post("/api/v0/citu_run_sql", json={})
    assert missing.status_code == 400
    assert (await missing.get_json())["data"]["missing_params"] == ["sql"]


async def test_without_llm_ask_agent_is_503(settings):
    settings.llm_base_url = None
    app = create_app(settings)
    async with app.test_app():
        response = await app.test_client().post("/api/v0/ask_agent", json={"question": "你好"})
        health = await app.test_client().get("/api/v0/agent_health")
    assert response.status_code == 503 and (await response.get_json())["data"]["can_retry"] is False
    assert health.status_code == 503 and (await health.get_json())["data"]["status"] == "unhealthy"


# The superuser: with the tests' reader role, missing grants would stop the write first.
@pytest.mark.privileged_business_role
async def test_write_fails_in_the_read_only_transaction_even_without_the_guard(
    client, fake_llm, installed, services, monkeypatch
):
    # Second layer: with the parser check bypassed, the database itself refuses the write
    # (the result cap's subquery cannot hold a DELETE; the READ ONLY transaction is next).
    from citu.sql.guard import SqlCheck, SqlGuard

    def no_guard(self: SqlGuard, sql: str) -> SqlCheck:
        return SqlCheck(ok=True, statement=sql.strip().rstrip(";"))

    monkeypatch.setattr(SqlGuard, "check_now", no_guard)
    script(
        fake_llm, sql="DELETE FROM bss_company RETURNING id;", repairs=["DELETE FROM bss_company;"]
    )
    pool = services.require_business_db()
    before = await pool.fetchval("SELECT count(*) FROM bss_company")
    response = await client.post(
        "/api/v0/ask_agent", json={"question": "删除所有公司", "routing_mode": "database_direct"}
    )
    body = await response.get_json()
    assert response.status_code == 500 and body["success"] is False
    assert body["data"]["response"].startswith("SQL执行失败")
    assert await pool.fetchval("SELECT count(*) FROM bss_company") == before


async def test_stream_continue_conversation_reuses_the_latest_one(client, fake_llm, installed):
    script(fake_llm)
    first = await (
        await client.post(
            "/api/v0/ask_agent", json={"question": "荔枝一般几月上市", "user_id": "c1"}
        )
    ).get_json()
    query = {"question": "那苹果呢", "user_id": "c1", "continue_conversation": "TRUE"}
    got = frames(
        await (await client.get("/api/v0/ask_agent_stream", query_string=query)).get_data()
    )
    assert got[-1]["data"]["conversation_id"] == first["data"]["conversation_id"]
    chat_prompt = fake_llm.requests[-1]["messages"][-1]["content"]
    assert chat_prompt.startswith("\n[CONTEXT]\nUser: 荔枝一般几月上市\n")
    query["continue_conversation"] = "yes"  # only "true" counts, as before
    got = frames(
        await (await client.get("/api/v0/ask_agent_stream", query_string=query)).get_data()
    )
    assert got[-1]["data"]["conversation_id"] != first["data"]["conversation_id"]


# ---- admission: the CPU-bound start in arrival order, the model waits overlapping -----------


async def test_one_admission_slot_still_overlaps_the_model_waits(settings, fake_llm):
    settings.ask_admission_limit = 1
    fake_llm.latency = 0.6
    async with started(settings) as client:

        async def ask(user: str) -> dict:
            response = await client.post(
                "/api/v0/ask_agent",
                json={"question": "你好", "user_id": user, "routing_mode": "chat_direct"},
            )
            assert response.status_code == 200
            return await response.get_json()

        began = asyncio.get_running_loop().time()
        bodies = await asyncio.gather(*(ask(f"gate{i}") for i in range(4)))
        elapsed = asyncio.get_running_loop().time() - began
    assert all(b["data"]["type"] == "CHAT" for b in bodies)
    # Held across the model call, one slot would serialise the four turns: >= 2.4 s.
    assert elapsed < 1.5


async def test_direct_ask_does_not_auto_train_in_read_only_mode(
    client, fake_llm, services, installed, redis
):
    """The switch is turned on by another worker (straight in Redis): /ask still answers, and
    the executed pair is not added to the training data."""
    from citu.ops.maintenance import MaintenanceSwitch

    services.settings.ask_auto_train = True
    await MaintenanceSwitch(redis).set(True, "another worker")
    script(fake_llm)
    response = await client.post("/api/v0/ask", json={"question": "收入前三"})
    assert response.status_code == 200
    assert (await services.training.counts())["sql"] == 1


async def test_agent_health_never_fails_while_reporting_the_llm_connected(
    client, fake_llm, installed
):
    fake_llm.when(lambda messages: True, {"status": 500})
    body = await (await client.get("/api/v0/agent_health")).get_json()
    assert body["data"]["status"] == "degraded"
    assert body["data"]["checks"]["llm_connection"] is False
    assert body["data"]["endpoints"]["llm"]["status"] == "ok"  # it answers, but not well


async def test_agent_health_names_a_model_url_without_v1(settings, fake_llm):
    settings.llm_base_url = fake_llm.base_url.removesuffix("/v1")
    app = create_app(settings)
    async with app.test_app():
        response = await app.test_client().get("/api/v0/agent_health")
        body = await response.get_json()
    assert response.status_code == 503 and body["data"]["status"] == "degraded"
    assert body["data"]["checks"]["llm_connection"] is False
    assert body["data"]["endpoints"]["llm"]["http_status"] == 404
    assert "end in /v1?" in body["message"] and settings.llm_base_url in body["message"]
    assert "test-llm-key" not in json.dumps(body, ensure_ascii=False)
