"""Administrative routes: the admin API key check (off while ``CITU_ADMIN_API_KEY`` is unset)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

from quart import request
from quart_schema import security_scheme
from werkzeug.datastructures import Headers

from citu.errors import Unauthorized
from citu.services import services

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])

# The OpenAPI security scheme name (declared in ``create_app``) of the admin routes.
ADMIN_SCHEME = "AdminApiKey"
OPENAPI_SECURITY_SCHEMES = {
    ADMIN_SCHEME: {"type": "apiKey", "in_": "header", "name": "X-API-Key"},
}


def presented_key(headers: Headers) -> str | None:
    """The key a caller sent: ``X-API-Key``, or ``Authorization: Bearer <key>``."""
    key = headers.get("X-API-Key")
    if key:
        return key
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def check_admin_key(expected: str | None, headers: Headers) -> None:
    if not expected:
        return
    key = presented_key(headers)
    # compare_digest: the time taken must not tell how much of a guess was right.
    if key is None or not hmac.compare_digest(key.encode(), expected.encode()):
        raise Unauthorized("需要有效的管理员密钥（请求头 X-API-Key 或 Authorization: Bearer）")


def require_admin(handler: Handler) -> Handler:
    """Refuse the route with 401 unless the admin key is presented (when one is configured).

    Put it above ``validate_request`` so a caller without the key learns nothing about the body.
    """

    @wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        check_admin_key(services().settings.admin_api_key, request.headers)
        return await handler(*args, **kwargs)

    return security_scheme([{ADMIN_SCHEME: []}])(wrapper)  # type: ignore[return-value]


def require_admin_when(flag: str) -> Callable[[Handler], Handler]:
    """``require_admin`` while the boolean setting ``flag`` is true (an operator's choice: the
    route stays open by default because the unchanged frontend calls it without a key)."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            settings = services().settings
            if getattr(settings, flag):
                check_admin_key(settings.admin_api_key, request.headers)
            return await handler(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
