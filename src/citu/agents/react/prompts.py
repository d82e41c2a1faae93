"""Prompt texts of the ReAct agent and of its SQL generation tool; tool names from the registry.

The transient system messages are built per LLM call and never stored in the checkpoint.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from citu.agents.react.registry import RUN_SQL, TOOL_NAMES, TOOLS, VALID_SQL

TOOL_LABELS = {tool.name: tool.label for tool in TOOLS}

FALLBACK_ANSWER = "抱歉，我现在无法正确处理您的问题。请稍后重试或重新表述您的问题。"


@cache
def business_scope() -> str:
    """The business database's scope, shared with the ask agent's classifier."""
    return (files("citu.agents") / "prompts" / "db_query_scope.txt").read_text("utf-8").strip()


@cache
def scope_prompt() -> str:
    return (
        "You are an intelligent data assistant. You answer questions about the business "
        f"database below with the tools {', '.join(TOOL_NAMES[:-1])} and {TOOL_NAMES[-1]}, "
        "and answer general questions from your own knowledge.\n\n"
        "=== DATABASE BUSINESS SCOPE ===\n"
        f"{business_scope()}\n\n"
        "=== DECISION RULES ===\n"
        f"1. If the question asks for data inside this scope, call {TOOL_NAMES[0]} first, "
        f"then {', then '.join(TOOL_NAMES[1:])}, and answer from the result.\n"
        "2. If the question is general knowledge, answer it directly without tools.\n"
        "3. Answer in the user's language, without prefixes such as 'Answer:'.\n\n"
        "=== FALLBACK STRATEGY ===\n"
        "- Out of scope: answer from general knowledge.\n"
        "- In scope but the query returns nothing: say so naturally.\n"
        "- Data-specific question that cannot be answered from the database: admit the "
        "limitation; never invent numbers.\n\n"
        "Think about which case applies before you act."
    )


def suggestion_prompt(step: str | None, last_validation: str | None) -> str | None:
    """Guidance for the next step chosen after the last tool result, or None."""
    if step in (VALID_SQL, RUN_SQL):
        return f"Suggestion: the previous step succeeded, please use the '{step}' tool to continue."
    if step == "analyze_validation_error":
        error = last_validation or ""
        if "语法错误" in error or "syntax" in error.lower():
            advice = f"The SQL has a syntax error: fix it and call {VALID_SQL} again."
        elif any(w in error for w in ("不存在", "no such table", "does not exist")):
            advice = (
                "The table or column does not exist: tell the user the data is not available, "
                "answer from general knowledge if you can, and stop generating SQL."
            )
        else:
            advice = (
                "Fix the SQL if you can and validate it again; otherwise explain the problem. "
                "Never invent data."
            )
        return f"SQL validation failed: {error}\n{advice}"
    if step == "summarize_final_answer":
        return (
            "The query has run. Summarize its JSON result for the user in natural language. "
            "Do not show the JSON or the SQL."
        )
    if step == "answer_with_common_sense":
        return "无法从数据库中获得答案。请直接根据你的常识回答用户的问题，不要重复失败的原因。"
    return None


def grounding_prompt(question: str) -> str:
    return (
        f"用户当前的问题是：「{question}」。\n"
        "调用工具时，question 参数必须逐字复制用户的问题，不得改写、缩写或编造；"
        "回答只能基于工具返回的数据或可靠的常识，禁止编造数据。"
    )


# ---- generate_sql -------------------------------------------------------------------------


def sql_question_with_history(question: str, history: list[dict[str, str]]) -> str:
    if not history:
        return question
    lines = ["Previous conversation context:"]
    lines += [f"{item['type']}: {item['content']}" for item in history]
    lines += [
        "",
        "Current user question:",
        f"human: {question}",
        "",
        "Resolve references in the current question (such as 'this service area') using the "
        "context above, then generate the SQL for the current question.",
    ]
    return "\n".join(lines)
