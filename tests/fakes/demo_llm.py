"""Demo mode of the fake OpenAI server: a scripted stand-in for a model, not a model.

It recognises citu's prompts by their fixed texts and answers each kind in the expected shape:

- SQL generation: the curated demo question in the prompt (``citu/db/demo_training.yaml``) is
  answered with its SQL; any other question gets a sentence saying the demo model does not know
  it (an ``overrides`` map question → SQL adds or replaces answers, e.g. wrong SQL on purpose for
  an evaluation harness);
- classification: DATABASE for a known question or one naming the demo's business words;
- summaries and chat: short fixed sentences (a summary counts the rows it was shown);
- the ReAct agent: tool calls ``generate_sql`` → ``valid_sql`` → ``run_sql``, then an answer;
- the data pipeline: JSON themes, question/SQL pairs per theme (the curated pairs for the demo
  tables, row counts for other tables), the business-scope text, SQL repair and comments;
- embeddings as always (deterministic hashed n-grams).

Use it from the command line (``citu fake-llm --demo`` or, from ``tests/``,
``python -m fakes.openai_fake --demo``) or in a test: ``install_demo_mode(fake_llm)``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from citu.db.demo_training import CuratedPair, curated_pairs

Json = dict[str, Any]

# Fixed texts of citu's prompts (src/citu/agents/prompts, agents/react, pipeline/steps).
SQL_PROMPT = "===Response Guidelines"
SQL_REPAIR = "rejected this SQL statement"
CLASSIFY = "业务问题分类器"
SUMMARY = "数据分析助手"
CHAT = "Citu智能数据问答平台"
REACT = "=== DATABASE BUSINESS SCOPE ==="
REACT_QUESTION = re.compile(r"用户当前的问题是：「(.*)」", re.DOTALL)
QUESTION_FROM_SQL = "推断出它所回答的业务问题"
PIPELINE_THEMES = "个不同的业务分析主题"
PIPELINE_QA = "主题名称："
PIPELINE_DECISION = "归纳该数据库的业务范围"
PIPELINE_REPAIR = "请修复以下SQL语句"
PIPELINE_COMMENTS = "补全缺失的中文注释"

UNKNOWN_QUESTION = (
    "演示模型只认识预置的演示问题，无法为这个问题生成SQL。请换一个演示问题，或配置真实的模型。"
)
CHAT_ANSWER = (
    "（演示模型的固定回答）我是脚本化的演示模型，只能回答演示库中预置的问题，"
    "例如“收入最高的前三个服务区是哪些？”。接入真实模型后可以自由提问。"
)
_BUSINESS_WORDS = (
    "服务区", "档口", "营收", "收入", "营业", "订单", "车流", "车型", "支付", "微信", "支付宝",
    "路段", "路线", "高速", "公司", "业态", "revenue", "service area", "traffic", "vehicle",
    "order", "payment", "company", "expressway", "shop",
)  # fmt: skip
_TABLE = re.compile(r"\b(bss_[a-z_]+)\b")
_MD_HEADING = re.compile(r"^## ([^\s（(]+)", re.MULTILINE)


def normalise_question(text: str) -> str:
    """Case, width, punctuation and spaces folded, so "多少？" matches "多少"."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch)[0] == "P"))


def current_question(text: str) -> str:
    """The question itself out of the agents' context-wrapped forms."""
    if "\n[CURRENT]\n" in text:
        text = text.split("\n[CURRENT]\n", 1)[1]
    match = re.search(r"Current user question:\s*\nhuman: (.*?)(?:\n\n|$)", text, re.DOTALL)
    return (match.group(1) if match else text).strip()


