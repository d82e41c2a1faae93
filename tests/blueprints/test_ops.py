"""Ops routes on the real app: metrics JSON, Prometheus text, the read-only switch, admin key."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families
from quart import Quart

from citu.app import create_app
from citu.settings import Settings


def with_test_routes(app: Quart) -> Quart:
    """Test-only routes: a failure, a parametrised read, writes, and a read-only POST."""

    @app.get("/test/boom")
    async def boom():
        raise RuntimeError("boom")

    @app.get("/test/items/<int:item_id>")
    async def read_item(item_id: int):
        return {"item": item_id}

    @app.post("/test/items")
    async def create_item():
        return {"created": True}

    @app.delete("/test/items/<int:item_id>")
    async def delete_item(item_id: int):
        return {"deleted": item_id}

    @app.post("/api/v0/data_pipeline/tasks/<task_id>/logs/query")
    async def query_logs(task_id: str):
        return {"task_id": task_id}

    return app


@pytest.fixture
async def ops_app(settings: Settings):
    app = with_test_routes(create_app(settings))
    async with app.test_app():
        yield app


@pytest.fixture
def ops_client(ops_app):
    return ops_app.test_client()


def samples(text: str, name: str) -> dict[tuple, float]:
    """``{(label items...): value}`` of one sample name in Prometheus text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def labels(**items) -> tuple:
    return tuple(sorted(items.items()))


async def scrape(client) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    return (await response.get_data()).decode()


# ---- GET /api/v0/metrics -----------------------------------------------------------------------


async def test_metrics_json_reflects_the_requests_made(ops_client):
    for _ in range(3):
        assert (await ops_client.get("/")).status_code == 200
    assert (await ops_client.get("/test/boom")).status_code == 500
    response = await ops_client.get("/api/v0/metrics")
    body = await response.get_json()
    assert response.status_code == 200
    assert body["code"] == 200 and body["success"] is True and body["message"] == "操作成功"
    data = body["data"]
    assert data["response"] == "获取系统指标成功" and data["timestamp"]
    assert data["request_count"] == 4 and data["error_count"] == 1
    assert data["error_rate"] == 25.0
    assert 0 < data["min_response_time"] <= data["avg_response_time"] <= data["max_response_time"]
    assert set(data["system_stats"]) == {
        "cpu_percent",
        "memory_percent",
        "disk_percent",
        "timestamp",
    }
    again = (await (await ops_client.get("/api/v0/metrics")).get_json())["data"]
    assert again["request_count"] == 5  # the first metrics call is counted once it answered


# ---- GET /metrics ----------------------------------------------------------------------------


async def test_prometheus_counts_requests_by_url_rule_and_status(ops_client):
    await ops_client.get("/test/items/1")
    await ops_client.get("/test/items/2")
    await ops_client.get("/test/boom")
    await ops_client.get("/no/such/page")
    await ops_client.open("/test/items/1", method="BREW")
    text = await scrape(ops_client)
    counts = samples(text, "citu_http_requests_total")
    item = {"method": "GET", "route": "/test/items/<int:item_id>"}
    assert counts[labels(**item, status="200")] == 2
    assert counts[labels(method="GET", route="/test/boom", status="500")] == 1
    assert counts[labels(method="GET", route="<unmatched>", status="404")] == 1
    assert counts[labels(method="OTHER", route="<unmatched>", status="405")] == 1
    assert "/test/items/1" not in text and "/no/such/page" not in text
    histogram = samples(text, "citu_http_request_duration_seconds_count")
    assert histogram[labels(**item, status="200")] == 2
    buckets = samples(text, "citu_http_request_duration_seconds_bucket")
    assert buckets[labels(**item, status="200", le="+Inf")] == 2
    later = samples(await scrape(ops_client), "citu_http_requests_total")
    assert later[labels(method="GET", route="/metrics", status="200")] == 1


async def test_prometheus_times_llm_and_embedding_calls(ops_app, ops_client, fake_llm):
    services = ops_app.extensions["citu"]
    fake_llm.reply("你好")
    await services.llm.ainvoke("hi")
    fake_llm.reply("流式回答")
    chunks = [chunk.content async for chunk in services.llm.astream("stream please")]
    assert "".join(chunks) == "流式回答"
    fake_llm.fail(500)
    with pytest.raises(Exception, match="500|Internal"):
        await services.llm.ainvoke("fails")
    await services.embeddings.aembed_query("服务区")
    text = await scrape(ops_client)
    calls = samples(text, "citu_model_call_duration_seconds_count")
    assert calls[labels(kind="llm")] == 3 and calls[labels(kind="embedding")] == 1
    errors = samples(text, "citu_model_call_errors_total")
    assert errors == {labels(kind="llm", reason="500"): 1}


async def test_prometheus_reports_pool_usage(ops_client, settings):
    connections = samples(await scrape(ops_client), "citu_pool_connections")
    assert connections[labels(pool="database", state="max")] == settings.db_pool_max
    assert connections[labels(pool="business_database", state="max")] == settings.business_pool_max
    assert connections[labels(pool="database", state="idle")] >= 1
    assert labels(pool="redis", state="in_use") in connections


async def test_pipeline_tasks_by_status_tolerate_a_missing_table(ops_app, ops_client):
    services = ops_app.extensions["citu"]
    async with services.db.acquire() as conn:
        # The pipeline schema creates the table; an older database may not have it.
        await conn.execute("DROP TABLE data_pipeline_tasks CASCADE")
    text = await scrape(ops_client)
    assert "citu_pipeline_tasks" in text and samples(text, "citu_pipeline_tasks") == {}
    async with services.db.acquire() as conn:
        await conn.execute(
            "CREATE TABLE data_pipeline_tasks (task_id varchar(32) PRIMARY KEY, status varchar(20))"
        )
        await conn.execute(
            "INSERT INTO data_pipeline_tasks VALUES ('t1','pending'),('t2','pending'),('t3','completed')"
        )
    tasks = samples(await scrape(ops_client), "citu_pipeline_tasks")
    assert tasks == {labels(status="pending"): 2, labels(status="completed"): 1}


