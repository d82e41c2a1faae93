"""Typed errors that handlers raise; ``register_error_handlers`` turns each into the envelope.

Handlers raise instead of formatting, so every failure of a kind looks the same on the wire.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
from pydantic import ValidationError
from quart import Quart, Response, request
from quart_schema import RequestSchemaValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException

from citu import failures
from citu import responses as r

log = logging.getLogger("citu.errors")


class ApiError(Exception):
    """An error that already knows its envelope and HTTP status."""

    status = 500
    # A stable code for ``data.error_type`` (docs/errors.md); None keeps the envelope's own.
    error_type: str | None = None

    def body(self) -> dict[str, Any]:
        return r.internal_error_response(str(self))


class BadRequest(ApiError):
    status = 400

    def __init__(
        self,
        text: str,
        *,
        missing_params: list[str] | None = None,
        invalid_params: list[str] | None = None,
    ) -> None:
        super().__init__(text)
        self.missing_params = missing_params
        self.invalid_params = invalid_params

    def body(self) -> dict[str, Any]:
        return r.bad_request_response(str(self), self.missing_params, self.invalid_params)


class Unauthorized(ApiError):
    status = 401

    def body(self) -> dict[str, Any]:
        return r.error_response(str(self), "unauthorized", "未授权访问", 401)


class NotFound(ApiError):
    status = 404

    def body(self) -> dict[str, Any]:
        return r.not_found_response(str(self))


class Conflict(ApiError):
    status = 409

    def body(self) -> dict[str, Any]:
        return r.error_response(str(self), "conflict", r.Msg.PROCESSING_FAILED, 409)


class ServiceUnavailable(ApiError):
    status = 503

    def __init__(self, text: str, *, can_retry: bool = True, error_type: str | None = None) -> None:
        super().__init__(text)
        self.can_retry = can_retry
        if error_type is not None:
            self.error_type = error_type

    def body(self) -> dict[str, Any]:
        body = r.service_unavailable_response(str(self), self.can_retry)
        if self.error_type:
            body["data"]["error_type"] = self.error_type
        return body


class ValidationFailed(ApiError):
    """422 ``validation_failed_response``: a well-formed but unusable value."""

    status = 422

    def body(self) -> dict[str, Any]:
        return r.validation_failed_response(str(self))


class BodyNotJson(BadRequest):
    """The request body is not JSON (or not readable as UTF-8); ``detail`` is the parser's
    account, for routes whose contract echoes it."""

    def __init__(self, text: str, *, detail: str = "") -> None:
        super().__init__(text)
        self.detail = detail


class BodyNotObject(BadRequest):
    """The request body is JSON but not the object the route needs."""


class GatewayTimeout(ApiError):
    status = 504

    def body(self) -> dict[str, Any]:
        error_type = self.error_type or r.ErrorType.NETWORK_ERROR
        return r.error_response(
            str(self), error_type, r.Msg.SERVICE_UNAVAILABLE, 504, can_retry=True
        )


# citu's own database is down: the app answers these with the 503 envelope below.
DATABASE_DOWN: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.TooManyConnectionsError,
    ConnectionRefusedError,
)
REDIS_DOWN: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError)

# Everything the handlers registered below answer better than a route's generic 500 text: a
# route-level catch-all must let these through (``citu.web.failures.fails_with`` does).
PASS_THROUGH: tuple[type[BaseException], ...] = (
    ApiError,
    HTTPException,
    asyncio.CancelledError,
    *REDIS_DOWN,
    *DATABASE_DOWN,
)


def validation_details(error: Exception) -> tuple[str, list[str]]:
    """A readable sentence and the offending field names of a pydantic error."""
    cause = getattr(error, "validation_error", error)
    if isinstance(cause, ValidationError):
        fields = [".".join(str(p) for p in e["loc"]) or "body" for e in cause.errors()]
        text = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in cause.errors()
        )
        return f"请求参数无效: {text}", sorted(set(fields))
    return f"请求参数无效: {cause}", []


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(ApiError)
    async def _api_error(error: ApiError) -> Response:
        return r.reply(error.body(), error.status)

    @app.errorhandler(RequestSchemaValidationError)
    async def _schema_error(error: RequestSchemaValidationError) -> Response:
        text, fields = validation_details(error)
        return r.reply(r.bad_request_response(text, invalid_params=fields or None), 400)

    @app.errorhandler(UnicodeDecodeError)
    async def _undecodable_body(error: UnicodeDecodeError) -> Response:
        # Quart decodes a JSON body as UTF-8 and lets the error escape as a 500.
        return r.reply(r.bad_request_response("请求体不是有效的UTF-8编码JSON"), 400)

    @app.errorhandler(RedisConnectionError)  # the members of REDIS_DOWN
    @app.errorhandler(RedisTimeoutError)
    async def _redis_down(error: Exception) -> Response:
        log.warning("Redis unavailable: %s", error)
        body = r.service_unavailable_response(failures.REDIS_UNAVAILABLE_TEXT)
        body["data"]["error_type"] = failures.REDIS_UNAVAILABLE
        return r.reply(body, 503)

    async def _database_down(error: Exception) -> Response:
        log.warning("database unavailable: %s", error)
        body = r.service_unavailable_response(failures.DATABASE_UNAVAILABLE_TEXT)
        body["data"]["error_type"] = failures.DATABASE_UNAVAILABLE
        return r.reply(body, 503)

    for kind in DATABASE_DOWN:
        app.register_error_handler(kind, _database_down)

    @app.errorhandler(HTTPException)
    async def _http_error(error: HTTPException) -> Response:
        code = error.code or 500
        return r.reply(_http_error_body(error, code), code)

    @app.errorhandler(Exception)
    async def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error: %s", error)
        # An upstream failure that no route caught still gets citu's own text, never its own.
        failure = failures.describe(error)
        body = r.internal_error_response(failure.text, can_retry=failure.can_retry)
        body["code"] = failure.status
        body["data"]["error_type"] = failure.error_type
        if failure.status in (503, 504):
            body["message"] = r.Msg.SERVICE_UNAVAILABLE
        return r.reply(body, failure.status)


def _http_error_body(error: HTTPException, code: int) -> dict[str, Any]:
    """The envelope for a protocol-level refusal (unknown path, wrong method, body too large…)."""
    if code == 404:
        return r.not_found_response(f"接口不存在: {request.method} {request.path}")
    if code == 405:
        return r.error_response(
            "请求方法不被允许", r.ErrorType.INVALID_PARAMS, r.Msg.BAD_REQUEST, 405
        )
    if code == 413:
        return r.error_response("请求体过大", r.ErrorType.INVALID_PARAMS, r.Msg.BAD_REQUEST, 413)
    if code < 500:
        body = r.bad_request_response(error.description or "请求无效")
    else:
        body = r.internal_error_response("服务器内部错误，请稍后重试")
    body["code"] = code
    return body
