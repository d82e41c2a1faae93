"""The ReAct agent (agents spec §5.5): one compiled LangGraph graph with a PostgreSQL
checkpointer, built once at start and shared by every request.

Graph: ``agent`` → (``prepare_tool_input`` → ``tools`` → ``update_state_after_tool`` → ``agent``)*
→ ``format_final_response``. A turn runs as a background task that feeds a queue: the HTTP
handler (plain or SSE) only reads the queue, so a client that disconnects does not cut the
turn short and lose the answer. One turn at a time per thread (a lease in PostgreSQL, so it
holds across workers); a second one is refused with ``ThreadBusy``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypedDict

import asyncpg
import httpx
import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.graph import END, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from psycopg import OperationalError

from citu import failures
from citu.agents.protocols import RetrieverLike
from citu.agents.react import prompts
from citu.agents.react.context import (
    history_for_sql,
    last_human_index,
    text_of,
    total_chars,
    trim_for_llm,
)
from citu.agents.react.history import ConversationViews
from citu.agents.react.memory import ReactMemory
from citu.agents.react.registry import GENERATE_SQL, RUN_SQL, TOOLS_BY_NAME, VALID_SQL
from citu.agents.react.tools import ReactSqlTools
from citu.agents.sql_generation import SqlGenerator
from citu.charts import add_chart
from citu.conversation_ids import new_conversation_id
from citu.llm.text import looks_like_sql, strip_thinking
from citu.settings import Settings
from citu.sql.guard import SqlGuard

log = logging.getLogger("citu.agents.react.agent")

AGENT_VERSION = "custom_react_v1"

NODE_NAMES = {
    "__start__": "开始处理",
    "trim_messages": "检查问题上下文",
    "agent": "AI分析中",
    "prepare_tool_input": "准备工具参数",
    "tools": "执行操作",
    "update_state_after_tool": "检查结果",
    "format_final_response": "生成回答",
    "__end__": "完成",
}

_TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    openai.APIConnectionError,  # includes APITimeoutError
    openai.InternalServerError,
    openai.RateLimitError,
    httpx.TransportError,
    TimeoutError,
    ConnectionError,
)

# langchain-openai raises these when an OpenAI-compatible API answers another JSON shape;
# like a network failure, a retry may succeed and the user gets the apology, not the traceback.
_UNREADABLE_ANSWER: tuple[type[BaseException], ...] = (TypeError, ValueError, KeyError)


class ReactState(TypedDict):
    messages: Annotated[list[BaseMessage], add_messages]
    user_id: str
    thread_id: str
    suggested_next_step: str | None


class ThreadBusy(Exception):
    """Another turn is running on this thread."""


class AgentUnavailable(Exception):
    """The agent cannot run turns (no LLM configured)."""


def new_thread_id(user_id: str) -> str:
    """A new thread: its id is a conversation id."""
    return new_conversation_id(user_id)


class ReactAgent:
    def __init__(
        self,
        memory: ReactMemory,
        llm: BaseChatModel | None,
        tools: ReactSqlTools,
        settings: Settings,
    ) -> None:
        self.memory = memory
        self.views = ConversationViews(memory)
        self.settings = settings
        self._tool_list = tools.tools()
        self._llm = (
            llm.bind_tools(self._tool_list, temperature=settings.react_temperature)
            if llm is not None
            else None
        )
        self.graph = self._build_graph() if llm is not None else None
        self._turns: set[asyncio.Task[None]] = set()

    @classmethod
    async def open(
        cls,
        database_url: str,
        llm: BaseChatModel | None,
        retriever: RetrieverLike,
        business_db: Callable[[], asyncpg.Pool],
        settings: Settings,
        guard: SqlGuard | None = None,
    ) -> ReactAgent:
        """Open the checkpointer (pool + ``setup()``) and compile the graph, once per process.

        ``business_db`` returns the business pool or raises ServiceUnavailable.
        """
        memory = await ReactMemory.open(database_url, settings)
        guard = guard or SqlGuard.from_settings(settings)
        generator = (
            SqlGenerator(llm, retriever, business_db, settings, guard) if llm is not None else None
        )
        tools = ReactSqlTools(generator, business_db, settings, guard)
        return cls(memory, llm, tools, settings)

    async def aclose(self) -> None:
        for task in list(self._turns):
            task.cancel()
        await asyncio.gather(*self._turns, return_exceptions=True)
        await self.memory.aclose()

    # ---- the graph -----------------------------------------------------------------------

    def _build_graph(self) -> Any:
        graph = StateGraph(ReactState)
        graph.add_node("agent", self._agent)
        graph.add_node("prepare_tool_input", self._prepare_tool_input)
        graph.add_node("tools", ToolNode(self._tool_list))
        graph.add_node("update_state_after_tool", self._update_state_after_tool)
        graph.add_node("format_final_response", self._format_final_response)
        graph.set_entry_point("agent")
        graph.add_conditional_edges(
            "agent",
            _wants_tools,
            {"tools": "prepare_tool_input", "answer": "format_final_response"},
        )
        graph.add_edge("prepare_tool_input", "tools")
        graph.add_edge("tools", "update_state_after_tool")
        graph.add_edge("update_state_after_tool", "agent")
        graph.add_edge("format_final_response", END)
        return graph.compile(checkpointer=self.memory.saver)

    def llm_input(self, state: ReactState) -> list[BaseMessage]:
        """Transient system messages around the trimmed history (never stored)."""
        messages = state["messages"]
        question = text_of(messages[last_human_index(messages)]) if messages else ""
        head: list[BaseMessage] = []
        if messages and isinstance(messages[-1], HumanMessage):
            head.append(SystemMessage(prompts.scope_prompt()))
        tail: list[BaseMessage] = []
        suggestion = prompts.suggestion_prompt(
            state.get("suggested_next_step"), _last_tool_output(messages, VALID_SQL)
        )
        if suggestion:
            tail.append(SystemMessage(suggestion))
        tail.append(SystemMessage(prompts.grounding_prompt(question)))
        budget = self.settings.react_trim_max_chars - total_chars(head) - total_chars(tail)
        return head + trim_for_llm(messages, max(budget, 0)) + tail

    async def _agent(self, state: ReactState) -> dict[str, Any]:
        llm_input = self.llm_input(state)
        attempts = max(1, self.settings.react_max_retries)
        failure: BaseException | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self.settings.react_retry_base_delay * 2 ** (attempt - 1))
            try:
                reply = await self._llm.ainvoke(llm_input)
            except _TRANSIENT_ERRORS + _UNREADABLE_ANSWER as error:
                log.warning("ReAct LLM call failed (attempt %d): %s", attempt + 1, error)
                failure = error
                continue
            if reply.tool_calls or text_of(reply).strip():
                return {"messages": [reply]}
            log.warning("ReAct LLM gave an empty answer (attempt %d)", attempt + 1)
        if failure is None:
            return {"messages": [AIMessage(prompts.FALLBACK_ANSWER)]}
        return {"messages": [AIMessage(_network_apology(state["messages"]))]}

    async def _prepare_tool_input(self, state: ReactState) -> dict[str, Any]:
        """Give SQL generation the verbatim question and the earlier turns as context."""
        messages = state["messages"]
        last = messages[-1]
        if not any(call["name"] == GENERATE_SQL for call in last.tool_calls):
            return {}
        question = text_of(messages[last_human_index(messages)])
        history = history_for_sql(messages, self.settings.react_history_max_chars)
        calls = [
            {**call, "args": {**call["args"], "question": question, "history_messages": history}}
            if call["name"] == GENERATE_SQL
            else call
            for call in last.tool_calls
        ]
        # Same id: add_messages replaces the stored call, so the checkpoint shows what ran.
        return {"messages": [last.model_copy(update={"tool_calls": calls})]}

    async def _update_state_after_tool(self, state: ReactState) -> dict[str, Any]:
        last = state["messages"][-1]
        if not isinstance(last, ToolMessage):
            return {"suggested_next_step": None}
        tool = TOOLS_BY_NAME.get(last.name or "")
        return {"suggested_next_step": tool.next_step(text_of(last)) if tool else None}

    async def _format_final_response(self, state: ReactState) -> dict[str, Any]:
        last = state["messages"][-1]
        if self.settings.display_result_thinking or not isinstance(last, AIMessage):
            return {}
        text = text_of(last)
        stripped = strip_thinking(text)
        if stripped == text:
            return {}
        return {"messages": [last.model_copy(update={"content": stripped})]}

    # ---- turns ---------------------------------------------------------------------------

    async def start_turn(
        self, question: str, user_id: str, thread_id: str
    ) -> AsyncIterator[dict[str, Any]]:
        """Start a turn; its events: ``progress``* then one ``completed`` or ``error``.

        Raises ThreadBusy when a turn is already running on ``thread_id``.
        """
        if self.graph is None:
            raise AgentUnavailable("LLM未配置：请设置 CITU_LLM_BASE_URL")
        token = await self.memory.lock_thread(thread_id)
        if token is None:
            raise ThreadBusy(thread_id)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        task = asyncio.create_task(self._run(queue, question, user_id, thread_id, token))
        self._turns.add(task)
        task.add_done_callback(self._turns.discard)
        return _drain(queue)

    async def _run(
        self,
        queue: asyncio.Queue[dict[str, Any]],
        question: str,
        user_id: str,
        thread_id: str,
        token: str,
    ) -> None:
        config = {
            "configurable": {"thread_id": thread_id},
            "recursion_limit": self.settings.react_recursion_limit,
        }
        inputs = {
            "messages": [HumanMessage(question)],
            "user_id": user_id,
            "thread_id": thread_id,
            "suggested_next_step": None,
        }
        final = _error_event("处理失败：未获取到有效的执行结果", retry=False)
        # A turn never outlives its lease, so a second turn can never run beside it.
        deadline = asyncio.timeout(self.settings.react_turn_lease_seconds)
        log.info("ReAct turn on %s started (user %s)", thread_id, user_id)
        started = time.monotonic()
        try:
            async with deadline:
                async for update in self.graph.astream(inputs, config, stream_mode="updates"):
                    for node, value in update.items():
                        _log_tool_results(thread_id, value)
                        queue.put_nowait(progress_event(node, value))
                state = (await self.graph.aget_state(config)).values
            data = api_data(state["messages"], state.get("suggested_next_step"), thread_id)
            add_chart(data, self.settings)
            final = {"type": "completed", "api_data": data}
            elapsed = time.monotonic() - started
            log.info("ReAct turn on %s completed in %.2f s", thread_id, elapsed)
        except asyncio.CancelledError:
            final = _error_event(
                "服务正在停止，请稍后重试", retry=True, error_type=failures.SERVICE_STOPPING
            )
            raise
        except _TRANSIENT_ERRORS + (OperationalError,) as error:
            if deadline.expired():
                log.warning("ReAct turn on %s hit its time limit", thread_id)
                final = _error_event(
                    "处理超时，请稍后重试", retry=True, error_type=failures.TIMEOUT
                )
            else:
                log.warning("ReAct turn on %s failed (transient): %s", thread_id, error)
                kind = failures.describe(error).error_type
                final = _error_event("服务暂时不可用，请稍后重试", retry=True, error_type=kind)
        except Exception as error:  # noqa: BLE001 - the client gets citu's own text in-band
            log.exception("ReAct turn on %s failed", thread_id)
            # The upstream's text (a provider may quote the key) stays in the log.
            failure = failures.describe(error)
            final = _error_event(
                failure.text, retry=failure.can_retry, error_type=failure.error_type
            )
        finally:
            # Release before answering, so the client's next question finds the thread free.
            try:
                await self.memory.unlock_thread(thread_id, token)
            except Exception:  # noqa: BLE001 - the lease expires on its own
                log.exception("releasing the turn lock of %s failed", thread_id)
            queue.put_nowait(final)


async def _drain(queue: asyncio.Queue[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    while True:
        event = await queue.get()
        yield event
        if event["type"] != "progress":
            return


def _log_tool_results(thread_id: str, update: Any) -> None:
    """One react_agent.log line per tool that answered, so a turn can be followed there."""
    messages = update.get("messages", []) if isinstance(update, dict) else []
    for message in messages:
        if isinstance(message, ToolMessage):
            log.info("ReAct turn on %s: tool %s called", thread_id, message.name)


def _error_event(
    text: str, *, retry: bool, error_type: str = failures.INTERNAL_ERROR
) -> dict[str, Any]:
    return {"type": "error", "error": text, "retry_suggested": retry, "error_type": error_type}


def _wants_tools(state: ReactState) -> str:
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else "answer"


def _network_apology(messages: list[BaseMessage]) -> str:
    result = _last_tool_output(messages[last_human_index(messages) :], RUN_SQL)
    if result is not None:
        return f"抱歉，由于网络连接问题，无法生成完整的文字总结。不过查询已成功执行，结果如下：\n\n{result}"
    return "抱歉，由于网络连接问题，无法完成此次请求。请稍后重试或检查网络连接。"


def _last_tool_output(messages: list[BaseMessage], name: str) -> str | None:
    for message in reversed(messages):
        if isinstance(message, ToolMessage) and message.name == name:
            return text_of(message)
    return None


# ---- what the API reports --------------------------------------------------------------------


def detect_tool(update: Any) -> str | None:
    """The tool a node update is about: the first call of an AI message, or a tool reply."""
    if not isinstance(update, dict):
        return None
    messages = update.get("messages") or []
    if not messages:
        return None
    last = messages[-1]
    if isinstance(last, AIMessage) and last.tool_calls:
        return last.tool_calls[0]["name"]
    return getattr(last, "name", None) or None


def display_name(node: str, tool: str | None) -> str:
    label = prompts.TOOL_LABELS.get(tool or "")
    if label and node == "agent":
        return f"准备{label}"
    if label and node == "tools":
        return label
    return NODE_NAMES.get(node, "处理中")


def progress_event(node: str, update: Any) -> dict[str, Any]:
    tool = detect_tool(update)
    event = {"type": "progress", "node": node, "display_name": display_name(node, tool)}
    if tool:
        event["tool_name"] = tool
    return event


def api_data(
    messages: list[BaseMessage], suggested_next_step: str | None, thread_id: str
) -> dict[str, Any]:
    """The answer of the turn that just ended (spec §5.5 ``api_data``)."""
    turn = messages[last_human_index(messages) :]
    response = text_of(messages[-1]) if messages else ""
    sql_failure = _last_tool_output(turn, GENERATE_SQL)
    if (
        suggested_next_step == "answer_with_common_sense"
        and sql_failure
        and ("failed" in sql_failure.lower() or "失败" in sql_failure)
    ):
        reason = sql_failure.removeprefix("Database query failed. Reason:").strip()
        response = f"{reason}\n\n{response}"
    data: dict[str, Any] = {"response": response}
    sql, records = _turn_sql_and_records(turn)
    if sql:
        data["sql"] = sql
    if records:
        data["records"] = records
    data["react_agent_meta"] = agent_meta(messages, thread_id)
    return data


def _turn_sql_and_records(turn: list[BaseMessage]) -> tuple[str | None, dict[str, Any] | None]:
    """The SQL that actually ran (last successful ``run_sql``) and its rows; falling back to
    the last query ``generate_sql`` produced when nothing ran."""
    for message in reversed(turn):
        if isinstance(message, ToolMessage) and message.name == RUN_SQL and message.artifact:
            artifact = message.artifact
            records = None
            if artifact.get("rows"):
                records = {
                    "columns": artifact["columns"],
                    "rows": artifact["rows"],
                    "total_row_count": artifact["total_row_count"],
                    "is_limited": artifact["is_limited"],
                }
            return artifact["sql"], records
    for message in reversed(turn):
        if isinstance(message, ToolMessage) and message.name == GENERATE_SQL:
            output = text_of(message).strip()
            if looks_like_sql(output):
                return output, None
    return None, None


def agent_meta(messages: list[BaseMessage], thread_id: str) -> dict[str, Any]:
    """``react_agent_meta``: cumulative over the whole thread, as the old agent reported."""
    tools_used: list[str] = []
    context_injected = False
    for message in messages:
        names: list[str] = []
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                names.append(call["name"])
                if call["name"] == GENERATE_SQL and call["args"].get("history_messages"):
                    context_injected = True
        elif isinstance(message, ToolMessage) and message.name:
            names.append(message.name)
        tools_used += [name for name in names if name not in tools_used]
    path = ["agent"] + (["prepare_tool_input", "tools"] if tools_used else [])
    return {
        "thread_id": thread_id,
        "conversation_rounds": sum(isinstance(m, HumanMessage) for m in messages),
        "tools_used": tools_used,
        "execution_path": path + ["format_final_response"],
        "total_messages": len(messages),
        "sql_execution_count": sum(
            isinstance(m, ToolMessage) and m.name == RUN_SQL for m in messages
        ),
        "context_injected": context_injected,
        "agent_version": AGENT_VERSION,
    }
