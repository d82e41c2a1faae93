"""The fake server's demo mode answers citu's real prompts in the shapes citu parses."""

from __future__ import annotations

import json

from citu.agents.classifier import QuestionClassifier
from citu.db.demo_training import curated_pairs
from citu.pipeline.comments import SYSTEM_PROMPT as COMMENT_SYSTEM
from citu.pipeline.comments import comment_prompt
from citu.pipeline.inspect import FieldInfo, TableMetadata
from citu.pipeline.llm import extract_json
from citu.pipeline.steps.qa import (
    decision_prompt,
    parse_pairs,
    parse_themes,
    qa_prompt,
    theme_prompt,
)
from citu.pipeline.steps.validation import Item, repair_prompt
from citu.training.questions import SYSTEM_PROMPT as QUESTION_SYSTEM
from fakes.demo_llm import UNKNOWN_QUESTION, DemoScript

PAIRS = curated_pairs()
SQL_SYSTEM = "You are an expert...\n===Response Guidelines\n1. ..."
DEMO_DOCS = "\n\n".join(
    f"## {t}（演示表）\n字段：..."
    for t in ("bss_business_day_data", "bss_branch", "bss_car_day_count")
)


def ask(script: DemoScript, system: str, user: str):
    return script.reply(
        {"messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]}
    )


def test_sql_prompt_answers_curated_questions_in_any_wrapping():
    script = DemoScript()
    pair = PAIRS[5]
    assert ask(script, SQL_SYSTEM, pair.question) == pair.sql
    assert ask(script, SQL_SYSTEM, pair.question.rstrip("？?") + " ? ") == pair.sql
    wrapped = f"[CONTEXT]\nuser: 你好\n[CURRENT]\n{pair.question}"
    assert ask(script, SQL_SYSTEM, wrapped) == pair.sql
    react = f"Previous conversation context:\nhuman: 你好\n\nCurrent user question:\nhuman: {pair.question}\n\nResolve"
    assert ask(script, SQL_SYSTEM, react) == pair.sql
    assert ask(script, SQL_SYSTEM, "各服务区的员工人数") == UNKNOWN_QUESTION


def test_overrides_add_and_replace_answers():
    pair = PAIRS[0]
    script = DemoScript({pair.question: "SELECT 1 AS 一;", "新问题": "SELECT 2 AS 二;"})
    assert ask(script, SQL_SYSTEM, pair.question) == "SELECT 1 AS 一;"
    assert ask(script, SQL_SYSTEM, "新问题") == "SELECT 2 AS 二;"


def test_classification_replies_parse():
    classifier = QuestionClassifier(None)
    script = DemoScript()
    system = "你是一个业务问题分类器，判断..."
    english = next(p for p in PAIRS if p.lang == "en")
    for question, expected in ((english.question, "DATABASE"), ("荔枝几月上市", "CHAT")):
        reply = ask(script, system, f"请判断...\n\n用户问题：{question}\n\n业务数据库的范围：...")
        assert classifier.parse_llm_reply(reply).question_type == expected


def test_question_from_sql():
    pair = PAIRS[2]
    assert (
        DemoScript().reply(
            {
                "messages": [
                    {"role": "system", "content": QUESTION_SYSTEM},
                    {"role": "user", "content": pair.sql},
                ]
            }
        )
        == pair.question
    )


def test_pipeline_prompts_get_json_the_pipeline_accepts():
    script = DemoScript()
    themes = parse_themes(extract_json(ask(script, "s", theme_prompt("服务区", DEMO_DOCS, 3))), 3)
    assert 1 <= len(themes) <= 3
    for theme in themes:
        pairs = parse_pairs(
            extract_json(ask(script, "s", qa_prompt(theme, "服务区", DEMO_DOCS, 10)))
        )
        assert pairs and all(p["sql"] in {c.sql for c in PAIRS} for p in pairs)
    scope = ask(script, "s", decision_prompt("服务区", DEMO_DOCS))
    assert "=== 数据库业务范围 ===" in scope and "bss_branch" in scope
    items = [Item(0, "q1", "SELECT a FROM t", "err"), Item(1, "q2", "SELECT b FROM t", "err")]
    repaired = extract_json(ask(script, "s", repair_prompt(items)))
    assert repaired == {"repaired_sqls": ["SELECT a FROM t", "SELECT b FROM t"]}


def test_unknown_tables_get_a_generic_theme_and_row_counts():
    script = DemoScript()
    docs = "## orders（订单）\n...\n\n## customers（客户）\n..."
    [theme] = parse_themes(extract_json(ask(script, "s", theme_prompt("商城", docs, 5))), 5)
    assert theme["related_tables"] == ["customers", "orders"]
    pairs = parse_pairs(extract_json(ask(script, "s", qa_prompt(theme, "商城", docs, 10))))
    assert [p["sql"] for p in pairs] == [
        "SELECT COUNT(*) AS 行数 FROM customers;",
        "SELECT COUNT(*) AS 行数 FROM orders;",
    ]


def test_comment_prompt_gets_comments_by_field_name():
    meta = TableMetadata(
        "public",
        "orders",
        fields=[FieldInfo("id", "bigint", False), FieldInfo("amt", "numeric", True)],
    )
    answer = json.loads(ask(DemoScript(), COMMENT_SYSTEM, comment_prompt(meta, "商城")))
    assert "orders" in answer["table_comment"]
    assert [f["name"] for f in answer["fields"]] == ["id", "amt"]


def test_a_follow_up_is_classified_by_its_current_question():
    classifier = QuestionClassifier(None)
    script = DemoScript({"Which of them earned the most?": "SELECT 1 AS one;"})
    system = "你是一个业务问题分类器，判断..."
    wrapped = "\n[CONTEXT]\nUser: 荔枝几月上市\nAssistant: 七月\n\n[CURRENT]\nWhich of them earned the most?"
    reply = ask(script, system, f"请判断...\n\n用户问题：{wrapped}\n\n业务数据库的范围：...")
    assert classifier.parse_llm_reply(reply).question_type == "DATABASE"
    plain = ask(
        script,
        system,
        "请判断...\n\n用户问题：\n[CONTEXT]\nUser: 你好\n\n[CURRENT]\n荔枝几月上市\n\n业务数据库的范围：...",
    )
    assert classifier.parse_llm_reply(plain).question_type == "CHAT"
