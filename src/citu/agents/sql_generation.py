"""Question → checked SQL: retrieval-augmented prompt, LLM, guard, EXPLAIN, LLM repair.

Shared by the LangGraph agent (``ask_graph``) and the direct ``/api/v0/ask`` routes. The result
is returned as a value (never kept on the instance), so concurrent requests cannot see each
other's explanations.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from citu.agents.prompts import prompt
from citu.agents.protocols import RetrievedContextLike, RetrieverLike
from citu.llm.calls import complete
from citu.llm.text import (
    EMPTY_SQL_EXPLANATION,
    extract_sql,
    looks_like_sql,
    markdown_table,
    visible_text,
)
from citu.settings import Settings
from citu.sql.guard import SqlGuard
from citu.sql.runner import SqlError, explain_sql, run_read_only

log = logging.getLogger("citu.agents.ask.sql")

REPLY_SIZE_FACTOR = 4  # model replies up to this many times the SQL size cap are searched
LOGGED_SQL_CHARS = 2048  # a refused statement is logged by its head only

DIALECT = "PostgreSQL"
INTERMEDIATE_MARKER = "intermediate_sql"


DB_REFUSED_TEXT = "数据库未能通过该SQL的验证"


@dataclass
class SqlGeneration:
    """Outcome of one question. Exactly one of: ``ok``, ``explanation`` or ``failure``."""

    sql: str | None = None
    ok: bool = False
    explanation: str | None = None  # the LLM answered in words instead of SQL
    failure: str | None = None  # user-facing reason the SQL was refused or stayed invalid
    error_type: str | None = None  # forbidden_keywords | syntax_repair_failed | llm_explanation ...
    validation_ok: bool = False
    repair_attempted: bool = False
    repair_success: bool = False
    steps: list[str] = field(default_factory=list)


class SqlGenerator:
    def __init__(
        self,
        llm: BaseChatModel,
        retriever: RetrieverLike,
        business_db: Callable[[], asyncpg.Pool],
        settings: Settings,
        guard: SqlGuard | None = None,
    ) -> None:
        self.llm = llm
        self.retriever = retriever
        self.business_db = business_db  # raises a 503 when the business database is down
        self.settings = settings
        self.guard = guard or SqlGuard.from_settings(settings)

    @property
    def max_reply_chars(self) -> int:
        """The longest model reply that is searched for SQL: any statement in a longer one
        is over the guard's size cap anyway, and the extraction regexes run on the loop."""
        return REPLY_SIZE_FACTOR * self.settings.sql_max_bytes

    def _reply_too_long(self, reply: str) -> SqlGeneration | None:
        if len(reply) <= self.max_reply_chars:
            return None
        log.warning("model reply too long to search for SQL (%d chars)", len(reply))
        reason = f"模型回复过长（{len(reply)} 个字符，上限 {self.max_reply_chars}）"
        return SqlGeneration(
            failure=f"不允许的操作: {reason}。本系统只支持查询操作(SELECT)。",
            error_type="forbidden_keywords",
            steps=["forbidden_keywords_failed"],
        )

    async def generate(self, question: str) -> SqlGeneration:
        context = await self.retriever.retrieve(question)
        reply = await complete(self.llm, self.build_messages(question, context))
        if (refused := self._reply_too_long(reply)) is not None:
            return refused
        if INTERMEDIATE_MARKER in reply and self.settings.allow_llm_to_see_data:
            # The model asked to see some values first (e.g. exact names): show it, ask again.
            seen = await self._intermediate_result(extract_sql(reply))
            reply = await complete(self.llm, self.build_messages(question, context, [seen]))
            if (refused := self._reply_too_long(reply)) is not None:
                return refused
        sql = extract_sql(reply)
        if not looks_like_sql(sql):
            # Words instead of SQL (or nothing): the LLM's explanation is the answer.
            text = visible_text(reply, self.settings.display_result_thinking)
            return SqlGeneration(
                explanation=text or EMPTY_SQL_EXPLANATION,
                error_type="llm_explanation",
                steps=["agent_sql_generation"],
            )
        return await self.validate(sql)

    async def validate(self, sql: str) -> SqlGeneration:
        """Guard, then EXPLAIN; on a database error let the LLM repair the SQL a few times."""
        result = SqlGeneration(sql=sql)
        check = await self.guard.check(sql)
        if not check.ok:
            log.warning("generated SQL refused (%s): %s", check.reason, sql[:LOGGED_SQL_CHARS])
            result.failure = f"不允许的操作: {check.reason}。本系统只支持查询操作(SELECT)。"
            result.error_type = "forbidden_keywords"
            result.steps = ["forbidden_keywords_failed"]
            return result
        error = await self._explain(sql)
        if error is None:
            return self._accepted(result, sql)

        attempts = self.settings.sql_repair_max_attempts
        if attempts <= 0:
            log.warning("generated SQL failed validation: %s", error)
            result.failure = f"SQL验证失败: {DB_REFUSED_TEXT}"
            result.error_type = "syntax_error"
            result.steps = ["sql_validation_failed"]
            return result
        result.repair_attempted = True
        for attempt in range(1, attempts + 1):
            log.info("repairing SQL (attempt %d/%d): %s", attempt, attempts, error)
            reply = await complete(self.llm, self._repair_messages(sql, error))
            if len(reply) > self.max_reply_chars:
                error = "模型回复过长"
                continue
            candidate = extract_sql(reply)
            if not candidate:
                error = "LLM返回空响应"
                continue
            sql = candidate
            check = await self.guard.check(sql)
            error = check.reason if not check.ok else await self._explain(sql)
            if error is None:
                result.repair_success = True
                result.steps = ["sql_repair_success"]
                return self._accepted(result, sql)
        result.sql = sql
        log.warning("repaired SQL still invalid: %s", error)
        # The database's text (it may quote data) stays with the log and the repair loop.
        result.failure = f"SQL语法修复失败: 修复后的SQL仍然无效: {DB_REFUSED_TEXT}"
        result.error_type = "syntax_repair_failed"
        result.steps = ["sql_repair_failed"]
        return result

    @staticmethod
    def _accepted(result: SqlGeneration, sql: str) -> SqlGeneration:
        result.sql = sql
        result.ok = result.validation_ok = True
        result.steps = [*result.steps, "agent_sql_generation"]
        return result

    async def _intermediate_result(self, sql: str) -> str:
        """The intermediate query's rows as documentation text (or why it could not run)."""
        try:
            result = await run_read_only(
                self.business_db(),
                sql,
                max_rows=self.settings.summary_max_rows,
                timeout_ms=self.settings.business_statement_timeout_ms,
                guard=self.guard,
            )
        except SqlError as exc:
            log.info("intermediate SQL failed: %s", exc)
            return f"The intermediate SQL query {sql} could not run: {exc}"
        table = markdown_table(result.columns, result.rows)
        return (
            f"The following table holds the results of the intermediate SQL query {sql}:\n{table}"
        )

    async def _explain(self, sql: str) -> str | None:
        return await explain_sql(
            self.business_db(),
            sql,
            timeout_ms=self.settings.business_statement_timeout_ms,
            guard=self.guard,
        )

    def build_messages(
        self,
        question: str,
        context: RetrievedContextLike,
        extra_documentation: list[str] | None = None,
    ) -> list[BaseMessage]:
        """System prompt with tables, documentation and negative examples; then few-shot pairs."""
        texts = prompt("sql_generation")
        budget = self.settings.sql_prompt_max_tokens
        system = texts["initial_prompt"].format(dialect=DIALECT)

        def add_section(header: str, items: list[str]) -> str:
            text = header
            for item in items:
                # The old service's approximation: 4 characters per token.
                if (len(system) + len(text) + len(item)) / 4 >= budget:
                    break
                text += f"{item}\n\n"
            return text

        if context.ddl:
            system += add_section(texts["tables_header"], context.ddl)
        documentation = [*context.documentation, *(extra_documentation or [])]
        if documentation:
            system += add_section(texts["documentation_header"], documentation)
        # The retriever returns wrong-SQL examples only when enabled and similar enough.
        if context.error_sql:
            system += texts["negative_examples_header"]
            for example in context.error_sql:
                system += f"问题: {example['question']}\n错误的SQL: {example['sql']}\n\n"
        system += texts["response_guidelines"].format(dialect=DIALECT)

        messages: list[BaseMessage] = [SystemMessage(system)]
        pairs = sorted(
            context.question_sql, key=lambda p: float(p.get("similarity", 0.0)), reverse=True
        )
        for pair in pairs:
            messages += [HumanMessage(pair["question"]), AIMessage(pair["sql"])]
        messages.append(HumanMessage(question))
        return messages

    def _repair_messages(self, sql: str, error: str) -> list[BaseMessage]:
        texts = prompt("sql_repair")
        return [
            SystemMessage(texts["system"].format(dialect=DIALECT)),
            HumanMessage(texts["user"].format(dialect=DIALECT, error=error, sql=sql)),
        ]