class DemoScript:
    """Answers every chat request of citu's prompts; see the module docstring."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self.pairs: tuple[CuratedPair, ...] = curated_pairs()
        self.sql_by_question = {normalise_question(p.question): p.sql for p in self.pairs}
        self.question_by_sql = {" ".join(p.sql.split()): p.question for p in self.pairs}
        for question, sql in (overrides or {}).items():
            self.sql_by_question[normalise_question(question)] = sql

    # ---- entry point ------------------------------------------------------------------

    def reply(self, body: Json) -> Json | str:
        messages = body.get("messages") or []
        system = "\n".join(_text(m) for m in messages if m.get("role") == "system")
        last_user = next((_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
        if REACT in system or (body.get("tools") and REACT_QUESTION.search(system)):
            return self.react(messages, system)
        if SQL_PROMPT in system:
            return self.sql_for(current_question(last_user)) or UNKNOWN_QUESTION
        if SQL_REPAIR in last_user:
            return _after(last_user, "SQL:").split("\n\n", 1)[0].strip()  # cannot fix it
        if CLASSIFY in system:
            # A follow-up arrives wrapped in its conversation: classify the current question.
            asked = _after(last_user, "用户问题：").split("\n\n业务数据库的范围", 1)[0]
            return self.classify(current_question(asked))
        if SUMMARY in system:
            return self.summary(system)
        if CHAT in system:
            return CHAT_ANSWER
        if QUESTION_FROM_SQL in system:
            return self.question_by_sql.get(" ".join(last_user.split()), "这条查询统计了哪些数据？")
        if PIPELINE_THEMES in last_user:
            return json.dumps({"themes": self.themes(last_user)}, ensure_ascii=False)
        if PIPELINE_QA in last_user:
            return json.dumps(self.theme_pairs(last_user), ensure_ascii=False)
        if PIPELINE_DECISION in last_user:
            return self.decision(last_user)
        if PIPELINE_REPAIR in last_user:
            sqls = re.findall(r"^SQL: (.*)$", last_user, re.MULTILINE)
            return json.dumps({"repaired_sqls": sqls}, ensure_ascii=False)
        if PIPELINE_COMMENTS in last_user:
            return self.comments(last_user)
        return CHAT_ANSWER

    # ---- the ask agent ----------------------------------------------------------------

    def sql_for(self, question: str) -> str | None:
        return self.sql_by_question.get(normalise_question(question))

    def is_business(self, question: str) -> bool:
        lowered = question.lower()
        return self.sql_for(question) is not None or any(w in lowered for w in _BUSINESS_WORDS)

    def classify(self, question: str) -> str:
        if self.is_business(question):
            return "分类: DATABASE\n理由: 演示模型：问题涉及服务区业务数据\n置信度: 0.95"
        return "分类: CHAT\n理由: 演示模型：问题与业务数据无关\n置信度: 0.9"

    @staticmethod
    def summary(system: str) -> str:
        match = re.search(r"共 (\d+) 行", system)
        rows = match.group(1) if match else "若干"
        return f"（演示模型的固定摘要）查询共返回 {rows} 行数据，详见结果表。"

    # ---- the ReAct agent --------------------------------------------------------------

    def react(self, messages: list[Json], system: str) -> Json | str:
        match = REACT_QUESTION.search(system)
        question = match.group(1) if match else ""
        last = next((m for m in reversed(messages) if m.get("role") != "system"), {})
        if last.get("role") != "tool":
            if self.is_business(question):
                return {"tool_call": {"name": "generate_sql", "arguments": {"question": question}}}
            return CHAT_ANSWER
        tool = _tool_name(messages, last.get("tool_call_id"))
        output = _text(last)
        if tool == "generate_sql":
            if output.lstrip().upper().startswith(("SELECT", "WITH")):
                return {"tool_call": {"name": "valid_sql", "arguments": {"sql": output}}}
            return "抱歉，演示模型无法为这个问题生成SQL。" + UNKNOWN_QUESTION
        if tool == "valid_sql":
            sql = _last_tool_output(messages, "generate_sql")
            if "失败" not in output and sql:
                return {"tool_call": {"name": "run_sql", "arguments": {"sql": sql}}}
            return f"抱歉，SQL未通过验证：{output}"
        if tool == "run_sql":
            return _rows_answer(output)
        return CHAT_ANSWER

    # ---- the data pipeline ------------------------------------------------------------

    def _pairs_on(self, tables: set[str]) -> dict[str, list[CuratedPair]]:
        """Curated pairs by topic, those whose tables are all among ``tables``."""
        topics: dict[str, list[CuratedPair]] = {}
        for pair in self.pairs:
            used = set(_TABLE.findall(pair.sql))
            if used and used <= tables:
                topics.setdefault(pair.topic, []).append(pair)
        return topics

    def themes(self, prompt: str) -> list[Json]:
        count = _int_after(prompt, "请从以下数据库文档中提取", default=5)
        tables = _tables_in(prompt)
        topics = self._pairs_on(tables)
        if not topics:
            return [_overview_theme(sorted(tables)[:5] or ["unknown"])]
        themes = []
        for topic, pairs in list(topics.items())[: max(1, count)]:
            related = sorted({t for p in pairs for t in _TABLE.findall(p.sql)})
            themes.append(
                {
                    "topic_name": topic,
                    "description": f"基于 {'、'.join(related)} 的{topic}（演示模型生成）",
                    "related_tables": related,
                    "biz_entities": ["服务区", "档口", "车型"],
                    "biz_metrics": ["营收", "订单数", "车流量"],
                }
            )
        return themes

    def theme_pairs(self, prompt: str) -> list[Json]:
        topic = _line_after(prompt, PIPELINE_QA)
        count = _int_after(prompt, "请为以下业务主题生成", default=10)
        related = [t for t in _line_after(prompt, "涉及的表：").split("、") if t]
        pairs = self._pairs_on(_tables_in(prompt)).get(topic)
        if pairs:
            return [{"question": p.question, "sql": p.sql} for p in pairs[:count]]
        return [
            {
                "question": f"{table}表有多少行数据？",
                "sql": f"SELECT COUNT(*) AS 行数 FROM {table};",
            }
            for table in related[:count]
        ]

    @staticmethod
    def decision(prompt: str) -> str:
        tables = sorted(_tables_in(prompt))
        return "\n".join(
            [
                "=== 数据库业务范围 ===",
                "当前数据库存储的是业务系统的相关数据（演示模型生成），包含以下业务数据：",
                "核心业务实体：",
                *(f"- {t}：数据表 {t}" for t in tables[:10]),
                "关键业务指标：",
                "- 记录数：各表的数据量",
            ]
        )

    @staticmethod
    def comments(prompt: str) -> str:
        table = _line_after(prompt, "请为数据表 ").split(" ")[0]
        fields = re.findall(r"^\d+\. (\S+) \(", prompt, re.MULTILINE)
        return json.dumps(
            {
                "table_comment": f"{table}数据表（演示模型生成）",
                "fields": [{"name": f, "comment": f"{f}字段"} for f in fields],
            },
            ensure_ascii=False,
        )


def install_demo_mode(fake: Any, overrides: Mapping[str, str] | None = None) -> DemoScript:
    """Make ``fake`` (a FakeOpenAI) answer in demo mode when nothing queued applies."""
    script = DemoScript(overrides)
    fake.when(lambda _messages: True, script.reply)
    return script


def load_overrides(path: str) -> dict[str, str]:
    """A JSON object question → SQL, or a list of {"question", "sql"}."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if isinstance(data, list):
        return {str(item["question"]): str(item["sql"]) for item in data}
    return {str(k): str(v) for k, v in data.items()}


