"""The ReAct agent's tools, built from the registry: SQL generation, validation and execution.

SQL generation wraps the ask agent's ``SqlGenerator``, so both agents build the same prompt.

Their text outputs are what the LLM reads next and what ``update_state_after_tool`` inspects,
so the success/failure wording follows the old tools. ``run_sql`` also returns the rows as an
artifact (kept on the ToolMessage in the checkpoint) so the API answer does not re-parse text.
Each registry entry is served by the method of the same name.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from langchain_core.tools import BaseTool, StructuredTool

from citu import failures
from citu.agents.react import prompts
from citu.agents.react.registry import TOOLS
from citu.agents.sql_generation import SqlGenerator
from citu.errors import ServiceUnavailable
from citu.settings import Settings
from citu.sql.guard import SqlGuard
from citu.sql.runner import SqlError, explain_sql, run_read_only

log = logging.getLogger("citu.agents.react.tools")

VALID_SQL_OK = "SQL验证通过：语法正确且字段存在"


class ReactSqlTools:
    """Builds the three tools over the SQL generator and the read-only business pool."""

    def __init__(
        self,
        generator: SqlGenerator | None,
        business_db: Callable[[], asyncpg.Pool],
        settings: Settings,
        guard: SqlGuard | None = None,
    ) -> None:
        self.generator = generator
        self.business_db = business_db
        self.settings = settings
        self.guard = guard or SqlGuard.from_settings(settings)

    def tools(self) -> list[BaseTool]:
        return [
            StructuredTool.from_function(
                coroutine=getattr(self, spec.name),
                name=spec.name,
                description=spec.description,
                args_schema=spec.args,
                response_format="content_and_artifact" if spec.returns_rows else "content",
            )
            for spec in TOOLS
        ]

    async def generate_sql(self, question: str, history_messages: list[dict[str, str]]) -> str:
        """The ask agent's generator (retrieval prompt, guard, EXPLAIN, repair) as a tool."""
        if self.generator is None:
            return "SQL generation failed: LLM未配置"
        try:
            result = await self.generator.generate(
                prompts.sql_question_with_history(question, history_messages)
            )
        except Exception as error:  # noqa: BLE001 - the LLM reads the failure and moves on
            log.warning("SQL generation failed: %s", error)
            # The model (and the stored thread) get citu's text: a provider's may quote the key.
            return f"SQL generation failed: {failures.public_text(error)}"
        if result.ok:
            return result.sql
        return f"Database query failed. Reason: {result.explanation or result.failure}"

    async def valid_sql(self, sql: str) -> str:
        check = await self.guard.check(sql)
        if not check.ok:
            return f"SQL验证失败：{check.reason}"
        try:
            pool = self.business_db()
        except ServiceUnavailable as error:
            return f"SQL验证失败：执行失败。详细错误：{error}"
        problem = await explain_sql(
            pool, sql, timeout_ms=self.settings.business_statement_timeout_ms, guard=self.guard
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
        try:
            result = await run_read_only(
                self.business_db(),
                sql,
                max_rows=self.settings.api_max_return_rows,
                timeout_ms=self.settings.business_statement_timeout_ms,
                guard=self.guard,
            )
        except (SqlError, ServiceUnavailable) as error:
            return _json({"status": "error", "error_message": str(error)}), None
        artifact = {"sql": sql, **result.to_records()}
        if not result.rows:
            # A result too large to send is not an empty one: tell the model so.
            message = result.limit_note or "查询无结果"
            return _json({"status": "success", "data": [], "message": message}), artifact
        return _json(result.rows), artifact


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
