"""Thinking blocks and SQL extraction from LLM replies."""

from __future__ import annotations

import pytest

from citu.llm.text import current_question, extract_sql, markdown_table, strip_thinking


def test_strip_thinking():
    text = "<THINK>\n推理 SELECT 1;\n</think>\n\n\n\n答案第一行\n\n\n\n第二行  "
    assert strip_thinking(text) == "答案第一行\n\n第二行"
    assert strip_thinking(None) == ""


@pytest.mark.parametrize(
    ("reply", "sql"),
    [
        # A SELECT inside the reasoning must not win over the answer (the old defect).
        ("<think>maybe SELECT 1;</think>\n```sql\nSELECT 2 AS 二\n```", "SELECT 2 AS 二"),
        ("```sql\nSELECT 1;\n```\n或者\n```sql\nSELECT 2;\n```", "SELECT 2;"),
        ("```\nSELECT 3\n```", "SELECT 3"),
        (
            "WITH x AS (SELECT 1 AS a) SELECT a FROM x;",
            "WITH x AS (SELECT 1 AS a) SELECT a FROM x;",
        ),
        ("解释文字 SELECT a FROM t; 结束", "SELECT a FROM t;"),
        ("SELECT my\\_col FROM t", "SELECT my_col FROM t"),
        ("抱歉，没有相关数据。", "抱歉，没有相关数据。"),
    ],
)
def test_extract_sql(reply, sql):
    assert extract_sql(reply) == sql


def test_current_question():
    assert current_question("\n[CONTEXT]\nUser: a\n\n[CURRENT]\n那b呢") == "那b呢"
    assert current_question("只有问题") == "只有问题"


def test_markdown_table_escapes_cells():
    table = markdown_table(["名称", "值"], [{"名称": "a|b", "值": None}, {"名称": "c\nd", "值": 1}])
    assert table.splitlines() == ["| 名称 | 值 |", "|---|---|", "| a\\|b |  |", "| c d | 1 |"]
