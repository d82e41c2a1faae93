"""The response envelope shared by every route: ``{code, success, message, data}``.

Helpers return plain dicts; the HTTP status is chosen by the caller (``reply`` pairs them).
Keys, codes and message texts are part of the frontend contract: do not rename them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from quart import Response, current_app

from citu.logging.setup import request_id_var


class Msg:
    SUCCESS = "操作成功"
    BAD_REQUEST = "请求参数错误"
    VALIDATION_FAILED = "参数验证失败"
    NOT_FOUND = "资源未找到"
    INTERNAL_ERROR = "系统内部错误"
    SERVICE_UNAVAILABLE = "服务暂时不可用"
    QUERY_FAILED = "查询失败"
    GENERATION_FAILED = "生成失败"
    PROCESSING_FAILED = "处理失败"


class ErrorType:
    AGENT_INITIALIZATION_FAILED = "agent_initialization_failed"
    REQUEST_PROCESSING_FAILED = "request_processing_failed"
    SQL_GENERATION_FAILED = "sql_generation_failed"
    SQL_EXECUTION_FAILED = "sql_execution_failed"
    MISSING_REQUIRED_PARAMS = "missing_required_params"
    INVALID_PARAMS = "invalid_params"
    RESOURCE_NOT_FOUND = "resource_not_found"
    DATABASE_ERROR = "database_error"
    NETWORK_ERROR = "network_error"


def now_iso() -> str:
    """Naive local time with microseconds, as the old service wrote every timestamp."""
    return datetime.now().isoformat()


def _extend(data: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    data.update({key: value for key, value in extra.items() if value is not None})
    return data


def success(data: Any = None, message: str = Msg.SUCCESS, code: int = 200) -> dict[str, Any]:
    return {"code": code, "success": True, "message": message, "data": data}


def failed(message: str = "操作失败", code: int = 500, data: Any = None) -> dict[str, Any]:
    return {"code": code, "success": False, "message": message, "data": data}


def success_response(
    response_text: str | None = None,
    data: dict[str, Any] | None = None,
    message: str = Msg.SUCCESS,
    code: int = 200,
) -> dict[str, Any]:
    body = data if data is not None else {}
    if response_text is not None:
        body["response"] = response_text
    body["timestamp"] = now_iso()
    return {"code": code, "success": True, "message": message, "data": body}


def error_response(
    response_text: str,
    error_type: str | None = None,
    message: str = Msg.PROCESSING_FAILED,
    code: int = 500,
    data: dict[str, Any] | None = None,
    can_retry: bool | None = None,
) -> dict[str, Any]:
    body = data if data is not None else {}
    body["response"] = response_text
    body["timestamp"] = now_iso()
    if error_type:
        body["error_type"] = error_type
    if can_retry is not None:
        body["can_retry"] = can_retry
    return {"code": code, "success": False, "message": message, "data": body}


def agent_success_response(
    response_type: str,
    conversation_id: str | None = None,
    execution_path: list[str] | None = None,
    classification_info: dict[str, Any] | None = None,
    agent_version: str = "langgraph_v1",
    **kwargs: Any,
) -> dict[str, Any]:
    body = {
        "type": response_type,
        "conversation_id": conversation_id,
        "execution_path": execution_path or [],
        "classification_info": classification_info or {},
        "agent_version": agent_version,
        "timestamp": now_iso(),
    }
    return {"code": 200, "success": True, "message": Msg.SUCCESS, "data": _extend(body, kwargs)}


def agent_error_response(
    response_text: str,
    error_type: str | None = None,
    message: str = Msg.PROCESSING_FAILED,
    code: int = 500,
    conversation_id: str | None = None,
    execution_path: list[str] | None = None,
    classification_info: dict[str, Any] | None = None,
    agent_version: str = "langgraph_v1",
    **kwargs: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "response": response_text,
        "conversation_id": conversation_id,
        "execution_path": execution_path or [],
        "classification_info": classification_info or {},
        "agent_version": agent_version,
        "timestamp": now_iso(),
    }
    if error_type:
        body["error_type"] = error_type
    return {"code": code, "success": False, "message": message, "data": _extend(body, kwargs)}


def health_success_response(
    status: str = "healthy", test_result: bool = True, **kwargs: Any
) -> dict[str, Any]:
    body = {
        "status": status,
        "test_result": test_result,
        "response": "Agent健康检查完成",
        "timestamp": now_iso(),
    }
    return {"code": 200, "success": True, "message": Msg.SUCCESS, "data": _extend(body, kwargs)}


def health_error_response(
    status: str = "unhealthy",
    test_result: bool = False,
    message: str = Msg.SERVICE_UNAVAILABLE,
    **kwargs: Any,
) -> dict[str, Any]:
    body = {
        "status": status,
        "test_result": test_result,
        "response": "部分组件异常" if status == "degraded" else "Agent健康检查失败",
        "timestamp": now_iso(),
    }
    return {"code": 503, "success": False, "message": message, "data": _extend(body, kwargs)}


def bad_request_response(
    response_text: str,
    missing_params: list[str] | None = None,
    invalid_params: list[str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if missing_params:
        body["missing_params"] = missing_params
    if invalid_params:
        body["invalid_params"] = invalid_params
    return error_response(
        response_text,
        error_type=ErrorType.MISSING_REQUIRED_PARAMS,
        message=Msg.BAD_REQUEST,
        code=400,
        data=body,
    )


def validation_failed_response(response_text: str) -> dict[str, Any]:
    return error_response(response_text, ErrorType.INVALID_PARAMS, Msg.VALIDATION_FAILED, code=422)


def internal_error_response(response_text: str, can_retry: bool = True) -> dict[str, Any]:
    return error_response(
        response_text, ErrorType.DATABASE_ERROR, Msg.INTERNAL_ERROR, code=500, can_retry=can_retry
    )


def service_unavailable_response(response_text: str, can_retry: bool = True) -> dict[str, Any]:
    return error_response(
        response_text,
        ErrorType.AGENT_INITIALIZATION_FAILED,
        Msg.SERVICE_UNAVAILABLE,
        code=503,
        can_retry=can_retry,
    )


def not_found_response(response_text: str) -> dict[str, Any]:
    return error_response(response_text, ErrorType.RESOURCE_NOT_FOUND, Msg.NOT_FOUND, code=404)


def with_request_id(body: dict[str, Any]) -> dict[str, Any]:
    """An error envelope carries the request id in ``data`` (also sent as ``X-Request-ID``), so a
    user's report can be matched with the log that holds the detail."""
    data = body.get("data")
    if body.get("success") is False and isinstance(data, dict) and "request_id" not in data:
        data["request_id"] = request_id_var.get()
    return body


def reply(body: dict[str, Any], status: int | None = None) -> Response:
    """A JSON response whose HTTP status is the body's ``code`` unless told otherwise."""
    with_request_id(body)
    response = current_app.json.response(body)
    response.status_code = status if status is not None else int(body.get("code", 200))
    return response
