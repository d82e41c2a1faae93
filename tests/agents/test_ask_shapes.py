"""The ask agent's final result shapes, case by case, without a graph."""

from __future__ import annotations

from citu.agents.ask_shapes import final_response

PATH = ["classify_question", "agent_sql_generation", "format_response"]
CLASSIFIED = {
    "question_type": "DATABASE",
    "classification_confidence": 0.9,
    "classification_reason": "r",
    "classification_method": "m",
}
INFO = {"confidence": 0.9, "reason": "r", "method": "m"}
BASE = {"type": "DATABASE", "sql": "SELECT 1", "execution_path": PATH}


def test_sql_generation_failure_explains_and_reports_the_validation():
    state = {
        **CLASSIFIED,
        "sql": "SELECT 1",
        "sql_generation_success": False,
        "user_prompt": "请说明时间范围",
        "validation_error_type": "ambiguous",
        "sql_repair_attempted": True,
    }
    assert final_response(state, PATH) == {
        "success": False,
        "response": "请说明时间范围",
        **BASE,
        "sql_generation_failed": True,
        "validation_error_type": "ambiguous",
        "classification_info": INFO,
        "sql_validation_info": {
            "sql_generation_success": False,
            "sql_validation_success": False,
            "sql_repair_attempted": True,
            "sql_repair_success": False,
        },
    }


def test_database_answers_by_what_the_graph_produced():
    rows = {"columns": ["n"], "rows": [{"n": 1}], "row_count": 1}
    state = {**CLASSIFIED, "sql": "SELECT 1", "sql_generation_success": True}
    summary = final_response({**state, "query_result": rows, "summary": "共1条"}, PATH)
    assert summary == {
        "success": True,
        "response": "共1条",
        **BASE,
        "query_result": rows,
        "summary": "共1条",
        "classification_info": INFO,
    }
    assert list(summary)[-1] == "classification_info"
    bare = final_response({**state, "query_result": rows}, PATH)
    assert bare == {"success": True, **BASE, "query_result": rows, "classification_info": INFO}
    unfinished = final_response(state, PATH)
    assert unfinished == {
        "success": False,
        "error": "数据库查询未完成",
        **BASE,
        "classification_info": INFO,
    }


def test_errors_and_chat_answers():
    failed = final_response({**CLASSIFIED, "error": "boom", "error_code": 503}, PATH)
    assert failed["success"] is False and failed["error_code"] == 503
    chat = final_response({**CLASSIFIED, "question_type": "CHAT", "chat_response": "你好"}, PATH)
    assert chat == {
        "success": True,
        "response": "你好",
        "type": "CHAT",
        "execution_path": PATH,
        "classification_info": INFO,
    }
