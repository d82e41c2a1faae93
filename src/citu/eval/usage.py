"""Model calls and tokens per question, counted on the LLM's HTTP client.

An httpx response hook on the in-process service's client counts every chat-completions call
and reads the provider's ``usage`` from the response as the caller reads it (a plain JSON body
or, in a stream, the chunk that carries ``usage``), so nothing is buffered ahead of the caller.
Calls are attributed to the question being asked through a context variable: the question's
request runs in a task copied from the context in which the runner set it.
"""

from __future__ import annotations

import contextlib
import json
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import httpx

CHAT_PATH_SUFFIX = "/chat/completions"
MAX_SCANNED_BYTES = 4 * 1024 * 1024  # a larger reply's usage is not looked for


@dataclass
class ModelUsage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls_with_usage: int = 0  # calls whose response reported usage

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, usage: dict) -> None:
        self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        self.completion_tokens += int(usage.get("completion_tokens") or 0)
        self.calls_with_usage += 1


_current: ContextVar[ModelUsage | None] = ContextVar("citu_eval_usage", default=None)


@contextlib.contextmanager
def counting() -> Iterator[ModelUsage]:
    """Count the model calls made, in this context, until the block ends."""
    usage = ModelUsage()
    token = _current.set(usage)
    try:
        yield usage
    finally:
        _current.reset(token)


# Runs counting on each client: the hook is added once (twice would count every call twice)
# and removed when the last run using it ends.
_installed: weakref.WeakKeyDictionary[httpx.AsyncClient, int] = weakref.WeakKeyDictionary()


def install(client: httpx.AsyncClient) -> Callable[[], None]:
    """Add the counting hook to ``client``; returns the function that removes it."""
    if not _installed.get(client):
        hooks = client.event_hooks
        client.event_hooks = {**hooks, "response": [*hooks.get("response", []), _on_response]}
    _installed[client] = _installed.get(client, 0) + 1
    removed = False

    def uninstall() -> None:
        nonlocal removed
        if removed:
            return
        removed = True
        _installed[client] -= 1
        if _installed[client] == 0:
            current = client.event_hooks
            remaining = [h for h in current.get("response", []) if h is not _on_response]
            client.event_hooks = {**current, "response": remaining}

    return uninstall


async def _on_response(response: httpx.Response) -> None:
    usage = _current.get()
    if usage is None or not response.request.url.path.endswith(CHAT_PATH_SUFFIX):
        return
    usage.calls += 1
    if response.status_code == 200:
        response.stream = _UsageReader(response.stream, usage)


class _UsageReader(httpx.AsyncByteStream):
    """Passes the body through unchanged and reads ``usage`` from it at the end."""

    def __init__(self, inner: httpx.AsyncByteStream, usage: ModelUsage) -> None:
        self.inner = inner
        self.usage = usage

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = bytearray()
        async for chunk in self.inner:
            if len(seen) < MAX_SCANNED_BYTES:
                seen.extend(chunk)
            yield chunk
        found = usage_in(bytes(seen))
        if found is not None:
            self.usage.add(found)

    async def aclose(self) -> None:
        await self.inner.aclose()


def usage_in(body: bytes) -> dict | None:
    """The ``usage`` object of a chat-completions body, JSON or Server-Sent Events."""
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        return _usage_of(text)
    found = None
    for line in text.splitlines():
        if line.startswith("data:") and '"usage"' in line:
            found = _usage_of(line[5:].strip()) or found
    return found


def _usage_of(text: str) -> dict | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    usage = data.get("usage") if isinstance(data, dict) else None
    return usage if isinstance(usage, dict) else None
