"""A route's own answer to an unexpected failure: ``@fails_with("获取…失败，请稍后重试")``.

The old service answered each route's unexpected errors with a fixed Chinese 500 text, and the
frontend shows it. Errors the app-wide handlers answer better (typed API errors, protocol
refusals, Redis or citu's database down) pass through to them untouched, so a failure of one
kind looks the same on every route.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Response

from citu import failures
from citu import responses as r
from citu.errors import PASS_THROUGH, ApiError

Handler = Callable[..., Awaitable[Any]]


def fails_with(
    text: str,
    *,
    http_status: int | None = None,
    reason: bool = False,
    client_database: bool = False,
) -> Callable:
    """Answer an unexpected error with ``text`` in the 500 envelope (the log keeps the error).

    ``reason``: ``{error}`` in ``text`` becomes citu's short account of the failure and
    ``data.error_type`` its stable code. ``http_status``: every answer of the route, typed API
    errors included, goes out with this HTTP status (routes whose contract always said 200).
    ``client_database``: see ``passes_through``.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await handler(*args, **kwargs)
            except Exception as error:
                if passes_through(error, client_database=client_database):
                    if http_status is None or not isinstance(error, ApiError):
                        raise
                    return r.reply(error.body(), http_status)
                # Logged under the route's module, so the line names its blueprint.
                logging.getLogger(handler.__module__).exception("%s failed", handler.__name__)
                return _failure_reply(text, error, http_status, reason)

        return wrapper

    return decorate


def passes_through(error: BaseException, *, client_database: bool = False) -> bool:
    """Whether the app-wide handlers, not the route, answer ``error``.

    ``client_database``: the route connects to a database the request named, so a refused
    connection is the route's own failure, not citu's database being down.
    """
    if client_database and isinstance(error, ConnectionRefusedError):
        return False
    return isinstance(error, PASS_THROUGH)


def _failure_reply(text: str, error: Exception, http_status: int | None, reason: bool) -> Response:
    if not reason:
        return r.reply(r.internal_error_response(text), http_status)
    failure = failures.describe(error)
    body = r.internal_error_response(text.format(error=failure.text))
    body["data"]["error_type"] = failure.error_type
    return r.reply(body, http_status)