# ---- maintenance read-only mode ------------------------------------------------------------


async def set_read_only(client, enabled: bool, **extra):
    return await client.post(
        "/api/v0/maintenance/readonly", json={"enabled": enabled, **extra.pop("body", {})}, **extra
    )


async def test_read_only_mode_blocks_writes_and_lets_reads_through(ops_client):
    state = await (await ops_client.get("/api/v0/maintenance/readonly")).get_json()
    assert state["data"]["enabled"] is False
    assert (await ops_client.post("/test/items")).status_code == 200

    response = await set_read_only(ops_client, True, body={"reason": "升级数据库"})
    body = await response.get_json()
    assert response.status_code == 200 and body["data"]["response"] == "只读维护模式已开启"
    assert body["data"]["enabled"] is True and body["data"]["reason"] == "升级数据库"

    for blocked in (ops_client.post("/test/items"), ops_client.delete("/test/items/3")):
        response = await blocked
        body = await response.get_json()
        assert response.status_code == 503 and body["code"] == 503 and body["success"] is False
        assert body["message"] == "服务暂时不可用" and "只读模式" in body["data"]["response"]
        assert body["data"]["read_only"] is True and body["data"]["can_retry"] is True

    assert (await ops_client.get("/test/items/3")).status_code == 200
    assert (await ops_client.get("/health")).status_code == 200
    logs = await ops_client.post("/api/v0/data_pipeline/tasks/t1/logs/query", json={})
    assert logs.status_code == 404  # a read-only POST reaches its route (no such task), no 503
    assert (await ops_client.post("/no/such/route")).status_code == 404
    state = await (await ops_client.get("/api/v0/maintenance/readonly")).get_json()
    assert state["data"]["enabled"] is True and state["data"]["response"] == "系统处于只读维护模式"

    assert (await set_read_only(ops_client, False)).status_code == 200
    assert (await ops_client.post("/test/items")).status_code == 200
    counts = samples(await scrape(ops_client), "citu_http_requests_total")
    assert counts[labels(method="POST", route="/test/items", status="503")] == 1


async def test_read_only_mode_is_shared_by_app_instances(settings: Settings):
    settings.maintenance_cache_seconds = 0.2
    first = with_test_routes(create_app(settings))
    second = with_test_routes(create_app(settings.model_copy()))
    async with first.test_app(), second.test_app():
        a, b = first.test_client(), second.test_client()
        assert (await b.post("/test/items")).status_code == 200
        assert (await set_read_only(a, True)).status_code == 200
        await asyncio.sleep(0.3)  # b's cached copy expires
        assert (await b.post("/test/items")).status_code == 503
        assert (await b.delete("/test/items/1")).status_code == 503
        assert (await b.get("/test/items/1")).status_code == 200
        assert (await (await b.get("/api/v0/maintenance/readonly")).get_json())["data"]["enabled"]
        assert (await set_read_only(b, False)).status_code == 200
        await asyncio.sleep(0.3)
        assert (await a.post("/test/items")).status_code == 200


async def test_read_only_switch_fails_open_without_redis(settings: Settings):
    settings.redis_url = "redis://127.0.0.1:1/0"
    settings.redis_timeout = 0.5
    app = with_test_routes(create_app(settings))
    async with app.test_app():
        client = app.test_client()
        assert (await client.post("/test/items")).status_code == 200
        response = await client.get("/api/v0/maintenance/readonly")
        assert response.status_code == 503
        assert (await response.get_json())["message"] == "服务暂时不可用"


@pytest.mark.parametrize(
    "body", [{"enabled": "yes"}, {"enabled": 1}, {}, {"enabled": True, "reason": "x" * 501}]
)
async def test_read_only_switch_validates_its_body(ops_client, body):
    response = await ops_client.post("/api/v0/maintenance/readonly", json=body)
    payload = await response.get_json()
    assert response.status_code == 400 and payload["code"] == 400
    assert payload["data"]["invalid_params"]


async def test_read_only_switch_requires_the_admin_key_when_configured(settings: Settings):
    settings.admin_api_key = "admin-s3cret"
    app = create_app(settings)
    async with app.test_app():
        client = app.test_client()
        for headers in (
            {},
            {"X-API-Key": "wrong"},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Basic admin-s3cret"},
        ):
            response = await set_read_only(client, True, headers=headers)
            body = await response.get_json()
            assert response.status_code == 401 and body["code"] == 401
            assert body["success"] is False and body["data"]["error_type"] == "unauthorized"
        state = await (await client.get("/api/v0/maintenance/readonly")).get_json()
        assert state["data"]["enabled"] is False  # nothing changed; reading needs no key
        ok = await set_read_only(client, True, headers={"X-API-Key": "admin-s3cret"})
        assert ok.status_code == 200
        ok = await set_read_only(client, False, headers={"Authorization": "Bearer admin-s3cret"})
        assert ok.status_code == 200


async def test_ops_routes_are_documented(ops_client):
    spec = await (await ops_client.get("/openapi.json")).get_json()
    assert {"/api/v0/metrics", "/metrics", "/api/v0/maintenance/readonly"} <= set(spec["paths"])
    post = spec["paths"]["/api/v0/maintenance/readonly"]["post"]
    assert post["summary"] and "requestBody" in post
