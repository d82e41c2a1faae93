"""The question-answering agent behind ``/api/v0/ask_agent``: a LangGraph graph built once.

classify_question ─DATABASE→ agent_sql_generation ─ok→ agent_sql_execution ─┐
        └──────── otherwise → agent_chat ─────────────────────────────────────┴→ format_response
(a failed SQL generation goes straight to format_response).

Nodes return partial state updates; ``execution_path`` accumulates. ``final_response`` keeps
the old agent's result shapes (``ask_results.py``), which the routes turn into envelopes.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypedDict

import asyncpg
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from citu import failures
from citu.agents.ask_results import final_response, progress_for
from citu.agents.classifier import QuestionClassifier
from citu.agents.llm_calls import LlmError, complete
from citu.agents.llm_text import current_question, markdown_table, visible_text
from citu.agents.prompts import prompt
from citu.agents.protocols import RetrieverLike
from citu.agents.sql_generation import SqlGenerator
from citu.agents.sql_guard import SqlGuard
from citu.agents.sql_runner import SqlExecutionError, UnsafeSqlError, run_read_only
from citu.errors import ApiError
from citu.settings import Settings

log = logging.getLogger("citu.agents.ask.graph")

EXPLANATION_SUFFIX = " 请尝试提问其它问题。"
EMPTY_RESULT_MESSAGE = "查询执行成功，但没有找到符合条件的数据"
CHAT_FALLBACK = "抱歉，我暂时无法回答您的问题。请稍后再试。"


class AskState(TypedDict, total=False):
    question: str  # possibly "[CONTEXT] … [CURRENT] …"
    conversation_id: str
    routing_mode: str
    question_type: str  # DATABASE | CHAT | UNCERTAIN
    classification_confidence: float
    classification_reason: str
    classification_method: str
    sql: str | None
    query_result: dict[str, Any] | None
    summary: str | None
    sql_generation_success: bool
    sql_validation_success: bool
    sql_repair_attempted: bool
    sql_repair_success: bool
    validation_error_type: str | None
    user_prompt: str | None
    chat_response: str | None
    error: str | None
    error_code: int | None
    final_response: dict[str, Any]
    execution_path: Annotated[list[str], operator.add]


def summary_fallback(row_count: int) -> str:
    return f"查询执行成功，共返回 {row_count} 条记录。数据已准备完毕，您可以查看详细结果。"


class AskAgent:
    # The old agent's four tools (SQL generation, execution, summary, chat); /agent_health shows it.
    tools_count = 4

    def __init__(
        self,
        llm: BaseChatModel,
        retriever: RetrieverLike,
        business_db: Callable[[], asyncpg.Pool],
        settings: Settings,
        guard: SqlGuard | None = None,
    ) -> None:
        self.llm = llm
        self.settings = settings
        self.business_db = business_db
        self.classifier = QuestionClassifier(llm)
        self.sql = SqlGenerator(llm, retriever, business_db, settings, guard)
        self.graph = self._build()

    def _build(self) -> Any:
        graph = StateGraph(AskState)
        graph.add_node("classify_question", self._classify)
        graph.add_node("agent_sql_generation", self._generate_sql)
        graph.add_node("agent_sql_execution", self._execute_sql)
        graph.add_node("agent_chat", self._chat)
        graph.add_node("format_response", self._format_response)
        graph.add_edge(START, "classify_question")
        graph.add_conditional_edges(
            "classify_question",
            lambda s: (
                "agent_sql_generation" if s.get("question_type") == "DATABASE" else "agent_chat"
            ),
            ["agent_sql_generation", "agent_chat"],
        )
        graph.add_conditional_edges(
            "agent_sql_generation",
            lambda s: (
                "agent_sql_execution" if s.get("sql_generation_success") else "format_response"
            ),
            ["agent_sql_execution", "format_response"],
        )
        graph.add_edge("agent_sql_execution", "format_response")
        graph.add_edge("agent_chat", "format_response")
        graph.add_edge("format_response", END)
        return graph.compile()

    @staticmethod
    def initial_state(question: str, conversation_id: str, routing_mode: str) -> AskState:
        return {
            "question": question,
            "conversation_id": conversation_id,
            "routing_mode": routing_mode,
            "question_type": "UNCERTAIN",
            "classification_confidence": 0.0,
            "classification_reason": "",
            "classification_method": "",
            "sql": None,
            "query_result": None,
            "summary": None,
            "sql_generation_success": False,
            "sql_validation_success": False,
            "sql_repair_attempted": False,
            "sql_repair_success": False,
            "validation_error_type": None,
            "user_prompt": None,
            "chat_response": None,
            "error": None,
            "error_code": None,
            "execution_path": ["start"],
        }

    # ---- running ------------------------------------------------------------------------

    async def process_question(
        self, question: str, conversation_id: str, routing_mode: str = "hybrid"
    ) -> dict[str, Any]:
        """The final response. LLM / database outages raise their typed 503/504 errors."""
        try:
            state = await self.graph.ainvoke(
                self.initial_state(question, conversation_id, routing_mode)
            )
        except ApiError:
            raise
        except Exception as exc:  # noqa: BLE001 - the API reports it as a failed answer
            log.exception("ask agent failed for %s", conversation_id)
            return {
                "success": False,
                "error": f"Agent系统异常: {failures.public_text(exc)}",
                "error_code": 500,
                "execution_path": ["error"],
            }
        return state["final_response"]

    async def stream_question(
        self, question: str, conversation_id: str, routing_mode: str = "hybrid"
    ) -> AsyncIterator[dict[str, Any]]:
        """``{"type": "progress", "node", "progress"}`` per graph step, then ``completed``."""
        state: dict[str, Any] = dict(self.initial_state(question, conversation_id, routing_mode))
        async for chunk in self.graph.astream(state, stream_mode="updates"):
            for node, update in chunk.items():
                for key, value in (update or {}).items():
                    state[key] = state[key] + value if key == "execution_path" else value
                progress = progress_for(node, state)
                if progress is not None:
                    yield {"type": "progress", "node": node, "progress": progress}
        yield {"type": "completed", "result": state["final_response"]}

    async def health_check(self) -> bool:
        result = await self.process_question("你好", "health_check", "hybrid")
        return bool(result.get("success"))

    # ---- nodes --------------------------------------------------------------------------

    async def _classify(self, state: AskState) -> dict[str, Any]:
        try:
            found = await self.classifier.classify(state["question"], state["routing_mode"])
        except LlmError:
            raise
        except Exception as exc:  # noqa: BLE001 - answered as an error by format_response
            log.exception("classification failed")
            return {
                "error": f"问题分类失败: {failures.public_text(exc)}",
                "error_code": 500,
                "execution_path": ["classify_error"],
            }
        return {
            "question_type": found.question_type,
            "classification_confidence": found.confidence,
            "classification_reason": found.reason,
            "classification_method": found.method,
            "execution_path": ["classify"],
        }

    async def _generate_sql(self, state: AskState) -> dict[str, Any]:
        result = await self.sql.generate(state["question"])
        update: dict[str, Any] = {
            "sql": result.sql,
            "sql_generation_success": result.ok,
            "sql_validation_success": result.validation_ok,
            "sql_repair_attempted": result.repair_attempted,
            "sql_repair_success": result.repair_success,
            "validation_error_type": result.error_type,
            "execution_path": result.steps,
        }
        if result.explanation is not None:
            update["chat_response"] = result.explanation + EXPLANATION_SUFFIX
        if result.failure is not None:
            update["user_prompt"] = result.failure
        return update

    async def _execute_sql(self, state: AskState) -> dict[str, Any]:
        settings = self.settings
        try:
            result = await run_read_only(
                self.business_db(),
                state["sql"] or "",
                max_rows=settings.api_max_return_rows,
                timeout_ms=settings.business_statement_timeout_ms,
                guard=self.sql.guard,
            )
        except UnsafeSqlError as exc:
            return self._execution_failed(f"SQL执行失败: {exc.reason}")
        except SqlExecutionError as exc:
            log.warning("agent SQL failed: %s", exc.message)
            return self._execution_failed(f"SQL执行失败: {failures.pg_error_text(exc.pg_code)}")

        if result.row_count == 0 and not result.is_limited:
            records: dict[str, Any] = {
                "rows": [],
                "columns": [],
                "row_count": 0,
                "message": EMPTY_RESULT_MESSAGE,
            }
        else:
            records = result.to_records()
        update: dict[str, Any] = {
            "query_result": records,
            "execution_path": ["agent_sql_execution"],
        }
        if settings.enable_result_summary and result.row_count > 0:
            update["summary"] = await self.summarize(
                current_question(state["question"]), result.columns, result.rows
            )
        return update

    @staticmethod
    def _execution_failed(text: str) -> dict[str, Any]:
        log.warning(text)
        return {"error": text, "error_code": 500, "execution_path": ["agent_sql_execution_error"]}

    async def summarize(self, question: str, columns: list[str], rows: list[dict[str, Any]]) -> str:
        """A short Chinese summary; on an LLM failure a fixed sentence (the rows are still good)."""
        shown = rows[: self.settings.summary_max_rows]
        texts = prompt("summary")
        messages = [
            SystemMessage(
                texts["system"].format(
                    question=question,
                    shown=len(shown),
                    total=len(rows),
                    table=markdown_table(columns, shown),
                )
            ),
            HumanMessage(texts["user"]),
        ]
        try:
            reply = await complete(self.llm, messages)
        except LlmError as exc:
            log.warning("summary skipped: %s", exc)
            return summary_fallback(len(rows))
        return visible_text(reply, self.settings.display_result_thinking) or summary_fallback(
            len(rows)
        )

    async def _chat(self, state: AskState) -> dict[str, Any]:
        messages = [SystemMessage(prompt("chat")["system"]), HumanMessage(state["question"])]
        reply = await complete(self.llm, messages)
        text = visible_text(reply, self.settings.display_result_thinking)
        return {"chat_response": text or CHAT_FALLBACK, "execution_path": ["agent_chat"]}

    async def _format_response(self, state: AskState) -> dict[str, Any]:
        path = [*state.get("execution_path", []), "format_response"]
        return {
            "final_response": final_response(state, path),
            "execution_path": ["format_response"],
        }
