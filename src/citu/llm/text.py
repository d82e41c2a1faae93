"""Text handling around LLM replies: thinking blocks, SQL extraction, result tables."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_THINK = re.compile(r"<think>.*?</think>\s*", re.IGNORECASE | re.DOTALL)
_MANY_NEWLINES = re.compile(r"\n{3,}")

_FENCED_SQL = re.compile(r"```sql\s*\n?(.*?)```", re.IGNORECASE | re.DOTALL)
_FENCED_ANY = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)
_WITH_STMT = re.compile(r"\bWITH\b\s.*?;", re.IGNORECASE | re.DOTALL)
_SELECT_STMT = re.compile(r"\bSELECT\b\s.*?;", re.IGNORECASE | re.DOTALL)

# A reply counts as SQL when it starts (after comments) with a statement keyword. Write, session
# and procedural keywords are included on purpose: such a reply is SQL, and the guard refuses it
# with a reason instead of showing it as an explanation.
_SQL_START = re.compile(
    r"^\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*"
    r"(?:\(|do\s+(?:\$|'|e'|language\b)"
    r"|(?:select|with|values|table|insert|update|delete|merge|create|alter|drop|truncate"
    r"|grant|revoke|copy|call|vacuum|analyze|notify|listen|unlisten|set|reset|begin|commit"
    r"|rollback|abort|savepoint|lock|explain|prepare|execute|deallocate|declare|fetch|discard"
    r"|cluster|reindex|checkpoint|refresh|comment|reassign|show)\b)",
    re.IGNORECASE | re.DOTALL,
)

EMPTY_SQL_EXPLANATION = "无法生成SQL查询，可能是问题描述不够清晰或缺少必要的数据表信息。"


def drop_thinking(text: str | None) -> str:
    """The text without its ``<think>…</think>`` blocks (reasoning models put them first)."""
    return _THINK.sub("", text) if text else ""


def strip_thinking(text: str | None) -> str:
    """Drop ``<think>…</think>`` blocks, collapse runs of blank lines, trim."""
    return _MANY_NEWLINES.sub("\n\n", drop_thinking(text)).strip()


def visible_text(text: str | None, display_thinking: bool) -> str:
    """The reply as the user sees it: thinking kept only when configured."""
    return (text or "").strip() if display_thinking else strip_thinking(text)


def extract_sql(reply: str) -> str:
    """The SQL statement in an LLM reply (the last one when several are shown).

    Thinking is removed first: a ``SELECT …;`` in the reasoning must not win over the answer.
    """
    text = strip_thinking(reply)
    for pattern in (_FENCED_SQL, _FENCED_ANY, _WITH_STMT, _SELECT_STMT):
        found = [m.strip() for m in pattern.findall(text) if m.strip()]
        if found:
            return found[-1].replace("\\_", "_")
    return text.replace("\\_", "_")


def looks_like_sql(text: str) -> bool:
    return bool(text) and bool(_SQL_START.match(text))


def current_question(question: str) -> str:
    """The user's own question out of a ``[CONTEXT] … [CURRENT] …`` enhanced question."""
    marker = "\n[CURRENT]\n"
    return question.split(marker, 1)[1] if marker in question else question


def markdown_table(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    """A pipe table of the rows, for prompts (values already JSON-safe)."""

    def cell(value: Any) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(cell(c) for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
