"""Admission in arrival order for the CPU-bound start of a question.

Every ``ask_agent`` turn spends a few milliseconds of CPU before its first model call (parsing,
conversation look-ups, the graph's first steps) and then waits seconds for the model. When
hundreds of questions arrive at once, the event loop would interleave all their starts, so every
model call would be sent only after *all* the starts were done: each question pays for every
other question's CPU. Letting only a few questions run their start at a time, first come first
served, sends the first model call after a few milliseconds, the next soon after, and so on: the
waits for the model overlap and the tail latency is about halved (docs/performance.md).

A turn enters with :meth:`AdmissionGate.admitted`; its slot is freed as soon as its first
request to the model or embedding service leaves the process (:class:`AdmissionReleasingTransport`,
under the one HTTP client every model client shares) or when the turn ends, whichever is first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar

import httpx

# The release function of the current turn's slot; child tasks (graph nodes) inherit it.
_release: ContextVar[Callable[[], None] | None] = ContextVar("citu_admission", default=None)


def leave_admission() -> None:
    """Free the current turn's slot, if it still holds one: a long external wait begins."""
    release = _release.get()
    if release is not None:
        release()


class AdmissionGate:
    def __init__(self, limit: int) -> None:
        # asyncio.Semaphore wakes its waiters in FIFO order: arrival order is kept.
        self._slots = asyncio.Semaphore(limit) if limit > 0 else None

    @contextlib.asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        slots = self._slots
        if slots is None:  # limit 0: no gate
            yield
            return
        await slots.acquire()
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                slots.release()

        _release.set(release)
        try:
            yield
        finally:
            release()
            # set, not reset: a streamed turn may end in another context than it began in.
            _release.set(None)


class AdmissionReleasingTransport(httpx.AsyncBaseTransport):
    """Frees the current turn's slot as a request leaves: the model's seconds of waiting need
    none. Outside a turn (the health probe, the pipeline) it only passes the request on."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        leave_admission()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
