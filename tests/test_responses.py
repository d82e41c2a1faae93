"""Every envelope helper: keys, codes, messages and the None-dropping rules of the old envelope."""

from __future__ import annotations

from datetime import datetime

from citu import responses as r


def _is_iso(value: str) -> bool:
    parsed = datetime.fromisoformat(value)
    return parsed.tzinfo is None


def test_success_passes_data_through_without_timestamp():
    assert r.success({"a": 1}) == {
        "code": 200,
        "success": True,
        "message": "操作成功",
        "data": {"a": 1},
    }
    assert r.success()["data"] is None
    assert r.success(message="好", code=201)["code"] == 201


def test_failed_defaults():
    assert r.failed() == {"code": 500, "success": False, "message": "操作失败", "data": None}


def test_success_response_sets_response_and_timestamp():
    data = {"x": 1}
    body = r.success_response("完成", data)
    assert body["data"] is data  # mutates the caller's dict, like the old helper
    assert body["data"]["response"] == "完成" and _is_iso(body["data"]["timestamp"])
    assert "response" not in r.success_response(data={})["data"]
    assert r.success_response()["message"] == "操作成功"


def test_error_response_optional_keys():
    body = r.error_response("坏了")
    assert body["code"] == 500 and body["message"] == "处理失败" and not body["success"]
    assert "error_type" not in body["data"] and "can_retry" not in body["data"]
    body = r.error_response("坏了", "network_error", code=503, can_retry=False)
    assert body["data"]["error_type"] == "network_error" and body["data"]["can_retry"] is False


def test_agent_success_response_keeps_falsy_drops_none():
    body = r.agent_success_response("DATABASE", "c1", sql="", summary=None, count=0)
    data = body["data"]
    assert body["code"] == 200 and body["message"] == "操作成功"
    assert (
        data["type"] == "DATABASE"
        and data["execution_path"] == []
        and data["classification_info"] == {}
    )
    assert data["agent_version"] == "langgraph_v1"
    assert data["sql"] == "" and data["count"] == 0 and "summary" not in data


def test_agent_error_response():
    body = r.agent_error_response(
        "失败", "sql_execution_failed", code=500, conversation_id="c", extra=None
    )
    assert body["data"]["error_type"] == "sql_execution_failed" and "extra" not in body["data"]
    assert body["data"]["response"] == "失败" and body["data"]["conversation_id"] == "c"


def test_health_helpers():
    ok = r.health_success_response(tools_count=4)
    assert (
        ok["code"] == 200
        and ok["data"]["response"] == "Agent健康检查完成"
        and ok["data"]["tools_count"] == 4
    )
    degraded = r.health_error_response(status="degraded", message="部分组件异常")
    assert degraded["code"] == 503 and degraded["message"] == "部分组件异常"
    assert degraded["data"]["response"] == "部分组件异常"
    assert r.health_error_response()["data"]["response"] == "Agent健康检查失败"


def test_bad_request_response_with_params():
    body = r.bad_request_response("缺少参数", missing_params=["question"], invalid_params=["page"])
    assert body["code"] == 400 and body["message"] == "请求参数错误"
    assert body["data"]["error_type"] == "missing_required_params"
    assert body["data"]["missing_params"] == ["question"] and body["data"]["invalid_params"] == [
        "page"
    ]
    assert "can_retry" not in body["data"]
    plain = r.bad_request_response("x")
    assert "missing_params" not in plain["data"] and "invalid_params" not in plain["data"]


def test_fixed_error_helpers():
    cases = [
        (r.validation_failed_response("v"), 422, "参数验证失败", "invalid_params", None),
        (r.internal_error_response("i"), 500, "系统内部错误", "database_error", True),
        (
            r.service_unavailable_response("s", can_retry=False),
            503,
            "服务暂时不可用",
            "agent_initialization_failed",
            False,
        ),
        (r.not_found_response("n"), 404, "资源未找到", "resource_not_found", None),
    ]
    for body, code, message, error_type, can_retry in cases:
        assert (body["code"], body["message"], body["data"]["error_type"]) == (
            code,
            message,
            error_type,
        )
        assert body["data"].get("can_retry") == can_retry
