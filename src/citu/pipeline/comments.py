"""LLM comments for tables and columns that have none in the catalog.

The answer is parsed as JSON and matched to columns by name; anything that does not fit is
dropped, so a malformed answer leaves "no comment" instead of becoming one.
"""

from __future__ import annotations

import logging
from typing import Any

from citu.pipeline.inspect import TableMetadata
from citu.pipeline.llm import LlmFailed, PipelineLlm

log = logging.getLogger("citu.pipeline.comments")

_PREFIXES = ("表注释:", "表注释：", "注释:", "注释：", "说明:", "说明：", "表说明:", "表说明：")
_MAX_TABLE_COMMENT = 200
_MAX_FIELD_COMMENT = 100

SYSTEM_PROMPT = (
    "你是一个专业的数据库文档专家，擅长根据表结构和样例数据为数据表及字段编写准确、简洁的中文注释。"
    "只输出严格的JSON，不要输出其他内容。"
)


def needs_comments(meta: TableMetadata) -> bool:
    return not meta.comment or any(not f.comment for f in meta.fields)


def comment_prompt(meta: TableMetadata, business_context: str) -> str:
    fields = []
    for number, info in enumerate(meta.fields, 1):
        samples = "、".join(info.samples[:3]) or "无"
        fields.append(
            f"{number}. {info.name} ({info.data_type}) 现有注释: {info.comment or '无'}；样例值: {samples}"
        )
    rows = []
    for sample in meta.samples[:3]:
        rows.append(", ".join(f"{k}={v}" for k, v in list(sample.items())[:5]))
    return "\n".join(
        [
            f"请为数据表 {meta.full_name} 补全缺失的中文注释。",
            f"业务背景: {business_context}",
            f"表现有注释: {meta.comment or '无'}",
            f"行数: {meta.row_count}",
            "字段列表:",
            *fields,
            "样例数据:",
            *(rows or ["无"]),
            "",
            "要求：表注释不超过50字，说明该表的业务用途；字段注释不超过15字。",
            '输出JSON格式：{"table_comment": "表注释", "fields": [{"name": "字段名", "comment": "字段注释"}]}',
        ]
    )


async def fill_missing_comments(
    llm: PipelineLlm, meta: TableMetadata, business_context: str
) -> bool:
    """Ask the LLM for the comments the catalog lacks; True when at least one was filled."""
    try:
        answer = await llm.ask_json(SYSTEM_PROMPT, comment_prompt(meta, business_context))
    except LlmFailed as error:
        log.warning("comment generation for %s failed: %s", meta.full_name, error)
        return False
    filled = False
    if not isinstance(answer, dict):
        return False
    table_comment = _clean(answer.get("table_comment"), _MAX_TABLE_COMMENT)
    if not meta.comment and table_comment:
        meta.comment, filled = table_comment, True
    by_name = {f.name: f for f in meta.fields}
    for item in answer.get("fields") or []:
        if not isinstance(item, dict):
            continue
        info = by_name.get(str(item.get("name", "")))
        comment = _clean(item.get("comment"), _MAX_FIELD_COMMENT)
        if info is not None and not info.comment and comment:
            info.comment, filled = comment, True
    return filled


def _clean(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().splitlines()[0].strip() if value.strip() else ""
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    if not text or len(text) > limit:
        return None
    return text
