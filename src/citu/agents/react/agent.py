"""The ReAct agent: one compiled LangGraph graph with a PostgreSQL checkpointer, built once at
start and shared by every request.

Graph: ``agent`` → (``prepare_tool_input`` → ``tools`` → ``update_state_after_tool`` → ``agent``)*
→ ``format_final_response``. The nodes are the methods below; a turn runs in the background
(``turns.py``) and reports progress and its answer (``reporting.py``). One turn at a time per
thread (a lease in PostgreSQL, so it holds across workers); a second one is refused with
``ThreadBusy``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypedDict

import asyncpg
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.graph import END, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode

from citu.agents.protocols import RetrieverLike
from citu.agents.react import prompts
from citu.agents.react.context import (
    history_for_sql,
    last_human_index,
    last_tool_output,
    text_of,
    total_chars,
    trim_for_llm,
)
from citu.agents.react.history import ConversationViews
from citu.agents.react.memory import ReactMemory
from citu.agents.react.registry import GENERATE_SQL, RUN_SQL, TOOLS_BY_NAME, VALID_SQL
from citu.agents.react.tools import ReactSqlTools
from citu.agents.react.turns import (
    TRANSIENT_ERRORS,
    UNREADABLE_ANSWER,
    Event,
    Turn,
    drain,
    run_turn,
)
from citu.agents.sql_generation import SqlGenerator
from citu.conversation_ids import new_conversation_id
from citu.llm.text import strip_thinking
from citu.settings import Settings
from citu.sql.guard import SqlGuard

log = logging.getLogger("citu.agents.react.agent")


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
            state.get("suggested_next_step"), last_tool_output(messages, VALID_SQL)
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
            except TRANSIENT_ERRORS + UNREADABLE_ANSWER as error:
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
        queue: asyncio.Queue[Event] = asyncio.Queue()
        turn = Turn(question, user_id, thread_id, token)
        task = asyncio.create_task(run_turn(self.graph, self.memory, self.settings, turn, queue))
        self._turns.add(task)
        task.add_done_callback(self._turns.discard)
        return drain(queue)


def _wants_tools(state: ReactState) -> str:
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else "answer"


def _network_apology(messages: list[BaseMessage]) -> str:
    result = last_tool_output(messages[last_human_index(messages) :], RUN_SQL)
    if result is not None:
        return f"抱歉，由于网络连接问题，无法生成完整的文字总结。不过查询已成功执行，结果如下：\n\n{result}"
    return "抱歉，由于网络连接问题，无法完成此次请求。请稍后重试或检查网络连接。"
