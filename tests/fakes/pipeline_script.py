"""Scripted LLM answers for the data pipeline, keyed on the pipeline's prompt texts.

``script_pipeline(fake_llm)`` installs rules for theme extraction, question/SQL generation per
theme, the business-scope text and SQL repair. Two generated SQL statements are broken on
purpose: one the repair rule fixes (``pay_total`` → ``pay_sum``), one it cannot.
"""

from __future__ import annotations

import json
import re
from typing import Any

BUSINESS_CONTEXT = "高速公路服务区管理系统"
DEMO_TABLES = [
    "bss_company",
    "bss_service_area",
    "bss_section_route",
    "bss_section_route_area_link",
    "bss_branch",
    "bss_service_area_mapper",
    "bss_business_day_data",
    "bss_car_day_count",
]

THEMES = {
    "themes": [
        {
            "topic_name": "营收分析",
            "description": "分析各服务区、档口的每日营收与订单结构",
            "related_tables": ["bss_business_day_data", "bss_service_area"],
            "biz_entities": ["服务区", "档口", "支付方式"],
            "biz_metrics": ["总营收", "订单数量", "支付方式占比"],
        },
        {
            "topic_name": "车流分析",
            "description": "分析各服务区不同车型的日车流量",
            "related_tables": ["bss_car_day_count"],
            "biz_entities": ["服务区", "车型"],
            "biz_metrics": ["车流量", "车型占比"],
        },
    ]
}

BROKEN_SQL = (
    "SELECT oper_date AS 日期, SUM(pay_total) AS 总营收 FROM bss_business_day_data "
    "WHERE delete_ts IS NULL GROUP BY oper_date ORDER BY oper_date;"
)
FIXED_SQL = BROKEN_SQL.replace("pay_total", "pay_sum")
HOPELESS_SQL = "SELECT nothing FROM no_such_table;"

PAIRS = {
    "营收分析": [
        {
            "question": "2025年3月各服务区的总营收是多少？",
            "sql": "SELECT service_name AS 服务区名称, SUM(pay_sum) AS 总营收 FROM bss_business_day_data "
            "WHERE delete_ts IS NULL AND oper_date >= '2025-03-01' GROUP BY service_name ORDER BY 总营收 DESC;",
        },
        {
            "question": "微信订单最多的10个档口",
            "sql": "SELECT branch_name AS 档口名称,\n SUM(wx_order) AS 微信订单数 FROM bss_business_day_data "
            "WHERE delete_ts IS NULL GROUP BY branch_name ORDER BY 微信订单数 DESC LIMIT 10",
        },
        {"question": "每日总营收趋势", "sql": BROKEN_SQL},
    ],
    "车流分析": [
        {
            "question": "各车型的总车流量",
            "sql": "SELECT car_type AS 车型, SUM(customer_count) AS 车流量 FROM bss_car_day_count "
            "WHERE delete_ts IS NULL GROUP BY car_type ORDER BY 车流量 DESC;",
        },
        {"question": "不存在的表", "sql": HOPELESS_SQL},
    ],
}

DECISION = "\n".join(
    [
        "以下是业务范围：",
        "=== 数据库业务范围 ===",
        "当前数据库存储的是高速公路服务区经营管理的相关数据，主要涉及营收与车流，包含以下业务数据：",
        "核心业务实体：",
        "- 服务区：高速公路服务区，主要字段：service_area_name、service_area_no",
        "关键业务指标：",
        "- 营收：每日支付金额汇总",
    ]
)


def _repair(body: dict[str, Any]) -> str:
    prompt = body["messages"][-1]["content"]
    sqls = re.findall(r"^SQL: (.*)$", prompt, re.MULTILINE)
    return json.dumps(
        {"repaired_sqls": [s.replace("pay_total", "pay_sum") for s in sqls]}, ensure_ascii=False
    )


def script_pipeline(fake_llm) -> None:
    fake_llm.when("个不同的业务分析主题", json.dumps(THEMES, ensure_ascii=False))
    for name, pairs in PAIRS.items():
        fake_llm.when(
            f"主题名称：{name}", "```json\n" + json.dumps(pairs, ensure_ascii=False) + "\n```"
        )
    fake_llm.when("归纳该数据库的业务范围", DECISION)
    fake_llm.when("请修复以下SQL语句", _repair)


def valid_pair_count() -> int:
    return sum(len(p) for p in PAIRS.values()) - 1  # the hopeless one is dropped
