"""One rule for upstream failures: the client gets citu's own text and a stable ``error_type``,
never the upstream's words.

An LLM provider may quote the rejected key in its 401 text; PostgreSQL's messages quote values,
column names and sometimes connection details. ``describe`` turns any exception into a
``Failure`` built only from citu's own texts; the caller logs the exception itself (the log
handlers redact it). ``pg_error_text`` does the same for a PostgreSQL SQLSTATE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import asyncpg
import httpx
import openai

# Stable error codes sent as ``data.error_type`` (the table is in docs/errors.md).
LLM_UNAVAILABLE = "llm_unavailable"
LLM_TIMEOUT = "llm_timeout"
LLM_AUTH_FAILED = "llm_auth_failed"
EMBEDDING_UNAVAILABLE = "embedding_unavailable"
EMBEDDING_AUTH_FAILED = "embedding_auth_failed"
DATABASE_UNAVAILABLE = "database_unavailable"
DATABASE_ERROR = "database_error"
REDIS_UNAVAILABLE = "redis_unavailable"
SQL_REFUSED = "sql_refused"
SQL_TIMEOUT = "sql_timeout"
SQL_ERROR = "sql_error"
INTERNAL_ERROR = "internal_error"
INVALID_REQUEST = "invalid_request"
NOT_FOUND = "not_found"
CONFLICT = "conflict"
AGENT_UNAVAILABLE = "agent_unavailable"  # the agent is not configured or failed to start
TIMEOUT = "timeout"  # citu's own time limit for a whole turn
SERVICE_STOPPING = "service_stopping"

LLM_UNAVAILABLE_TEXT = "AI服务暂时不可用，请稍后重试"
LLM_TIMEOUT_TEXT = "AI服务响应超时，请稍后重试"
LLM_AUTH_TEXT = "AI服务认证失败，请联系管理员检查配置"
EMBEDDING_UNAVAILABLE_TEXT = "Embedding服务暂时不可用，请稍后重试"
EMBEDDING_AUTH_TEXT = "Embedding服务认证失败，请联系管理员检查配置"
DATABASE_UNAVAILABLE_TEXT = "数据库服务不可用，请稍后重试"
DATABASE_ERROR_TEXT = "数据库操作失败"
REDIS_UNAVAILABLE_TEXT = "Redis服务不可用，请稍后重试"
INTERNAL_ERROR_TEXT = "服务器内部错误，请稍后重试"


@dataclass(frozen=True)
class Failure:
    """What a client may learn about a failure."""

    error_type: str
    text: str
    status: int
    can_retry: bool


# SQLSTATE classes and codes → citu's own text; the first match by longest prefix wins.
_PG_TEXTS: dict[str, tuple[str, str]] = {
    "42601": (SQL_ERROR, "SQL语法错误"),
    "42P01": (SQL_ERROR, "SQL引用了不存在的表"),
    "42703": (SQL_ERROR, "SQL引用了不存在的列"),
    "42883": (SQL_ERROR, "SQL调用了不存在的函数或参数类型不匹配"),
    "42803": (SQL_ERROR, "SQL分组（GROUP BY）使用错误"),
    "42702": (SQL_ERROR, "SQL中的列名有歧义"),
    "42804": (SQL_ERROR, "SQL中的数据类型不匹配"),
    "42501": (SQL_REFUSED, "没有执行该查询的权限"),
    "42": (SQL_ERROR, "SQL语法或引用错误"),
    "22012": (SQL_ERROR, "SQL执行出错：除数为零"),
    "22P02": (SQL_ERROR, "SQL执行出错：数据格式无效"),
    "22": (SQL_ERROR, "SQL执行出错：数据异常"),
    "21": (SQL_ERROR, "SQL执行出错：基数违规（子查询返回了多行）"),
    "25006": (SQL_REFUSED, "只读事务中不允许写操作"),
    "57014": (SQL_TIMEOUT, "查询超时，请简化查询条件后重试"),
    "53": (DATABASE_UNAVAILABLE, "数据库资源不足，请稍后重试"),
    "54": (SQL_ERROR, "SQL超出了数据库的限制"),
    "57": (DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_TEXT),
    "08": (DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_TEXT),
    "28": (DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_TEXT),
    "3D": (DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_TEXT),
    "0A": (SQL_REFUSED, "数据库不支持该操作"),
}


def pg_error(sqlstate: str | None) -> tuple[str, str]:
    """``(error_type, text)`` for a PostgreSQL SQLSTATE, in citu's words."""
    code = (sqlstate or "").upper()
    for length in (5, 2):
        entry = _PG_TEXTS.get(code[:length])
        if entry is not None:
            return entry
    return SQL_ERROR if code else DATABASE_ERROR, "SQL执行失败" if code else DATABASE_ERROR_TEXT


