"""The ReAct agent's tools: ``generate_sql``, ``valid_sql``, ``run_sql`` (agents spec §5.6).

Their text outputs are what the LLM reads next and what ``update_state_after_tool`` inspects,
so the success/failure wording follows the old tools. ``run_sql`` also returns the rows as an
artifact (kept on the ToolMessage in the checkpoint) so the API answer does not re-parse text.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from citu.agents.react import prompts
from citu.agents.react.context import text_of
from citu.agents.sql_guard import check_sql
from citu.agents.sql_runner import SqlError, explain_sql, run_read_only
from citu.settings import Settings

log = logging.getLogger("citu.agents.react.tools")

VALID_SQL_OK = "SQL验证通过：语法正确且字段存在"
NO_EXPLANATION = "无法生成SQL查询，可能是问题描述不够清晰或缺少必要的数据表信息。"
_PROMPT_CHAR_BUDGET = 56_000  # ~14000 tokens of DDL / documentation, as the old prompt allowed

_THINK = re.compile(r"<think>.*?</think>\s*", re.IGNORECASE | re.DOTALL)
_FENCED_SQL = re.compile(r"```sql\s*(.*?)```", re.IGNORECASE | re.DOTALL)
_FENCED_ANY = re.compile(r"```\s*(.*?)```", re.DOTALL)
_BARE_QUERY = re.compile(r"\b(?:WITH|SELECT)\b.*?;", re.IGNORECASE | re.DOTALL)
_QUERY_START = re.compile(r"^\s*(?:--[^\n]*\n\s*)*\(?\s*(?:WITH|SELECT)\b", re.IGNORECASE)


class SqlContextRetriever(Protocol):
    """What ``generate_sql`` needs from training retrieval (``citu.training.retrieval``).

    ``retrieve`` returns an object with ``question_sql`` ([{question, sql, similarity}]),
    ``ddl`` ([str]), ``documentation`` ([str]) and ``error_sql`` ([{question, sql, similarity}]).
    """

    async def retrieve(self, question: str) -> Any: ...


@dataclass
class SqlContext:
    question_sql: list[dict[str, Any]] = field(default_factory=list)
    ddl: list[str] = field(default_factory=list)
    documentation: list[str] = field(default_factory=list)
    error_sql: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, retrieved: Any) -> SqlContext:
        return cls(
            question_sql=list(getattr(retrieved, "question_sql", None) or []),
            ddl=list(getattr(retrieved, "ddl", None) or []),
            documentation=list(getattr(retrieved, "documentation", None) or []),
            error_sql=list(getattr(retrieved, "error_sql", None) or []),
        )


def strip_thinking(text: str) -> str:
    text = _THINK.sub("", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def extract_sql(text: str) -> str | None:
    """The query in an LLM answer (thinking already removed), or None when it holds none."""
    for pattern in (_FENCED_SQL, _FENCED_ANY, _BARE_QUERY):
        found = [m.group(1 if pattern is not _BARE_QUERY else 0) for m in pattern.finditer(text)]
        candidates = [c.strip() for c in found if _QUERY_START.match(c)]
        if candidates:
            return candidates[-1].replace("\\_", "_")
    if _QUERY_START.match(text):
        return text.strip().replace("\\_", "_")
    return None


class SqlGenerator:
    """Question → SQL with the retrieved training context (spec §5.9, without Vanna)."""

    def __init__(
        self, llm: BaseChatModel, retriever: SqlContextRetriever | None, settings: Settings
    ) -> None:
        self.llm = llm
        self.retriever = retriever
        self.settings = settings

    async def generate(self, question: str) -> tuple[str | None, str | None]:
        """``(sql, None)`` or ``(None, explanation)``."""
        context = SqlContext()
        if self.retriever is not None:
            context = SqlContext.of(await self.retriever.retrieve(question))
        reply = await self.llm.ainvoke(self.prompt(question, context))
        answer = strip_thinking(text_of(reply))
        if not answer:
            return None, NO_EXPLANATION
        sql = extract_sql(answer)
        if sql is None:
            return None, answer
        return sql, None

    def prompt(self, question: str, context: SqlContext) -> list[BaseMessage]:
        system = prompts.SQL_INITIAL_PROMPT
        system += _budgeted("\n===Tables \n", context.ddl)
        system += _budgeted("\n===Additional Context \n\n", context.documentation)
        errors = [
            item
            for item in context.error_sql
            if self.settings.enable_error_sql_prompt
            and float(item.get("similarity", 0))
            >= self.settings.result_vector_error_sql_score_threshold
        ][:6]
        if errors:
            system += "\n" + prompts.SQL_NEGATIVE_EXAMPLES_HEADER
            system += "".join(f"问题: {e['question']}\n错误的SQL: {e['sql']}\n\n" for e in errors)
        system += "\n" + prompts.SQL_RESPONSE_GUIDELINES
        messages: list[BaseMessage] = [SystemMessage(system)]
        for pair in context.question_sql:
            if pair.get("question") and pair.get("sql"):
                messages += [HumanMessage(pair["question"]), AIMessage(pair["sql"])]
        messages.append(HumanMessage(question))
        return messages


def _budgeted(header: str, chunks: list[str]) -> str:
    if not chunks:
        return ""
    text, used = header, len(header)
    for chunk in chunks:
        if used + len(chunk) > _PROMPT_CHAR_BUDGET:
            break
        text += chunk + "\n\n"
        used += len(chunk) + 2
    return text


class GenerateSqlInput(BaseModel):
    question: str = Field(description="The user's question, copied verbatim")
    history_messages: list[dict[str, str]] = Field(
        default_factory=list, description="Filled in by the system; leave empty"
    )


class SqlInput(BaseModel):
    sql: str = Field(description="The SQL query")


class ReactSqlTools:
    """Builds the three tools over the SQL generator and the read-only business pool."""

    def __init__(
        self, generator: SqlGenerator | None, business_db: asyncpg.Pool | None, settings: Settings
    ) -> None:
        self.generator = generator
        self.business_db = business_db
        self.settings = settings

    def tools(self) -> list[BaseTool]:
        return [
            StructuredTool.from_function(
                coroutine=self.generate_sql,
                name="generate_sql",
                description="Generate a PostgreSQL query that answers a business data question.",
                args_schema=GenerateSqlInput,
            ),
            StructuredTool.from_function(
                coroutine=self.valid_sql,
                name="valid_sql",
                description="Check that a SQL query is safe, syntactically valid and uses existing tables and columns.",
                args_schema=SqlInput,
            ),
            StructuredTool.from_function(
                coroutine=self.run_sql,
                name="run_sql",
                description="Run a validated SQL query and return its rows as JSON.",
                args_schema=SqlInput,
                response_format="content_and_artifact",
            ),
        ]

    async def generate_sql(self, question: str, history_messages: list[dict[str, str]]) -> str:
        if self.generator is None:
            return "SQL generation failed: LLM未配置"
        try:
            sql, explanation = await self.generator.generate(
                prompts.sql_question_with_history(question, history_messages)
            )
        except Exception as error:  # noqa: BLE001 - the LLM reads the failure and moves on
            log.warning("generate_sql failed: %s", error)
            return f"SQL generation failed: {error}"
        if sql is None:
            return f"Database query failed. Reason: {explanation}"
        return sql

    async def valid_sql(self, sql: str) -> str:
        check = check_sql(sql)
        if not check.ok:
            return f"SQL验证失败：{check.reason}"
        if self.business_db is None:
            return "SQL验证失败：执行失败。详细错误：业务数据库不可用"
        problem = await explain_sql(
            self.business_db, sql, timeout_ms=self.settings.business_statement_timeout_ms
        )
        if problem is None:
            return VALID_SQL_OK
        lowered = problem.lower()
        if "column" in lowered and "does not exist" in lowered:
            kind = "字段不存在"
        elif ("relation" in lowered or "table" in lowered) and "does not exist" in lowered:
            kind = "表不存在"
        elif "syntax error" in lowered:
            kind = "语法错误"
        else:
            kind = "执行失败"
        return f"SQL验证失败：{kind}。详细错误：{problem}"

    async def run_sql(self, sql: str) -> tuple[str, dict[str, Any] | None]:
        if self.business_db is None:
            return _json({"status": "error", "error_message": "业务数据库不可用"}), None
        try:
            result = await run_read_only(
                self.business_db,
                sql,
                max_rows=self.settings.api_max_return_rows,
                timeout_ms=self.settings.business_statement_timeout_ms,
            )
        except SqlError as error:
            return _json({"status": "error", "error_message": str(error)}), None
        artifact = {"sql": sql, **result.to_records()}
        if not result.rows:
            return _json({"status": "success", "data": [], "message": "查询无结果"}), artifact
        return _json(result.rows), artifact


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
