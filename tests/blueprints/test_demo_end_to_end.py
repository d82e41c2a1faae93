"""With the fake server in demo mode, every flow answers the curated demo questions correctly:
ask_agent returns each question's rows, the ReAct agent goes through its tools, and a complete
pipeline run over the demo tables succeeds."""

from __future__ import annotations

import asyncio

import pytest

from citu.db.demo import DEMO_TABLES
from citu.db.demo_training import curated_pairs, train_demo
from citu.sql.runner import run_read_only
from fakes.demo_llm import UNKNOWN_QUESTION, install_demo_mode

PAIRS = curated_pairs()


@pytest.fixture
async def demo(services, fake_llm):
    """The demo's training data loaded, the fake answering as the demo model."""
    await train_demo(services.training, services.business_db)
    return install_demo_mode(fake_llm)


async def test_every_curated_question_through_ask_agent(client, services, demo):
    wrong = []
    for pair in PAIRS:
        response = await client.post(
            "/api/v0/ask_agent", json={"question": pair.question, "user_id": "demo"}
        )
        data = (await response.get_json())["data"]
        expected = await run_read_only(
            services.business_db, pair.sql, max_rows=services.settings.api_max_return_rows
        )
        got = data.get("records") or {}
        if (
            response.status_code != 200
            or data.get("type") != "DATABASE"
            or data.get("sql") != pair.sql
            or got.get("columns") != expected.columns
            or got.get("rows") != expected.rows
        ):
            wrong.append((pair.id, response.status_code, data.get("type"), data.get("sql")))
    assert not wrong, wrong


async def test_unknown_question_gets_an_honest_explanation(client, demo):
    response = await client.post("/api/v0/ask_agent", json={"question": "各服务区的员工人数"})
    data = (await response.get_json())["data"]
    assert "sql" not in data or not data.get("records")
    assert UNKNOWN_QUESTION in data["response"]


async def test_override_map_answers_a_question_wrongly_on_purpose(client, fake_llm, services):
    await train_demo(services.training, services.business_db)
    pair = PAIRS[0]
    wrong_sql = "SELECT service_area_name AS 服务区名称 FROM bss_service_area LIMIT 1;"
    install_demo_mode(fake_llm, {pair.question: wrong_sql})
    response = await client.post("/api/v0/ask_agent", json={"question": pair.question})
    assert (await response.get_json())["data"]["sql"] == wrong_sql


async def test_react_agent_answers_a_demo_question_through_its_tools(client, services, demo):
    pair = next(p for p in PAIRS if p.id == "demo-034")  # one row, one number
    expected = await run_read_only(services.business_db, pair.sql)

    response = await client.post(
        "/api/v0/ask_react_agent", json={"question": pair.question, "user_id": "demo"}
    )
    body = await response.get_json()

    assert response.status_code == 200, body
    data = body["data"]
    assert data["sql"] == pair.sql
    assert data["records"]["rows"] == expected.rows
    assert data["react_agent_meta"]["tools_used"] == ["generate_sql", "valid_sql", "run_sql"]
    assert "查询共返回 1 行数据" in data["response"]


async def test_react_agent_answers_chat_without_tools(client, demo):
    response = await client.post(
        "/api/v0/ask_react_agent", json={"question": "你好", "user_id": "demo"}
    )
    data = (await response.get_json())["data"]
    assert data["react_agent_meta"]["tools_used"] == []
    assert "演示模型" in data["response"]


async def wait_done(client, task_id: str, limit: float = 120.0) -> dict:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        data = (await (await client.get(f"/api/v0/data_pipeline/tasks/{task_id}")).get_json())[
            "data"
        ]
        if data["status"] != "in_progress":
            return data
        assert asyncio.get_running_loop().time() < deadline, data
        await asyncio.sleep(0.2)


async def test_complete_pipeline_run_over_the_demo_tables(client, services, fake_llm):
    install_demo_mode(fake_llm)
    services.settings.pipeline_llm_retry_delay = 0.01
    base = "/api/v0/data_pipeline"
    response = await client.post(
        f"{base}/tasks", json={"task_name": "演示", "business_context": "高速公路服务区管理系统"}
    )
    assert response.status_code == 201
    task_id = (await response.get_json())["data"]["task_id"]
    response = await client.post(
        f"{base}/tasks/{task_id}/table-list", json={"tables": list(DEMO_TABLES)}
    )
    assert response.status_code == 200

    response = await client.post(f"{base}/tasks/{task_id}/execute", json={})
    assert response.status_code == 202
    status = await wait_done(client, task_id)

    assert status["status"] == "completed", status
    assert set(status["step_status"].values()) == {"completed"}
    # The pipeline's pairs (the demo model hands out the curated ones of the first
    # pipeline_theme_count topics) all passed validation and reached the store.
    records, _ = await services.training.store.query(
        kind="sql", keyword=None, sort_by="id", descending=False, limit=1000, offset=0
    )
    curated = {(p.question, p.sql) for p in PAIRS}
    assert len(records) >= 20
    assert all((r["question"], r["content"]) in curated for r in records)
    assert (await services.training.counts())["ddl"] == len(DEMO_TABLES)
