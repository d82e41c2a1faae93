"""The SSE frames, byte for byte: key order included, since clients may compare raw lines."""

from __future__ import annotations

import pytest

from citu import responses as r
from citu.agents.ask_results import StepProgress, TurnCompleted, TurnFailed
from citu.logging.setup import request_id_var
from citu.web.answers import ask_stream_frame, react_turn_frames
from citu.web.sse import sse_error, sse_frame


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(r, "now_iso", lambda: "2026-01-02T03:04:05.000006")
    token = request_id_var.set("req-1")
    yield
    request_id_var.reset(token)


def test_a_frame_is_one_data_line_of_raw_utf8_json() -> None:
    assert sse_frame({"a": "南城", "b": None}) == 'data: {"a": "南城", "b": null}\n\n'


def test_error_frame() -> None:
    assert sse_error("出错了", "llm_timeout") == (
        'data: {"code": 500, "success": false, "message": "处理失败", "data": {"type": "error", '
        '"error": "出错了", "timestamp": "2026-01-02T03:04:05.000006", '
        '"error_type": "llm_timeout", "request_id": "req-1"}}\n\n'
    )


def test_ask_agent_progress_frames() -> None:
    progress = {"display_name": "分类问题", "step": 1}
    assert ask_stream_frame(StepProgress("classify", progress, "u:1")) == (
        'data: {"code": 200, "success": true, "message": "正在执行: 分类问题", "data": '
        '{"type": "progress", "node": "classify", "display_name": "分类问题", "step": 1, '
        '"conversation_id": "u:1", "timestamp": "2026-01-02T03:04:05.000006"}}\n\n'
    )
    frame = ask_stream_frame(StepProgress("format_response", {"display_name": "x"}, "u:1"))
    assert '"message": "正在执行：格式化响应结果"' in frame


def test_ask_agent_completed_frame() -> None:
    result = {"type": "DATABASE", "sql": "SELECT 1", "query_result": {"row_count": 1}}
    assert ask_stream_frame(TurnCompleted(result, "u:1", "答案")) == (
        'data: {"code": 200, "success": true, "message": "处理完成", "data": '
        '{"type": "completed", "response": "答案", "response_type": "DATABASE", '
        '"sql": "SELECT 1", "query_result": {"row_count": 1}, "summary": null, '
        '"conversation_id": "u:1", "execution_path": [], "classification_info": {}, '
        '"timestamp": "2026-01-02T03:04:05.000006"}}\n\n'
    )


def test_ask_agent_failure_frame_is_the_error_frame() -> None:
    assert ask_stream_frame(TurnFailed("无效", "invalid_request")) == sse_error(
        "无效", "invalid_request"
    )


async def test_react_frames() -> None:
    async def events():
        yield {"type": "progress", "node": "agent", "display_name": "AI分析中"}
        yield {"type": "completed", "api_data": {"response": "好", "sql": None}}
        yield {"type": "error", "error": "失败"}

    frames = [f async for f in react_turn_frames(events(), "u:2", "u")]
    assert frames == [
        'data: {"code": 200, "success": true, "message": "正在执行: AI分析中", "data": '
        '{"type": "progress", "node": "agent", "display_name": "AI分析中", "thread_id": "u:2", '
        '"timestamp": "2026-01-02T03:04:05.000006"}}\n\n',
        'data: {"code": 200, "success": true, "message": "处理完成", "data": '
        '{"type": "completed", "response": "好", "sql": null, "conversation_id": "u:2", '
        '"user_id": "u", "timestamp": "2026-01-02T03:04:05.000006"}}\n\n',
        sse_error("失败", "internal_error"),
    ]


async def test_both_agents_streams_ask_proxies_not_to_buffer(client) -> None:
    for url in ("/api/v0/ask_react_agent_stream", "/api/v0/ask_agent_stream"):
        response = await client.get(url)
        assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["X-Accel-Buffering"] == "no"
        assert (await response.get_data()).decode().startswith('data: {"code": 500')
