"""One ReAct turn run to its end in a background task, whatever happens to the request.

The task feeds a queue that the HTTP handler (plain or SSE) only reads, so a client that
disconnects does not cut the turn short and lose the answer. The queue carries ``progress``
events, then exactly one ``completed`` or ``error`` event, and the thread's lease is released
before that last event so the client's next question finds the thread free.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
from langchain_core.messages import HumanMessage, ToolMessage
from psycopg import OperationalError

from citu import failures
from citu.agents.react.memory import ReactMemory
from citu.agents.react.reporting import api_data, progress_event
from citu.charts import add_chart
from citu.settings import Settings

log = logging.getLogger("citu.agents.react.agent")

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    openai.APIConnectionError,  # includes APITimeoutError
    openai.InternalServerError,
    openai.RateLimitError,
    httpx.TransportError,
    TimeoutError,
    ConnectionError,
)

# langchain-openai raises these when an OpenAI-compatible API answers another JSON shape;
# like a network failure, a retry may succeed and the user gets the apology, not the traceback.
UNREADABLE_ANSWER: tuple[type[BaseException], ...] = (TypeError, ValueError, KeyError)

Event = dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """One question on one thread, holding the thread's lease ``token``."""

    question: str
    user_id: str
    thread_id: str
    token: str


async def run_turn(
    graph: Any, memory: ReactMemory, settings: Settings, turn: Turn, queue: asyncio.Queue[Event]
) -> None:
    """Run ``turn`` through the compiled graph and put its events on ``queue``."""
    final = error_event("处理失败：未获取到有效的执行结果", retry=False)
    # A turn never outlives its lease, so a second turn can never run beside it.
    deadline = asyncio.timeout(settings.react_turn_lease_seconds)
    log.info("ReAct turn on %s started (user %s)", turn.thread_id, turn.user_id)
    started = time.monotonic()
    try:
        async with deadline:
            state = await _stream_graph(graph, settings, turn, queue)
        data = api_data(state["messages"], state.get("suggested_next_step"), turn.thread_id)
        add_chart(data, settings)
        final = {"type": "completed", "api_data": data}
        elapsed = time.monotonic() - started
        log.info("ReAct turn on %s completed in %.2f s", turn.thread_id, elapsed)
    except asyncio.CancelledError:
        final = error_event(
            "服务正在停止，请稍后重试", retry=True, error_type=failures.SERVICE_STOPPING
        )
        raise
    except Exception as error:  # noqa: BLE001 - the client gets citu's own text in-band
        final = _failure_event(error, turn.thread_id, deadline.expired())
    finally:
        await _release(memory, turn)
        queue.put_nowait(final)


async def _stream_graph(
    graph: Any, settings: Settings, turn: Turn, queue: asyncio.Queue[Event]
) -> dict[str, Any]:
    """Stream the graph's node updates as progress events; the thread's final state."""
    config = {
        "configurable": {"thread_id": turn.thread_id},
        "recursion_limit": settings.react_recursion_limit,
    }
    inputs = {
        "messages": [HumanMessage(turn.question)],
        "user_id": turn.user_id,
        "thread_id": turn.thread_id,
        "suggested_next_step": None,
    }
    async for update in graph.astream(inputs, config, stream_mode="updates"):
        for node, value in update.items():
            _log_tool_results(turn.thread_id, value)
            queue.put_nowait(progress_event(node, value))
    return (await graph.aget_state(config)).values


def _failure_event(error: Exception, thread_id: str, timed_out: bool) -> Event:
    if isinstance(error, TRANSIENT_ERRORS + (OperationalError,)):
        if timed_out:
            log.warning("ReAct turn on %s hit its time limit", thread_id)
            return error_event("处理超时，请稍后重试", retry=True, error_type=failures.TIMEOUT)
        log.warning("ReAct turn on %s failed (transient): %s", thread_id, error)
        kind = failures.describe(error).error_type
        return error_event("服务暂时不可用，请稍后重试", retry=True, error_type=kind)
    log.error("ReAct turn on %s failed", thread_id, exc_info=error)
    # The upstream's text (a provider may quote the key) stays in the log.
    failure = failures.describe(error)
    return error_event(failure.text, retry=failure.can_retry, error_type=failure.error_type)


async def _release(memory: ReactMemory, turn: Turn) -> None:
    try:
        await memory.unlock_thread(turn.thread_id, turn.token)
    except Exception:  # noqa: BLE001 - the lease expires on its own
        log.exception("releasing the turn lock of %s failed", turn.thread_id)


async def drain(queue: asyncio.Queue[Event]) -> AsyncIterator[Event]:
    """The events of one turn, ending after its ``completed`` or ``error`` event."""
    while True:
        event = await queue.get()
        yield event
        if event["type"] != "progress":
            return


def _log_tool_results(thread_id: str, update: Any) -> None:
    """One react_agent.log line per tool that answered, so a turn can be followed there."""
    messages = update.get("messages", []) if isinstance(update, dict) else []
    for message in messages:
        if isinstance(message, ToolMessage):
            log.info("ReAct turn on %s: tool %s called", thread_id, message.name)


def error_event(text: str, *, retry: bool, error_type: str = failures.INTERNAL_ERROR) -> Event:
    return {"type": "error", "error": text, "retry_suggested": retry, "error_type": error_type}
