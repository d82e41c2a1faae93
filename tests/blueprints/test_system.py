"""The system blueprint and the app shell: health, banner, errors as envelopes, OpenAPI, lifecycle."""

from __future__ import annotations

import json
import logging

import pytest
from quart import request

from citu.app import create_app


async def test_index(client):
    response = await client.get("/")
    assert response.status_code == 200
    body = await response.get_json()
    assert body["message"] == "统一API服务正在运行" and body["version"] == "1.0.0"


async def test_health_all_components_up(client):
    response = await client.get("/health")
    body = await response.get_json()
    assert response.status_code == 200
    assert body["status"] == "healthy"
    assert body["services"] == {
        "redis": True,
        "vanna": True,
        "database": True,
        "business_database": True,
        "llm": True,
        "embeddings": True,
    }
    assert "degraded_components" not in body and body["react_agent_initialized"] is True


async def test_health_degraded_when_redis_unreachable(settings):
    settings.redis_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.redis_timeout = 0.5
    app = create_app(settings)
    async with app.test_app():  # starting must not fail without Redis
        response = await app.test_client().get("/health")
        body = await response.get_json()
    assert response.status_code == 200
    assert body["status"] == "degraded" and body["services"]["redis"] is False
    assert body["degraded_components"] == ["redis"]


async def test_redis_probe_reports_connection(client, redis):
    await redis.set("checkpoint:wang1:20250101000000000:x", "1")
    body = await (await client.get("/api/test/redis")).get_json()
    assert body["success"] is True and body["data"]["redis_connected"] is True
    assert body["data"]["total_checkpoint_keys"] == 1 and body["data"]["users_found"] == ["wang1"]


async def test_unknown_path_is_a_404_envelope(client):
    response = await client.get("/api/v0/no_such_route")
    body = await response.get_json()
    assert response.status_code == 404
    assert body["code"] == 404 and body["success"] is False and body["message"] == "资源未找到"
    assert body["data"]["error_type"] == "resource_not_found"


async def test_wrong_method_is_a_405_envelope(client):
    response = await client.post("/health")
    body = await response.get_json()
    assert response.status_code == 405 and body["code"] == 405 and body["success"] is False


async def test_oversized_body_is_a_413_envelope(settings):
    settings.max_content_length = 100
    app = create_app(settings)

    @app.post("/echo")
    async def echo():
        return {"size": len(await request.get_data())}

    async with app.test_app():
        response = await app.test_client().post("/echo", data="x" * 1000)
    body = await response.get_json()
    assert response.status_code == 413 and body["code"] == 413


async def test_unexpected_error_is_a_500_envelope(settings):
    app = create_app(settings)

    @app.get("/boom")
    async def boom():
        raise RuntimeError("kaput")

    async with app.test_app():
        response = await app.test_client().get("/boom")
    body = await response.get_json()
    assert response.status_code == 500 and body["message"] == "系统内部错误"
    assert body["data"]["can_retry"] is True and "kaput" not in body["data"]["response"]


async def test_openapi_document_is_raw_utf8(client):
    response = await client.get("/openapi.json")
    text = (await response.get_data()).decode()
    assert response.status_code == 200
    assert '"openapi"' in text and "/health" in text and "\\u" not in text


async def test_request_id_header_and_log_line(client, settings):
    response = await client.get("/health", headers={"X-Request-ID": "abc123"})
    assert response.headers["X-Request-ID"] == "abc123"
    generated = (await client.get("/")).headers["X-Request-ID"]
    assert len(generated) == 32


async def test_lifecycle_closes_pools(settings):
    app = create_app(settings)
    services = app.extensions["citu"]
    async with app.test_app():
        assert services.db is not None and not services.db._closed
        db, business = services.db, services.business_db
    assert db._closed and business._closed
    assert services.http.is_closed


async def test_business_pool_is_read_only(services):
    async with services.business_db.acquire() as conn:
        assert await conn.fetchval("SHOW default_transaction_read_only") == "on"
        with pytest.raises(Exception, match="read-only"):
            await conn.execute("CREATE TABLE should_fail (id int)")


async def test_secrets_never_reach_the_logs(settings, caplog):
    app = create_app(settings)
    async with app.test_app():
        logging.getLogger("citu.test").warning(
            "connecting to postgresql://admin:hunter2@db:5432/x with key %s", "test-llm-key"
        )
    log_text = (settings.log_dir / "app.log").read_text(encoding="utf-8")
    assert "hunter2" not in log_text and "test-llm-key" not in log_text
    assert "postgresql://admin:***@db:5432/x" in log_text


async def test_starts_on_an_empty_database(settings, embedded_pg_url):
    """A brand-new database (no template) gets the vector extension and schema at start."""
    import uuid

    import asyncpg

    from citu.db.embedded import with_database

    name = f"citu_empty_{uuid.uuid4().hex[:8]}"
    settings.database_url = with_database(embedded_pg_url, name)  # created by the app itself
    app = create_app(settings)
    try:
        async with app.test_app():
            body = await (await app.test_client().get("/health")).get_json()
        assert body["services"]["database"] is True
    finally:
        admin = await asyncpg.connect(embedded_pg_url)
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def test_json_body_is_read_whatever_its_content_type(client):
    """The old service parsed bodies with force=True; a text/plain JSON post must still work."""
    body = {"question": "南城服务区营业额", "sql": "SELECT 1", "is_thumb_up": True, "user_id": "u1"}
    response = await client.post(
        "/api/v0/qa_feedback/add",
        data=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert response.status_code == 200, await response.get_data()
    broken = await client.post(
        "/api/v0/qa_feedback/add", data=b"{not json", headers={"Content-Type": "text/plain"}
    )
    assert broken.status_code == 400 and (await broken.get_json())["success"] is False


# ---- model and embedding endpoints: probed, not just configured --------------------------


async def test_health_names_a_model_url_without_v1(settings, fake_llm):
    settings.llm_base_url = fake_llm.base_url.removesuffix("/v1")
    app = create_app(settings)
    async with app.test_app():
        response = await app.test_client().get("/health")
        body = await response.get_json()
    assert response.status_code == 200
    assert body["status"] == "degraded" and body["degraded_components"] == ["llm"]
    assert body["services"]["llm"] is False and body["services"]["embeddings"] is True
    llm = body["endpoints"]["llm"]
    assert llm["status"] == "unreachable" and llm["http_status"] == 404
    assert llm["url"] == settings.llm_base_url and "end in /v1?" in llm["hint"]
    assert body["problems"] == [llm["detail"]] and settings.llm_base_url in llm["detail"]
    assert body["endpoints"]["embeddings"]["status"] == "ok"
    assert "test-llm-key" not in json.dumps(body)


async def test_health_tells_unreachable_from_not_configured(settings):
    settings.llm_base_url = "http://127.0.0.1:1/v1"  # nothing listens on port 1
    settings.embedding_base_url = None
    app = create_app(settings)
    async with app.test_app():
        body = await (await app.test_client().get("/health")).get_json()
    assert body["status"] == "degraded"
    assert body["degraded_components"] == ["llm", "embeddings"]
    assert body["endpoints"]["llm"]["status"] == "unreachable"
    assert body["endpoints"]["llm"]["hint"] == "connection refused: nothing listens at 127.0.0.1:1"
    assert body["endpoints"]["embeddings"]["status"] == "not_configured"


async def test_health_reports_endpoints_when_all_is_well(client):
    body = await (await client.get("/health")).get_json()
    assert {e["status"] for e in body["endpoints"].values()} == {"ok"}
    assert "problems" not in body
