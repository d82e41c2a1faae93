"""Reachability of the model and embedding endpoints, for ``/health`` and ``agent_health``.

Both settings can be present and still wrong (a base URL without ``/v1``, a rejected key,
nothing listening), so the health routes ask the endpoint itself: ``GET {base}/models``, and
when a provider has no models listing, the cheapest real call (one completion token, one
short embedding). Results are cached (``endpoint_probe_cache_seconds``) and a probe in flight
is shared, so a health check never costs a model call per request. The report carries the
base URL without credentials, the HTTP status and a hint: never the key nor the upstream body.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from citu.settings import Settings

State = Literal["ok", "unreachable", "not_configured"]
EndpointName = Literal["llm", "embeddings"]

# A models listing missing (404/405) is common on compatible servers: try one real call.
_NO_LISTING = {404, 405, 501}


@dataclass(frozen=True)
class EndpointStatus:
    name: EndpointName
    state: State
    url: str | None = None
    http_status: int | None = None
    hint: str | None = None
    checked_path: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    @property
    def detail(self) -> str | None:
        """One line naming the endpoint and what to check, or None when it answers."""
        if self.state == "ok":
            return None
        if self.state == "not_configured":
            return f"{self.name}: not configured ({self.hint})"
        status = f" answered HTTP {self.http_status}" if self.http_status else ""
        where = f"{self.url}{self.checked_path or ''}"
        return f"{self.name}: {where}{status} — {self.hint}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.state,
            "url": self.url,
            "http_status": self.http_status,
            "hint": self.hint,
            "detail": self.detail,
        }


def public_url(url: str) -> str:
    """The base URL without user info, query or fragment: safe to show to any client."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def hint_for_status(status: int, path: str) -> str:
    if status == 404:
        return f"{path} not found: does the base URL end in /v1?"
    if status in (401, 403):
        return "the API key was rejected: check the *_API_KEY setting"
    if status == 429:
        return "rate limited or out of quota"
    if status >= 500:
        return "the endpoint reported a server error"
    return f"unexpected HTTP {status} from {path}"


def hint_for_error(error: httpx.HTTPError, url: str, timeout: float) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    where = f"{parts.hostname}:{port}"
    if isinstance(error, httpx.TimeoutException):
        return f"no answer from {where} within {timeout:g} s"
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused: nothing listens at {where}"
        if isinstance(cause, socket.gaierror):
            return f"the host name {parts.hostname} does not resolve"
        cause = cause.__cause__ or cause.__context__
    if "refused" in str(error).lower():
        return f"connection refused: nothing listens at {where}"
    return f"cannot connect to {where} ({type(error).__name__})"


@dataclass(frozen=True)
class _Target:
    name: EndpointName
    base_url: str | None
    api_key: str | None
    model: str
    setting: str  # the environment variable to set when it is missing


class EndpointProbe:
    """Probes the two endpoints on demand, at most once per cache period each."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self.cache_seconds = settings.endpoint_probe_cache_seconds
        self.timeout = settings.endpoint_probe_timeout
        self._targets = {
            "llm": _Target(
                "llm",
                settings.llm_base_url,
                settings.llm_api_key,
                settings.llm_model,
                "CITU_LLM_BASE_URL",
            ),
            "embeddings": _Target(
                "embeddings",
                settings.embedding_base_url,
                settings.embedding_api_key,
                settings.embedding_model,
                "CITU_EMBEDDING_BASE_URL",
            ),
        }
        # Its own small client: a probe must not wait behind model calls for a connection.
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout),
            transport=transport,
            follow_redirects=False,
        )
        self._cache: dict[str, tuple[float, EndpointStatus]] = {}
        self._locks = {name: asyncio.Lock() for name in self._targets}

    async def status(self, name: EndpointName) -> EndpointStatus:
        target = self._targets[name]
        if not target.base_url:
            return EndpointStatus(name, "not_configured", hint=f"set {target.setting}")
        async with self._locks[name]:  # concurrent health checks share one probe
            cached = self._cache.get(name)
            if cached and time.monotonic() - cached[0] < self.cache_seconds:
                return cached[1]
            result = await self._probe(target)
            self._cache[name] = (time.monotonic(), result)
            return result

    async def all(self) -> dict[str, EndpointStatus]:
        llm, embeddings = await asyncio.gather(self.status("llm"), self.status("embeddings"))
        return {"llm": llm, "embeddings": embeddings}

    async def _probe(self, target: _Target) -> EndpointStatus:
        assert target.base_url is not None
        base = target.base_url.rstrip("/")
        shown = public_url(base)
        headers = {"Authorization": f"Bearer {target.api_key or 'not-needed'}"}
        path = "/models"
        try:
            status = await self._status_of("GET", base + path, headers)
            if status in _NO_LISTING:
                path, status = await self._smallest_call(target, base, headers)
        except httpx.HTTPError as error:
            hint = hint_for_error(error, base, self.timeout)
            return EndpointStatus(target.name, "unreachable", shown, None, hint, path)
        if 200 <= status < 300:
            return EndpointStatus(target.name, "ok", shown, status)
        hint = hint_for_status(status, path)
        return EndpointStatus(target.name, "unreachable", shown, status, hint, path)

    async def _status_of(
        self, method: str, url: str, headers: dict[str, str], body: dict[str, Any] | None = None
    ) -> int:
        # Only the status matters: the body is never read, so its size cannot hurt.
        async with self._http.stream(method, url, headers=headers, json=body) as response:
            return response.status_code

    async def _smallest_call(
        self, target: _Target, base: str, headers: dict[str, str]
    ) -> tuple[str, int]:
        if target.name == "llm":
            path = "/chat/completions"
            body: dict[str, Any] = {
                "model": target.model,
                "messages": [{"role": "user", "content": "ping"}],
                "max_tokens": 1,
            }
        else:
            path = "/embeddings"
            body = {"model": target.model, "input": "ping"}
        return path, await self._status_of("POST", base + path, headers, body)

    async def aclose(self) -> None:
        await self._http.aclose()
