"""Demo training data, and an in-memory retriever for unit tests of the agent's graph
(citu.agents.protocols.RetrieverLike). The route tests use the real retriever.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEMO_DDL = [
    "CREATE TABLE bss_business_day_data (id varchar(32) PRIMARY KEY, oper_date date, "
    "service_name varchar(255), branch_name varchar(255), pay_sum numeric(19,4), "
    "order_sum integer, delete_ts timestamp); -- 档口日营业数据表",
    "CREATE TABLE bss_service_area (id varchar(32) PRIMARY KEY, service_area_name varchar(255), "
    "service_area_no varchar(255), service_state varchar(50), delete_ts timestamp); -- 服务区",
]

DEMO_DOCUMENTATION = "pay_sum 是营收总金额（元）"
DEMO_EXAMPLE = (
    "各服务区的总收入",
    "SELECT service_name AS 服务区名称, SUM(pay_sum) AS 总收入 "
    "FROM bss_business_day_data GROUP BY service_name;",
)


@dataclass
class Retrieved:
    question_sql: list[dict[str, Any]] = field(default_factory=list)
    ddl: list[str] = field(default_factory=list)
    documentation: list[str] = field(default_factory=list)
    error_sql: list[dict[str, Any]] = field(default_factory=list)


class MemoryRetriever:
    """Returns the same context for every question and records the questions asked."""

    def __init__(self, context: Retrieved | None = None) -> None:
        self.context = context or Retrieved(
            question_sql=[{"question": DEMO_EXAMPLE[0], "sql": DEMO_EXAMPLE[1], "similarity": 0.8}],
            ddl=list(DEMO_DDL),
            documentation=[DEMO_DOCUMENTATION],
        )
        self.questions: list[str] = []

    async def retrieve(self, question: str) -> Retrieved:
        self.questions.append(question)
        return self.context
