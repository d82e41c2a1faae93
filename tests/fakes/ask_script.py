"""Scripts the fake LLM for the ask agent by prompt kind (each prompt has a unique marker)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CLASSIFY = "业务问题分类器"
SQL_PROMPT = "===Response Guidelines"
REPAIR = "rejected this SQL statement"
SUMMARY = "数据分析助手"
CHAT = "Citu智能数据问答平台"

TOP3_SQL = (
    "SELECT service_name AS 服务区名称, SUM(pay_sum) AS 总收入 FROM bss_business_day_data "
    "WHERE delete_ts IS NULL GROUP BY service_name ORDER BY 总收入 DESC NULLS LAST LIMIT 3;"
)


def kind_of(body: dict[str, Any]) -> str:
    """Which prompt a recorded chat request was (classify/sql/repair/summary/chat/other)."""
    text = "\n".join(str(m.get("content")) for m in body["messages"])
    for marker, name in (
        (CLASSIFY, "classify"),
        (SQL_PROMPT, "sql"),
        (REPAIR, "repair"),
        (SUMMARY, "summary"),
        (CHAT, "chat"),
    ):
        if marker in text:
            return name
    return "other"


def kinds(fake) -> list[str]:
    return [kind_of(body) for body in fake.requests]


def _sequence(replies: Iterable[str]):
    pending = list(replies)

    def next_reply(_body: dict[str, Any]) -> str:
        return pending.pop(0) if len(pending) > 1 else pending[0]

    return next_reply


def script(
    fake,
    *,
    sql: str | list[str] = TOP3_SQL,
    repairs: list[str] | None = None,
    summary: str = "收入前三的服务区为庐山服务区等。",
    chat: str = "荔枝一般在5-7月上市。",
    classify: str = "分类: DATABASE\n理由: 查询服务区数据\n置信度: 0.9",
) -> None:
    """Answer each prompt kind; a list answers successive calls (the last one repeats)."""
    fake.when(CLASSIFY, classify)
    fake.when(SQL_PROMPT, _sequence([sql] if isinstance(sql, str) else sql))
    fake.when(REPAIR, _sequence(repairs or ["SELECT 1 AS 一;"]))
    fake.when(SUMMARY, summary)
    fake.when(CHAT, chat)
