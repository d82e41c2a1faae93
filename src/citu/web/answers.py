"""Envelopes and SSE frames of the question-answering routes, built from the services' results.

``ask_agent`` (one envelope) and ``ask_agent_stream`` (frames) from :mod:`citu.agents.ask_results`;
``/ask``, ``/ask_cached`` and ``/citu_run_sql`` from :mod:`citu.agents.direct_ask`; the ReAct
agent's stream from its turn events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from citu import failures
from citu import responses as r
from citu.agents.ask_results import (
    AskOutcome,
    StepProgress,
    StreamEvent,
    TurnCompleted,
    failure_text,
)
from citu.agents.direct_ask import (
    Answered,
    DirectOutcome,
    NotAnswerable,
    SqlFailed,
    SqlRows,
    SqlTimedOut,
)
from citu.charts import add_chart
from citu.errors import GatewayTimeout
from citu.settings import Settings
from citu.web.sse import sse_error, sse_frame

# ---- ask_agent ---------------------------------------------------------------------------


def ask_agent_envelope(outcome: AskOutcome, settings: Settings | None = None) -> dict[str, Any]:
    """The envelope of one ``ask_agent`` turn: the answer, the cached answer, or the refusal;
    with ``settings``, an answer with rows gets its chart."""
    body = _ask_agent_body(outcome)
    if body["success"]:
        add_chart(body["data"], settings)
    return body


def _ask_agent_body(outcome: AskOutcome) -> dict[str, Any]:
    turn, result = outcome.turn, outcome.result
    common = {
        "user_id": turn.user_id,
        "context_used": bool(turn.context),
        "conversation_status": turn.status.get("status"),
        "requested_conversation_id": turn.status.get("requested_id"),
    }
    if outcome.from_cache:
        return r.agent_success_response(
            response_type=result.get("type") or "UNKNOWN",
            conversation_id=turn.conversation_id,
            execution_path=result.get("execution_path"),
            classification_info=result.get("classification_info"),
            response=result.get("response") or "",
            sql=result.get("sql"),
            records=result.get("query_result"),
            summary=result.get("summary"),
            from_cache=True,
            **common,
        )
    if not result.get("success"):
        return r.agent_error_response(
            response_text=failure_text(result),
            error_type="agent_processing_failed",
            code=int(result.get("error_code") or 500),
            conversation_id=turn.conversation_id,
            execution_path=result.get("execution_path"),
            classification_info=result.get("classification_info"),
            user_id=turn.user_id,
            sql=result.get("sql"),
            validation_error_type=result.get("validation_error_type"),
        )
    return r.agent_success_response(
        response_type=result.get("type"),
        conversation_id=turn.conversation_id,
        execution_path=result.get("execution_path"),
        classification_info=result.get("classification_info"),
        response=result.get("response") or "",
        sql=result.get("sql"),
        records=result.get("query_result"),
        summary=result.get("summary"),
        from_cache=False,
        routing_mode_used=turn.routing_mode,
        routing_mode_source=turn.routing_source,
        **common,
    )


def progress_frame(event: StepProgress) -> str:
    display = event.progress.get("display_name")
    node = event.node
    message = "正在执行：格式化响应结果" if node == "format_response" else f"正在执行: {display}"
    data = {"type": "progress", "node": node, **event.progress}
    data["conversation_id"] = event.conversation_id
    data["timestamp"] = r.now_iso()
    return sse_frame({"code": 200, "success": True, "message": message, "data": data})


def completed_frame(event: TurnCompleted, settings: Settings | None = None) -> str:
    result = event.result
    data = {
        "type": "completed",
        "response": event.response,
        "response_type": result.get("type") or result.get("question_type") or "UNKNOWN",
        "sql": result.get("sql"),
        "query_result": result.get("query_result"),
        "summary": result.get("summary"),
        "conversation_id": event.conversation_id,
        "execution_path": result.get("execution_path") or [],
        "classification_info": result.get("classification_info") or {},
        "timestamp": r.now_iso(),
    }
    add_chart(data, settings)
    return sse_frame({"code": 200, "success": True, "message": "处理完成", "data": data})


def ask_stream_frame(event: StreamEvent, settings: Settings | None = None) -> str:
    if isinstance(event, StepProgress):
        return progress_frame(event)
    if isinstance(event, TurnCompleted):
        return completed_frame(event, settings)
    return sse_error(event.text, event.error_type)


async def ask_stream_frames(
    events: AsyncIterator[StreamEvent], settings: Settings | None = None
) -> AsyncIterator[str]:
    async for event in events:
        yield ask_stream_frame(event, settings)


# ---- /ask, /ask_cached, /citu_run_sql ------------------------------------------------------


def _answered(outcome: Answered, settings: Settings | None) -> dict[str, Any]:
    answer = outcome.answer
    data: dict[str, Any] = {
        "sql": answer.sql,
        "query_result": answer.query_result,
        "conversation_id": outcome.conversation_id,
    }
    if outcome.cached is not None:
        data["cached"] = outcome.cached
    add_chart(data, settings)
    if answer.summary is not None:
        data["summary"] = answer.summary
        return r.success_response(answer.summary, data)
    return r.success_response("查询执行完成", data)


def direct_envelope(outcome: DirectOutcome, settings: Settings | None = None) -> dict[str, Any]:
    """The envelope of a direct route's result (with ``settings``, rows get their chart)."""
    if isinstance(outcome, Answered):
        return _answered(outcome, settings)
    if isinstance(outcome, SqlRows):
        data = add_chart({"sql": outcome.sql, "query_result": outcome.query_result}, settings)
        return r.success_response(outcome.text, data)
    if isinstance(outcome, NotAnswerable):
        body = r.validation_failed_response(outcome.text)
        if outcome.error_type is not None:
            body["data"]["error_type"] = outcome.error_type
        return body
    if isinstance(outcome, SqlFailed):
        body = r.internal_error_response(outcome.text)
        body["data"]["error_type"] = outcome.error_type
        return body
    if isinstance(outcome, SqlTimedOut):
        timeout = GatewayTimeout(outcome.text)
        timeout.error_type = failures.SQL_TIMEOUT
        return timeout.body()
    raise TypeError(f"not a direct route result: {outcome!r}")


# ---- the ReAct agent's stream --------------------------------------------------------------


async def react_turn_frames(
    events: AsyncIterator[dict[str, Any]], thread_id: str, user_id: str
) -> AsyncIterator[str]:
    """Frames of a ReAct turn: progress per graph node, then completed or error."""
    async for event in events:
        if event["type"] == "progress":
            data = {**event, "thread_id": thread_id, "timestamp": r.now_iso()}
            message = f"正在执行: {event['display_name']}"
            yield sse_frame({"code": 200, "success": True, "message": message, "data": data})
        elif event["type"] == "completed":
            data = {
                "type": "completed",
                **event["api_data"],
                "conversation_id": thread_id,
                "user_id": user_id,
                "timestamp": r.now_iso(),
            }
            yield sse_frame({"code": 200, "success": True, "message": "处理完成", "data": data})
        else:
            yield sse_error(event["error"], event.get("error_type", failures.INTERNAL_ERROR))
