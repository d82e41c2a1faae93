"""What the ask agent reports: its final result in the old agent's shapes, and the display
texts of each graph step for the stream's progress frames.

Pure functions over the graph's state, so each case can be tested without a graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def classification_info(state: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "confidence": state.get("classification_confidence", 0.0),
        "reason": state.get("classification_reason", ""),
        "method": state.get("classification_method", ""),
    }


def final_response(state: Mapping[str, Any], path: list[str]) -> dict[str, Any]:
    """The old agent's result, by case: an error; a chat answer; a database question whose SQL
    could not be generated; or a database answer (chat text, summary, or bare rows)."""
    info = classification_info(state)
    question_type = state.get("question_type")
    if state.get("error"):
        return {
            "success": False,
            "error": state["error"],
            "error_code": state.get("error_code") or 500,
            "question_type": question_type,
            "sql": state.get("sql"),
            "execution_path": path,
            "classification_info": info,
        }
    if question_type != "DATABASE":
        return {
            "success": True,
            "response": state.get("chat_response") or "",
            "type": "CHAT",
            "execution_path": path,
            "classification_info": info,
        }
    base = {"type": "DATABASE", "sql": state.get("sql"), "execution_path": path}
    if not state.get("sql_generation_success") and state.get("user_prompt"):
        return _sql_generation_failed(state, base, info)
    return {**_database_answer(state, base), "classification_info": info}


def _sql_generation_failed(
    state: Mapping[str, Any], base: dict[str, Any], info: dict[str, Any]
) -> dict[str, Any]:
    """No usable SQL: the explanation for the user, with what generation got through."""
    return {
        "success": False,
        "response": state["user_prompt"],
        **base,
        "sql_generation_failed": True,
        "validation_error_type": state.get("validation_error_type"),
        "classification_info": info,
        "sql_validation_info": {
            "sql_generation_success": state.get("sql_generation_success", False),
            "sql_validation_success": state.get("sql_validation_success", False),
            "sql_repair_attempted": state.get("sql_repair_attempted", False),
            "sql_repair_success": state.get("sql_repair_success", False),
        },
    }


def _database_answer(state: Mapping[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """A database question's answer; the caller adds ``classification_info`` last."""
    if state.get("chat_response"):
        return {
            "success": True,
            "response": state["chat_response"],
            **base,
            "query_result": state.get("query_result"),
        }
    if state.get("summary"):
        return {
            "success": True,
            "response": state["summary"],
            **base,
            "query_result": state.get("query_result"),
            "summary": state["summary"],
        }
    if state.get("query_result") is not None:
        return {"success": True, **base, "query_result": state["query_result"]}
    return {"success": False, "error": "数据库查询未完成", **base}


def progress_for(node: str, state: dict[str, Any]) -> dict[str, Any] | None:
    """Display texts of one graph step for the stream's progress frame (None: no frame)."""
    if node == "classify_question":
        return {
            "display_name": "分析问题类型",
            "details": f"问题类型: {state.get('question_type')} "
            f"(置信度: {float(state.get('classification_confidence') or 0.0):.2f})",
            "sub_status": f"使用{state.get('classification_method')}方法分类",
        }
    if node == "agent_sql_generation":
        if state.get("sql_generation_success"):
            sql = state.get("sql") or ""
            preview = sql[:50] + ("..." if len(sql) > 50 else "")
            return {
                "display_name": "SQL生成成功",
                "details": f"生成SQL: {preview}",
                "sub_status": "验证通过，准备执行",
            }
        return {
            "display_name": "SQL生成处理中",
            "details": f"验证状态: {state.get('validation_error_type')}",
            "sub_status": state.get("user_prompt"),
        }
    if node == "agent_sql_execution":
        result = state.get("query_result")
        if result is None:  # the old mapper crashed here; report the failure instead
            return {
                "display_name": "执行数据查询",
                "details": state.get("error") or "查询执行失败",
                "sub_status": "查询执行失败",
            }
        return {
            "display_name": "执行数据查询",
            "details": f"查询完成，返回 {result.get('row_count', 0)} 行数据",
            "sub_status": "正在生成摘要" if state.get("summary") else "查询执行完成",
        }
    if node == "agent_chat":
        return {
            "display_name": "思考回答",
            "details": "正在处理您的问题",
            "sub_status": "使用智能对话模式",
        }
    if node == "format_response":
        return {
            "display_name": "格式化响应结果",
            "details": "正在格式化响应结果",
            "sub_status": "即将完成",
        }
    return None
