"""``failures.describe``: every exception becomes citu's own text and a stable code."""

from __future__ import annotations

import asyncpg
import httpx
import openai
import psycopg
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from citu import failures
from citu.errors import BadRequest, NotFound
from citu.llm.calls import LlmTimeout, LlmUnavailable
from citu.training.embedder import EmbeddingError

KEY = "sk-canary-abcdefghijklmnop"
CHAT = httpx.Request("POST", "http://llm.example/v1/chat/completions")
EMBED = httpx.Request("POST", "http://llm.example/v1/embeddings")


def status_error(cls, status: int, request: httpx.Request = CHAT):
    response = httpx.Response(status, request=request, json={"error": {"message": KEY}})
    return cls(
        f"Error code: {status} - Incorrect API key provided: {KEY}", response=response, body=None
    )


def chained(outer: BaseException, cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise outer from inner
    except BaseException as caught:  # noqa: BLE001
        return caught


@pytest.mark.parametrize(
    "error,error_type,status,can_retry",
    [
        (status_error(openai.AuthenticationError, 401), "llm_auth_failed", 503, False),
        (status_error(openai.PermissionDeniedError, 403), "llm_auth_failed", 503, False),
        (status_error(openai.AuthenticationError, 401, EMBED), "embedding_auth_failed", 503, False),
        (status_error(openai.InternalServerError, 500), "llm_unavailable", 503, True),
        (status_error(openai.RateLimitError, 429), "llm_unavailable", 503, True),
        (status_error(openai.BadRequestError, 400), "llm_unavailable", 503, False),
        (status_error(openai.InternalServerError, 502, EMBED), "embedding_unavailable", 503, True),
        (openai.APITimeoutError(request=CHAT), "llm_timeout", 504, True),
        (openai.APIConnectionError(request=CHAT), "llm_unavailable", 503, True),
        (httpx.ReadTimeout("slow", request=CHAT), "llm_timeout", 504, True),
        (
            asyncpg.exceptions.UndefinedTableError(f'relation "{KEY}" does not exist'),
            "sql_error",
            500,
            False,
        ),
        (asyncpg.exceptions.QueryCanceledError("canceling statement"), "sql_timeout", 500, False),
        (
            asyncpg.exceptions.InvalidPasswordError(f"password {KEY}"),
            "database_unavailable",
            503,
            True,
        ),
        (
            asyncpg.exceptions.InsufficientPrivilegeError("permission denied"),
            "sql_refused",
            500,
            False,
        ),
        (
            psycopg.OperationalError(f"connection to postgresql://u:{KEY}@h failed"),
            "database_unavailable",
            503,
            True,
        ),
        (psycopg.errors.UndefinedColumn(f"column {KEY} does not exist"), "sql_error", 500, False),
        (RedisConnectionError(f"redis://:{KEY}@h"), "redis_unavailable", 503, True),
        (ConnectionRefusedError(f"connect to {KEY}"), "database_unavailable", 503, True),
        (RuntimeError(KEY), "internal_error", 500, True),
        (ValueError(KEY), "internal_error", 500, True),
    ],
)
def test_describe_never_repeats_the_upstream_text(error, error_type, status, can_retry) -> None:
    failure = failures.describe(error)
    assert (failure.error_type, failure.status, failure.can_retry) == (
        error_type,
        status,
        can_retry,
    )
    assert KEY not in failure.text and "canary" not in failure.text


def test_the_cause_chain_decides_the_kind() -> None:
    wrapped = chained(
        LlmUnavailable("AI服务暂时不可用，请稍后重试"),
        status_error(openai.AuthenticationError, 401),
    )
    assert failures.describe(wrapped).error_type == "llm_auth_failed"
    wrapped = chained(
        EmbeddingError("Embedding服务暂时不可用"), status_error(openai.InternalServerError, 500)
    )
    assert failures.describe(wrapped).error_type == "embedding_unavailable"
    wrapped = chained(
        RuntimeError("wrapper"), asyncpg.exceptions.DivisionByZeroError("division by zero")
    )
    assert failures.describe(wrapped).text == "SQL执行出错：除数为零"


def test_citu_errors_keep_their_text_and_envelope_code() -> None:
    assert failures.describe(BadRequest("缺少必需参数：sql")) == failures.Failure(
        "missing_required_params", "缺少必需参数：sql", 400, False
    )
    assert failures.describe(NotFound("任务不存在: x")).error_type == "resource_not_found"
    assert failures.describe(LlmTimeout("AI服务响应超时，请稍后重试")).error_type == "llm_timeout"


@pytest.mark.parametrize(
    "sqlstate,error_type,text",
    [
        ("42P01", "sql_error", "SQL引用了不存在的表"),
        ("42703", "sql_error", "SQL引用了不存在的列"),
        ("42601", "sql_error", "SQL语法错误"),
        ("42P99", "sql_error", "SQL语法或引用错误"),
        ("22012", "sql_error", "SQL执行出错：除数为零"),
        ("22003", "sql_error", "SQL执行出错：数据异常"),
        ("57014", "sql_timeout", "查询超时，请简化查询条件后重试"),
        ("25006", "sql_refused", "只读事务中不允许写操作"),
        ("08006", "database_unavailable", "数据库服务不可用，请稍后重试"),
        ("XX000", "sql_error", "SQL执行失败"),
        (None, "database_error", "数据库操作失败"),
    ],
)
def test_sqlstate_texts(sqlstate, error_type, text) -> None:
    assert failures.pg_error(sqlstate) == (error_type, text)


async def test_an_uncaught_upstream_error_gets_citus_text(settings) -> None:
    from citu.app import create_app

    app = create_app(settings)

    @app.get("/test-only/boom")
    async def boom():
        raise status_error(openai.AuthenticationError, 401)

    @app.get("/test-only/pg")
    async def pg():
        raise asyncpg.exceptions.UndefinedColumnError(f'column "{KEY}" does not exist')

    async with app.test_app():
        client = app.test_client()
        response = await client.get("/test-only/boom")
        body = await response.get_json()
        assert response.status_code == 503 and body["data"]["error_type"] == "llm_auth_failed"
        assert body["data"]["request_id"] == response.headers["X-Request-ID"]
        assert KEY not in await response.get_data(as_text=True)
        response = await client.get("/test-only/pg")
        body = await response.get_json()
        assert response.status_code == 500 and body["data"]["error_type"] == "sql_error"
        assert body["data"]["response"] == "SQL引用了不存在的列"
        assert KEY not in await response.get_data(as_text=True)