def pg_error_text(sqlstate: str | None) -> str:
    return pg_error(sqlstate)[1]


def _is_embeddings_call(error: BaseException) -> bool:
    request = getattr(error, "request", None)
    try:
        return request is not None and str(request.url.path).endswith("/embeddings")
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError without a request
        return False


# As the openai SDK: timeouts, conflicts, rate limits and server errors are worth another try;
# the other 4xx are configuration problems.
RETRYABLE_4XX = frozenset({408, 409, 429})


def is_retryable_status(status: int | None) -> bool:
    """Whether a model service's HTTP status (None: no answer at all) is worth another try."""
    return status is None or status in RETRYABLE_4XX or status >= 500


def model_failure(error: BaseException, *, embeddings: bool) -> Failure | None:
    """The account of one failed call to the LLM or embedding service; None if not one."""
    if isinstance(error, openai.APITimeoutError | httpx.TimeoutException):
        if embeddings:
            return Failure(EMBEDDING_UNAVAILABLE, EMBEDDING_UNAVAILABLE_TEXT, 503, True)
        return Failure(LLM_TIMEOUT, LLM_TIMEOUT_TEXT, 504, True)
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        if embeddings:
            return Failure(EMBEDDING_AUTH_FAILED, EMBEDDING_AUTH_TEXT, 503, False)
        return Failure(LLM_AUTH_FAILED, LLM_AUTH_TEXT, 503, False)
    if isinstance(error, openai.APIError | httpx.HTTPError):
        retry = is_retryable_status(getattr(error, "status_code", None))
        if embeddings:
            return Failure(EMBEDDING_UNAVAILABLE, EMBEDDING_UNAVAILABLE_TEXT, 503, retry)
        return Failure(LLM_UNAVAILABLE, LLM_UNAVAILABLE_TEXT, 503, retry)
    return None


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


@runtime_checkable
class OwnError(Protocol):
    """What ``citu.errors.ApiError`` offers (seen by shape: that module imports this one)."""

    status: int
    error_type: str | None

    def body(self) -> dict[str, Any]: ...


def describe(error: BaseException) -> Failure:
    """The client-safe account of ``error`` (its cause chain decides the kind)."""
    chain = _chain(error)
    embeddings = any(_is_embeddings_call(e) for e in chain) or any(
        type(e).__name__ == "EmbeddingError" for e in chain
    )
    for item in chain:
        failure = model_failure(item, embeddings=embeddings)
        if failure is not None:
            return failure
    if isinstance(error, OwnError):
        # citu's own text; its kind is the one its JSON envelope carries.
        data = error.body().get("data")
        error_type = error.error_type or (
            data.get("error_type") if isinstance(data, dict) else None
        )
        return Failure(
            error_type or INTERNAL_ERROR,
            str(error),
            error.status,
            bool(getattr(error, "can_retry", error.status >= 500)),
        )
    for item in chain:
        if isinstance(item, asyncpg.PostgresError):
            error_type, text = pg_error(getattr(item, "sqlstate", None))
            status = 503 if error_type == DATABASE_UNAVAILABLE else 500
            return Failure(error_type, text, status, status == 503)
        sqlstate = getattr(item, "sqlstate", None)  # psycopg errors
        if isinstance(sqlstate, str) and type(item).__module__.startswith("psycopg"):
            error_type, text = pg_error(sqlstate)
            status = 503 if error_type == DATABASE_UNAVAILABLE else 500
            return Failure(error_type, text, status, status == 503)
        if type(item).__module__.startswith("psycopg") and "Operational" in type(item).__name__:
            return Failure(DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_TEXT, 503, True)
        if type(item).__module__.startswith("redis"):
            return Failure(REDIS_UNAVAILABLE, REDIS_UNAVAILABLE_TEXT, 503, True)
        if isinstance(item, ConnectionError):
            return Failure(DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_TEXT, 503, True)
    return Failure(INTERNAL_ERROR, INTERNAL_ERROR_TEXT, 500, True)


def public_text(error: BaseException) -> str:
    """citu's own short text for ``error``, safe to show to anyone."""
    return describe(error).text
