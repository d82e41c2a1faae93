"""The texts of the ``qa_generation`` step: its prompts, the parsing of the model's answers, and
the files it writes beside the pairs (``metadata.txt``, ``metadata_detail.md``, the fallback
``db_query_decision_prompt.txt``)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

DECISION_HEADER = "=== 数据库业务范围 ==="
THEME_SYSTEM = "你是一个专业的业务数据分析师，擅长从数据库结构中识别有价值的业务分析主题。请严格按照JSON格式输出。"
QA_SYSTEM = (
    "你是一个精通PostgreSQL的业务数据分析师，擅长把业务问题写成正确的SQL。"
    "请严格按照JSON格式输出，每条SQL必须写在一行内。"
)
DECISION_SYSTEM = "你是一个数据库业务分析专家，擅长概括数据库所覆盖的业务范围。"


def theme_prompt(business_context: str, md_text: str, count: int) -> str:
    example = {
        "themes": [
            {
                "topic_name": "日营业数据分析",
                "description": "基于每日营业数据，分析各服务区的收入、订单数量和支付方式结构",
                "related_tables": ["bss_business_day_data", "bss_service_area"],
                "biz_entities": ["服务区", "档口", "支付方式"],
                "biz_metrics": ["收入趋势", "订单数量", "支付方式占比"],
            }
        ]
    }
    return "\n".join(
        [
            f"请从以下数据库文档中提取{count}个不同的业务分析主题。",
            f"业务背景：{business_context}",
            "",
            md_text,
            "",
            "要求：",
            "1. 每个主题聚焦一个业务分析方向，主题之间不要重复；",
            "2. 忽略技术字段（id、create_ts、update_ts、delete_ts、version、created_by、updated_by、deleted_by 等）；",
            "3. topic_name 不超过10个字，description 约50字，biz_entities 与 biz_metrics 各3-5个；",
            "4. related_tables 只能使用文档中出现的表名。",
            "输出JSON格式（示例只含一个主题）：",
            json.dumps(example, ensure_ascii=False),
        ]
    )


def qa_prompt(theme: dict[str, Any], business_context: str, md_text: str, count: int) -> str:
    return "\n".join(
        [
            f"请为以下业务主题生成{count}个业务问题和对应的SQL查询。",
            f"主题名称：{theme['topic_name']}",
            f"主题描述：{theme['description']}",
            f"业务实体：{'、'.join(theme['biz_entities'])}",
            f"业务指标：{'、'.join(theme['biz_metrics'])}",
            f"涉及的表：{'、'.join(theme['related_tables'])}",
            f"业务背景：{business_context}",
            "",
            md_text,
            "",
            "要求：",
            "1. 使用PostgreSQL语法；",
            "2. 含 delete_ts 字段的表必须加条件 delete_ts IS NULL（软删除）；",
            "3. 查询字段使用中文别名（AS）；",
            "4. 查询类型多样：趋势、对比、排行（Top N）、汇总统计、明细；",
            "5. 每条SQL以分号结尾，且写在一行内。",
            '输出JSON数组：[{"question": "业务问题", "sql": "SELECT ...;"}]',
        ]
    )


def decision_prompt(business_context: str, md_text: str) -> str:
    return "\n".join(
        [
            "请根据以下业务背景和数据库表结构文档，归纳该数据库的业务范围（不依赖任何分析主题），忽略技术字段。",
            f"业务背景：{business_context}",
            "",
            md_text,
            "",
            "请严格按照以下模板输出，列出关键业务指标后即结束：",
            DECISION_HEADER,
            "当前数据库存储的是…的相关数据，主要涉及…，包含以下业务数据：",
            "核心业务实体：",
            "- 实体：描述，主要字段：a、b、c",
            "关键业务指标：",
            "- 指标：描述",
        ]
    )


def parse_themes(answer: Any, limit: int) -> list[dict[str, Any]]:
    items = answer.get("themes") if isinstance(answer, dict) else answer
    themes = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        name = item.get("topic_name") or item.get("name")
        description = item.get("description")
        tables = item.get("related_tables")
        if not (isinstance(name, str) and name.strip() and isinstance(description, str)):
            continue
        if not isinstance(tables, list) or not tables:
            continue
        tables = [str(t) for t in tables if str(t).strip()]
        themes.append(
            {
                "topic_name": name.strip(),
                "description": description.strip(),
                "related_tables": tables,
                "biz_entities": _strings(item.get("biz_entities")) or tables[:3],
                "biz_metrics": _strings(item.get("biz_metrics")) or ["数据统计", "趋势分析"],
            }
        )
    return themes[:limit]


def parse_pairs(answer: Any) -> list[dict[str, str]]:
    items = answer.get("questions") if isinstance(answer, dict) else answer
    pairs = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        question, sql = item.get("question"), item.get("sql")
        if not (isinstance(question, str) and isinstance(sql, str)):
            continue
        question = question.strip()
        sql = re.sub(r"\s+", " ", sql).strip()
        if not question or not sql:
            continue
        if not sql.endswith(";"):
            sql += ";"
        pairs.append({"question": question, "sql": sql})
    return pairs


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(v).strip() for v in value if str(v).strip()]


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(_sql_text(v) for v in values) + "]::text[]"


def metadata_sql(themes: list[dict[str, Any]], business_context: str, db_name: str) -> str:
    lines = [
        "-- Schema Tools生成的主题元数据",
        f"-- 业务背景: {business_context}",
        f"-- 生成时间: {datetime.now():%Y-%m-%d %H:%M:%S}",
        f"-- 数据库: {db_name}",
        "",
        "-- 创建表（如果不存在）",
        "CREATE TABLE IF NOT EXISTS metadata (",
        "    id SERIAL PRIMARY KEY,",
        "    topic_name VARCHAR(100) NOT NULL,",
        "    description TEXT,",
        "    related_tables TEXT[],",
        "    biz_entities TEXT[],",
        "    biz_metrics TEXT[],",
        "    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP",
        ");",
        "",
        "-- 插入主题数据",
    ]
    for theme in themes:
        lines.append(
            "INSERT INTO metadata(topic_name, description, related_tables, biz_entities, biz_metrics) "
            f"VALUES ({_sql_text(theme['topic_name'])}, {_sql_text(theme['description'])}, "
            f"{_sql_array(theme['related_tables'])}, {_sql_array(theme['biz_entities'])}, "
            f"{_sql_array(theme['biz_metrics'])});"
        )
    return "\n".join(lines) + "\n"


def metadata_doc(themes: list[dict[str, Any]]) -> str:
    def examples(key: str) -> str:
        seen = list(dict.fromkeys(v for t in themes for v in t[key]))
        return ", ".join(seen[:3])

    return (
        "\n".join(
            [
                "## metadata（存储分析主题元数据）",
                "`metadata` 主要描述了当前数据库包含了哪些数据内容，哪些分析主题，哪些指标等等。",
                "字段列表：",
                "- `id` (serial) - 主键ID [主键, 非空]",
                "- `topic_name` (varchar(100)) - 业务主题名称 [非空]",
                "- `description` (text) - 业务主题说明",
                f"- `related_tables` (text[]) - 涉及的数据表 [示例: {examples('related_tables')}]",
                f"- `biz_entities` (text[]) - 主要业务实体名称 [示例: {examples('biz_entities')}]",
                f"- `biz_metrics` (text[]) - 主要业务指标名称 [示例: {examples('biz_metrics')}]",
                "- `created_at` (timestamp) - 插入时间 [默认值: `CURRENT_TIMESTAMP`]",
                "字段补充说明：",
                "- `id` 为主键，自增；",
                "- `related_tables` 用于建立主题与具体明细表的依赖关系；",
                "- `biz_entities` 表示主题关注的核心对象；",
                "- `biz_metrics` 表示该主题关注的业务分析指标。",
            ]
        )
        + "\n"
    )


def fallback_decision(
    business_context: str, tables: list[str], themes: list[dict[str, Any]]
) -> str:
    entities = list(dict.fromkeys(v for t in themes for v in t["biz_entities"]))[:8]
    metrics = list(dict.fromkeys(v for t in themes for v in t["biz_metrics"]))[:8]
    lines = [
        DECISION_HEADER,
        f"当前数据库存储的是{business_context}的相关数据，主要涉及{'、'.join(tables)}，包含以下业务数据：",
        "核心业务实体：",
        *(f"- {e}" for e in entities),
        "关键业务指标：",
        *(f"- {m}" for m in metrics),
    ]
    return "\n".join(lines) + "\n"