# ---- helpers ------------------------------------------------------------------------------


def _text(message: Json) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def _after(text: str, marker: str) -> str:
    return text.split(marker, 1)[1] if marker in text else ""


def _line_after(text: str, marker: str) -> str:
    return _after(text, marker).split("\n", 1)[0].strip()


def _int_after(text: str, marker: str, default: int) -> int:
    match = re.match(r"\s*(\d+)", _after(text, marker))
    return int(match.group(1)) if match else default


def _tables_in(prompt: str) -> set[str]:
    # Table headings of the pipeline's table documents; the prompt's own JSON example names
    # two demo tables, so bare names elsewhere do not count.
    return set(_MD_HEADING.findall(prompt))


def _overview_theme(tables: list[str]) -> Json:
    return {
        "topic_name": "数据概览",
        "description": "各数据表的数据量概览（演示模型生成）",
        "related_tables": tables,
        "biz_entities": ["数据表"],
        "biz_metrics": ["记录数"],
    }


def _tool_name(messages: list[Json], call_id: str | None) -> str | None:
    for message in reversed(messages):
        for call in message.get("tool_calls") or []:
            if call.get("id") == call_id:
                return (call.get("function") or {}).get("name")
    return None


def _last_tool_output(messages: list[Json], name: str) -> str | None:
    for message in reversed(messages):
        if (
            message.get("role") == "tool"
            and _tool_name(messages, message.get("tool_call_id")) == name
        ):
            return _text(message)
    return None


def _rows_answer(output: str) -> str:
    try:
        data = json.loads(output)
    except ValueError:
        return "（演示模型）查询已执行。"
    if isinstance(data, list):
        first = data[0] if data else {}
        preview = "，".join(f"{k}：{v}" for k, v in list(first.items())[:4])
        return f"（演示模型的固定回答）查询共返回 {len(data)} 行数据，第一行为 {preview}。"
    if isinstance(data, dict) and data.get("status") == "error":
        return "抱歉，查询执行失败，请换个问法再试。"
    return "查询没有返回数据。"
