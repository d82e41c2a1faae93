"""Server-Sent Events: the frame format and the streaming response, for every streamed route.

A frame is one ``data: <envelope JSON>`` line and a blank line; an error frame is the error
envelope (``code`` 500, ``data.type`` ``error``, ``data.error_type``, the request id) sent in-band,
because the HTTP status of a stream is already 200 when the failure happens.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from quart import Response

from citu import failures
from citu import responses as r


def sse_frame(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False, default=str)}\n\n"


def sse_error(text: str, error_type: str = failures.INTERNAL_ERROR) -> str:
    """The in-band error frame; ``text`` must be citu's own words."""
    data = {"type": "error", "error": text, "timestamp": r.now_iso(), "error_type": error_type}
    body = {"code": 500, "success": False, "message": r.Msg.PROCESSING_FAILED, "data": data}
    return sse_frame(r.with_request_id(body))


async def single_frame(frame: str) -> AsyncIterator[str]:
    """A stream of one frame: a request refused before its turn began."""
    yield frame


def sse_response(frames: AsyncIterator[str]) -> Response:
    response = Response(frames, content_type="text/event-stream; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # a buffering proxy would hold every frame
    response.timeout = None  # an answer may take longer than Quart's 60 s default
    return response


def sse_refusal(text: str, error_type: str) -> Response:
    """A stream of one error frame: the request was refused before its turn began."""
    return sse_response(single_frame(sse_error(text, error_type)))
