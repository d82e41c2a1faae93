"""``fails_with``: a route's own 500 text for the unexpected, the app's answer for the rest."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from quart import Quart
from redis.exceptions import ConnectionError as RedisConnectionError

from citu import responses as r
from citu.errors import BadRequest, register_error_handlers
from citu.web.failures import fails_with, passes_through

SECRET = "password=hunter2"


def build_app() -> Quart:
    app = Quart(__name__)
    register_error_handlers(app)

    def route(path: str, error: BaseException, **options) -> None:
        @fails_with("查询失败，请稍后重试", **options)
        async def handler():
            raise error

        handler.__name__ = path.strip("/").replace("/", "_")
        app.post(path)(handler)

    route("/unexpected", RuntimeError(SECRET))
    route("/typed", BadRequest("缺少参数"))
    route("/typed/200", BadRequest("缺少参数"), http_status=200)
    route("/redis", RedisConnectionError(SECRET))
    route("/pg", asyncpg.exceptions.CannotConnectNowError(SECRET))
    route("/refused", ConnectionRefusedError(SECRET))
    route("/refused/client", ConnectionRefusedError(SECRET), client_database=True)

    @app.post("/reason")
    @fails_with("训练失败: {error}", http_status=200, reason=True)
    async def reason():
        raise ConnectionResetError(SECRET)

    @app.post("/fine")
    @fails_with("不会出现")
    async def fine():
        return r.reply(r.success_response("好", {}))

    return app


@pytest.fixture
async def client():
    app = build_app()
    async with app.test_app():
        yield app.test_client()


async def call(client, path: str) -> tuple[int, dict]:
    response = await client.post(path)
    body = await response.get_json()
    assert SECRET not in str(body)
    return response.status_code, body


async def test_an_unexpected_error_answers_the_routes_own_text(client):
    status, body = await call(client, "/unexpected")
    assert status == 500 and body["code"] == 500
    assert body["data"]["response"] == "查询失败，请稍后重试"
    assert body["data"]["error_type"] == "database_error"


async def test_a_typed_error_keeps_its_own_envelope(client):
    status, body = await call(client, "/typed")
    assert status == 400 and body["data"]["response"] == "缺少参数"


async def test_a_route_that_always_answers_200_sends_typed_errors_with_200(client):
    status, body = await call(client, "/typed/200")
    assert status == 200 and body["code"] == 400 and body["data"]["response"] == "缺少参数"


@pytest.mark.parametrize(
    ("path", "error_type"),
    [("/redis", "redis_unavailable"), ("/pg", "database_unavailable")],
)
async def test_an_outage_reaches_the_apps_503(client, path, error_type):
    status, body = await call(client, path)
    assert status == 503 and body["data"]["error_type"] == error_type


async def test_a_refused_connection_is_citus_database_down_unless_the_client_chose_it(client):
    status, body = await call(client, "/refused")
    assert status == 503 and body["data"]["error_type"] == "database_unavailable"
    status, body = await call(client, "/refused/client")
    assert status == 500 and body["data"]["response"] == "查询失败，请稍后重试"


async def test_reason_fills_in_citus_account_and_its_code(client):
    status, body = await call(client, "/reason")
    assert status == 200 and body["code"] == 500
    assert body["data"]["response"] == "训练失败: 数据库服务不可用，请稍后重试"
    assert body["data"]["error_type"] == "database_unavailable"


async def test_a_success_is_untouched(client):
    status, body = await call(client, "/fine")
    assert status == 200 and body["data"]["response"] == "好"


def test_cancellation_always_passes_through():
    assert passes_through(asyncio.CancelledError())
    assert not passes_through(ValueError("x"))
