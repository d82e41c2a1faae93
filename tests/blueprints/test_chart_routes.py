"""Answers with rows carry a ``chart`` (ask_agent, its stream, ask, citu_run_sql, ReAct) with
the demo fake; none at all when CITU_ENABLE_CHARTS is false."""

from __future__ import annotations

import json

import pytest

from citu.app import create_app
from citu.charts import spec_problems
from citu.db.demo_training import curated_pairs, train_demo
from citu.settings import Settings
from fakes.demo_llm import install_demo_mode

PAIRS = {pair.id: pair for pair in curated_pairs()}
BY_AREA = PAIRS["demo-002"]  # area + revenue: bar
DAILY = PAIRS["demo-004"]  # day + revenue: line
COUNT = PAIRS["demo-034"]  # one row, one number: KPI


@pytest.fixture
async def demo(services, fake_llm):
    await train_demo(services.training, services.business_db)
    return install_demo_mode(fake_llm)


def assert_chart_of(chart: dict, records: dict, kind: str) -> None:
    assert chart["usermeta"]["citu"]["kind"] == kind
    assert chart["usermeta"]["citu"]["rows"] == len(records["rows"])
    assert spec_problems(chart, records["columns"], 200) == []


@pytest.mark.parametrize(("pair", "kind"), [(BY_AREA, "bar"), (DAILY, "line"), (COUNT, "kpi")])
async def test_ask_agent_answers_carry_a_chart(client, demo, pair, kind):
    response = await client.post("/api/v0/ask_agent", json={"question": pair.question})
    data = (await response.get_json())["data"]
    assert response.status_code == 200 and data["sql"] == pair.sql
    assert_chart_of(data["chart"], data["records"], kind)


async def test_a_cached_ask_agent_answer_carries_its_chart_too(client, demo, services):
    services.settings.enable_question_answer_cache = True
    for _ in range(2):
        response = await client.post("/api/v0/ask_agent", json={"question": BY_AREA.question})
        data = (await response.get_json())["data"]
    assert data["from_cache"] is True
    assert_chart_of(data["chart"], data["records"], "bar")


async def test_the_stream_completed_frame_carries_the_chart(client, demo):
    response = await client.get(
        "/api/v0/ask_agent_stream", query_string={"question": DAILY.question}
    )
    frames = [
        json.loads(line.removeprefix("data: "))
        for line in (await response.get_data(as_text=True)).split("\n\n")
        if line.startswith("data: ")
    ]
    done = frames[-1]["data"]
    assert done["type"] == "completed"
    assert_chart_of(done["chart"], done["query_result"], "line")
    assert all("chart" not in f["data"] for f in frames[:-1])


async def test_ask_and_ask_cached_answers_carry_a_chart(client, demo):
    for route in ("/api/v0/ask", "/api/v0/ask_cached"):
        response = await client.post(route, json={"question": BY_AREA.question})
        data = (await response.get_json())["data"]
        assert response.status_code == 200, data
        assert_chart_of(data["chart"], data["query_result"], "bar")


async def test_run_sql_answers_carry_a_chart(client):
    sql = (
        "SELECT service_name AS 服务区, SUM(pay_sum) AS 营收 FROM bss_business_day_data GROUP BY 1"
    )
    response = await client.post("/api/v0/citu_run_sql", json={"sql": sql})
    data = (await response.get_json())["data"]
    assert_chart_of(data["chart"], data["query_result"], "bar")


async def test_an_answer_without_rows_has_no_chart_key(client):
    response = await client.post("/api/v0/citu_run_sql", json={"sql": "SELECT 1 AS n WHERE false"})
    data = (await response.get_json())["data"]
    assert response.status_code == 200 and "chart" not in data


async def test_react_answers_carry_a_chart(client, demo):
    response = await client.post("/api/v0/ask_react_agent", json={"question": COUNT.question})
    data = (await response.get_json())["data"]
    assert response.status_code == 200, data
    assert_chart_of(data["chart"], data["records"], "kpi")


def test_the_setting_reads_citu_enable_charts(monkeypatch):
    assert Settings(_env_file=None).enable_charts is True
    monkeypatch.setenv("CITU_ENABLE_CHARTS", "false")
    assert Settings(_env_file=None).enable_charts is False


@pytest.fixture
async def charts_off(settings, fake_llm):
    app = create_app(settings.model_copy(update={"enable_charts": False}))
    async with app.test_app():
        services = app.extensions["citu"]
        await train_demo(services.training, services.business_db)
        install_demo_mode(fake_llm)
        yield app.test_client()


async def test_charts_off_means_no_chart_key_anywhere(charts_off):
    response = await charts_off.post("/api/v0/ask_agent", json={"question": BY_AREA.question})
    data = (await response.get_json())["data"]
    assert data["records"]["rows"] and "chart" not in data
    response = await charts_off.post("/api/v0/ask", json={"question": BY_AREA.question})
    data = (await response.get_json())["data"]
    assert data["query_result"]["rows"] and "chart" not in data
    response = await charts_off.get(
        "/api/v0/ask_agent_stream", query_string={"question": BY_AREA.question}
    )
    assert "chart" not in await response.get_data(as_text=True)
    response = await charts_off.post("/api/v0/ask_react_agent", json={"question": COUNT.question})
    data = (await response.get_json())["data"]
    assert data["records"]["rows"] and "chart" not in data
