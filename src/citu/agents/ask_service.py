"""One ``ask_agent`` turn around the agent: identity, conversation, context, QA cache, messages.

Used by ``POST /api/v0/ask_agent`` (an envelope) and ``GET /api/v0/ask_agent_stream`` (SSE
frames), plus the cached ``/api/v0/agent_health`` probe. Wire shapes: agents spec §3.1, §3.2, §3.7.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from citu import failures
from citu import responses as r
from citu.admission import AdmissionGate
from citu.agents.ask_graph import AskAgent
from citu.agents.classifier import ROUTING_MODES
from citu.agents.protocols import ConversationStoreLike
from citu.charts import add_chart
from citu.errors import ApiError, BadRequest
from citu.llm import require_llm
from citu.ops.endpoints import EndpointProbe
from citu.settings import Settings
from citu.stores.conversations import enhance_question

log = logging.getLogger("citu.agents.ask.service")

AGENT_FAILED_TEXT = "Agent处理失败"


@dataclass
class AskRequest:
    question: str | None
    user_id: str | None = None
    conversation_id: str | None = None
    continue_conversation: bool = False
    routing_mode: str | None = None


@dataclass
class Turn:
    """A validated request with its resolved user, conversation and context."""

    question: str
    user_id: str
    conversation_id: str
    status: dict[str, Any]
    context: str
    routing_mode: str
    routing_source: str  # "api" | "config"

    @property
    def enhanced_question(self) -> str:
        return enhance_question(self.question, self.context)


def routing_mode_error(mode: str) -> str:
    return f"无效的routing_mode参数值: {mode}，支持的值: {list(ROUTING_MODES)}"


def assistant_text(result: dict[str, Any], *, streamed: bool = False) -> str:
    """What is stored (and shown) as the assistant's answer (conversation spec §7.4)."""
    if result.get("type") == "DATABASE":
        if result.get("response"):
            return result["response"]
        if result.get("summary"):
            return result["summary"]
        records = result.get("query_result")
        if records is not None:
            return f"查询执行完成，共返回 {records.get('row_count', 0)} 条记录。"
        return "查询处理完成" if streamed else "数据库查询已处理。"
    return result.get("response") or ("处理完成" if streamed else "")


def sse(frame: dict[str, Any]) -> str:
    return f"data: {json.dumps(frame, ensure_ascii=False)}\n\n"


def sse_error(text: str, error_type: str = failures.INTERNAL_ERROR) -> str:
    data = {"type": "error", "error": text, "timestamp": r.now_iso(), "error_type": error_type}
    body = {"code": 500, "success": False, "message": r.Msg.PROCESSING_FAILED, "data": data}
    return sse(r.with_request_id(body))


def sse_failure(error: BaseException, prefix: str = "") -> str:
    """The error frame for ``error``: citu's own text, never the upstream's."""
    failure = failures.describe(error)
    return sse_error(f"{prefix}{failure.text}", failure.error_type)


def sse_progress(node: str, progress: dict[str, Any], conversation_id: str) -> str:
    display = progress.get("display_name")
    message = "正在执行：格式化响应结果" if node == "format_response" else f"正在执行: {display}"
    data = {"type": "progress", "node": node, **progress, "conversation_id": conversation_id}
    data["timestamp"] = r.now_iso()
    return sse({"code": 200, "success": True, "message": message, "data": data})


def sse_completed(
    result: dict[str, Any], conversation_id: str, response: str, settings: Settings | None = None
) -> str:
    data = {
        "type": "completed",
        "response": response,
        "response_type": result.get("type") or result.get("question_type") or "UNKNOWN",
        "sql": result.get("sql"),
        "query_result": result.get("query_result"),
        "summary": result.get("summary"),
        "conversation_id": conversation_id,
        "execution_path": result.get("execution_path") or [],
        "classification_info": result.get("classification_info") or {},
        "timestamp": r.now_iso(),
    }
    add_chart(data, settings)
    return sse({"code": 200, "success": True, "message": "处理完成", "data": data})


class AskService:
    def __init__(
        self,
        agent: AskAgent | None,
        conversations: ConversationStoreLike,
        settings: Settings,
        endpoint_probe: EndpointProbe | None = None,
    ) -> None:
        self.agent = agent
        self.endpoint_probe = endpoint_probe
        self.conversations = conversations
        self.settings = settings
        # Stream turns run as tasks so a client that disconnects still gets its answer saved.
        self._tasks: set[asyncio.Task[None]] = set()
        self._health: tuple[float, dict[str, Any]] | None = None
        self._health_lock = asyncio.Lock()
        self.admission = AdmissionGate(settings.ask_admission_limit)

    # ---- shared steps -------------------------------------------------------------------

    def _agent(self) -> AskAgent:
        if self.agent is None:
            require_llm(None)  # raises the 503 that names the missing setting
        return self.agent  # type: ignore[return-value]

    def identify(self, request: AskRequest) -> tuple[str, str, str]:
        """``(user_id, routing_mode, routing_source)``, or BadRequest (texts of spec §3.1)."""
        if request.routing_mode is not None and request.routing_mode not in ROUTING_MODES:
            raise BadRequest(
                routing_mode_error(request.routing_mode), invalid_params=["routing_mode"]
            )
        user_id = self.conversations.resolve_user_id(
            request.user_id or None, request.conversation_id or None
        )
        if request.routing_mode:
            return user_id, request.routing_mode, "api"
        return user_id, self.settings.question_routing_mode, "config"

    async def begin(self, request: AskRequest) -> Turn:
        if not request.question:
            raise BadRequest("缺少必需参数：question", missing_params=["question"])
        user_id, mode, source = self.identify(request)
        self._agent()  # without an LLM, fail before creating a conversation
        conversation_id, status = await self.conversations.resolve_conversation_id(
            user_id, request.conversation_id or None, bool(request.continue_conversation)
        )
        context = ""
        # A conversation created for this turn has no history to read.
        if self.settings.enable_conversation_context and status.get("status") == "continue":
            context = await self.conversations.get_context(conversation_id)
        return Turn(request.question, user_id, conversation_id, status, context, mode, source)

    async def _cached(self, turn: Turn) -> dict[str, Any] | None:
        cached = await self.conversations.get_cached_answer(turn.question, context=turn.context)
        if cached is None:
            return None
        log.info("QA cache hit for %s", turn.conversation_id)
        await self.conversations.save_message(turn.conversation_id, "user", turn.question)
        await self.conversations.save_message(
            turn.conversation_id, "assistant", assistant_text(cached), {"from_cache": True}
        )
        return cached

    async def _remember(self, turn: Turn, result: dict[str, Any], *, streamed: bool) -> None:
        """Save a successful answer and offer it to the QA cache."""
        metadata: dict[str, Any] = {
            "type": result.get("type"),
            "sql": result.get("sql"),
            "execution_path": result.get("execution_path") or [],
        }
        if streamed:
            metadata["classification_info"] = result.get("classification_info") or {}
        await self.conversations.save_message(
            turn.conversation_id, "assistant", assistant_text(result, streamed=streamed), metadata
        )
        # The store keys the cache by question and context, so a follow-up never gets a
        # first turn's answer.
        await self.conversations.cache_answer(turn.question, result, context=turn.context)

    # ---- POST /api/v0/ask_agent ---------------------------------------------------------

    async def ask(self, request: AskRequest) -> dict[str, Any]:
        """The envelope of one turn; typed errors (400/503/504) are raised."""
        async with self.admission.admitted():
            body = await self._ask(request)
        add_chart(body["data"], self.settings)
        return body

    async def _ask(self, request: AskRequest) -> dict[str, Any]:
        turn = await self.begin(request)
        agent, conversations = self._agent(), self.conversations
        common = {
            "user_id": turn.user_id,
            "context_used": bool(turn.context),
            "conversation_status": turn.status.get("status"),
            "requested_conversation_id": turn.status.get("requested_id"),
        }
        cached = await self._cached(turn)
        if cached is not None:
            return r.agent_success_response(
                response_type=cached.get("type") or "UNKNOWN",
                conversation_id=turn.conversation_id,
                execution_path=cached.get("execution_path"),
                classification_info=cached.get("classification_info"),
                response=cached.get("response") or "",
                sql=cached.get("sql"),
                records=cached.get("query_result"),
                summary=cached.get("summary"),
                from_cache=True,
                **common,
            )

        await conversations.save_message(turn.conversation_id, "user", turn.question)
        result = await agent.process_question(
            turn.enhanced_question, turn.conversation_id, turn.routing_mode
        )
        if not result.get("success"):
            # The explanation of a refused or failed query is the answer the user needs.
            text = result.get("error") or result.get("response") or AGENT_FAILED_TEXT
            return r.agent_error_response(
                response_text=text,
                error_type="agent_processing_failed",
                code=int(result.get("error_code") or 500),
                conversation_id=turn.conversation_id,
                execution_path=result.get("execution_path"),
                classification_info=result.get("classification_info"),
                user_id=turn.user_id,
                sql=result.get("sql"),
                validation_error_type=result.get("validation_error_type"),
            )
        await self._remember(turn, result, streamed=False)
        return r.agent_success_response(
            response_type=result.get("type"),
            conversation_id=turn.conversation_id,
            execution_path=result.get("execution_path"),
            classification_info=result.get("classification_info"),
            response=result.get("response") or "",
            sql=result.get("sql"),
            records=result.get("query_result"),
            summary=result.get("summary"),
            from_cache=False,
            routing_mode_used=turn.routing_mode,
            routing_mode_source=turn.routing_source,
            **common,
        )

    # ---- GET /api/v0/ask_agent_stream ---------------------------------------------------

    async def stream(self, request: AskRequest) -> AsyncIterator[str]:
        """SSE frames: progress per graph step, then one ``completed`` or ``error`` frame."""
        async with self.admission.admitted():
            async for frame in self._stream(request):
                yield frame

    async def _stream(self, request: AskRequest) -> AsyncIterator[str]:
        if request.routing_mode is not None and request.routing_mode not in ROUTING_MODES:
            yield sse_error(
                f"无效的routing_mode参数值: {request.routing_mode}", failures.INVALID_REQUEST
            )
            return
        try:
            turn = await self.begin(request)
            cached = await self._cached(turn)
        except ApiError as exc:
            yield sse_failure(exc)
            return
        except Exception as exc:  # noqa: BLE001 - reported in-band, as the old stream did
            log.exception("stream setup failed")
            yield sse_failure(exc, "参数解析失败: ")
            return
        if cached is not None:
            text = assistant_text(cached, streamed=True)
            yield sse_completed(cached, turn.conversation_id, text, self.settings)
            return

        queue: asyncio.Queue[str | None] = asyncio.Queue()
        task = asyncio.create_task(self._produce(turn, queue))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        while (frame := await queue.get()) is not None:
            yield frame

    async def _produce(self, turn: Turn, queue: asyncio.Queue[str | None]) -> None:
        """Run the graph, queue its frames; save the answer before the final frame is sent."""
        agent, conversations = self._agent(), self.conversations
        try:
            await conversations.save_message(turn.conversation_id, "user", turn.question)
            async for event in agent.stream_question(
                turn.enhanced_question, turn.conversation_id, turn.routing_mode
            ):
                if event["type"] == "progress":
                    queue.put_nowait(
                        sse_progress(event["node"], event["progress"], turn.conversation_id)
                    )
                    continue
                result = event["result"]
                if result.get("success"):
                    await self._remember(turn, result, streamed=True)
                    text = result.get("response") or ""
                else:
                    text = result.get("error") or result.get("response") or AGENT_FAILED_TEXT
                queue.put_nowait(sse_completed(result, turn.conversation_id, text, self.settings))
        except ApiError as exc:
            queue.put_nowait(sse_failure(exc))
        except Exception as exc:  # noqa: BLE001 - the client gets an error frame, not a hang
            log.exception("stream failed for %s", turn.conversation_id)
            queue.put_nowait(sse_failure(exc, "流式处理异常: "))
        finally:
            queue.put_nowait(None)

    # ---- GET /api/v0/agent_health -------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """The health envelope, probed at most once per ``health_cache_seconds``."""
        async with self._health_lock:
            now = time.monotonic()
            if self._health and now - self._health[0] < self.settings.health_cache_seconds:
                return self._health[1]
            body = await self._probe()
            self._health = (time.monotonic(), body)
            return body

    async def _probe(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "workflow_compiled": False,
            "tools_count": 0,
            "message": "",
            "checks": {
                "agent_creation": False,
                "tools_import": False,
                "llm_connection": False,
                "classifier_ready": False,
            },
        }
        endpoints = await self.endpoint_probe.all() if self.endpoint_probe else {}
        if endpoints:
            data["endpoints"] = {name: status.as_dict() for name, status in endpoints.items()}
        agent = self.agent
        if agent is None:
            data["message"] = "Agent创建失败: LLM未配置（CITU_LLM_BASE_URL）"
            message = data.pop("message")
            return r.health_error_response(status="unhealthy", message=message, **data)
        data.update(workflow_compiled=agent.graph is not None, tools_count=agent.tools_count)
        data["checks"] = {
            "agent_creation": True,
            "tools_import": agent.tools_count > 0,
            "llm_connection": agent.llm is not None,
            "classifier_ready": agent.classifier is not None,
        }
        llm_endpoint = endpoints.get("llm")
        if llm_endpoint is not None and not llm_endpoint.ok:
            # The full test would only fail on the same endpoint, slowly: report it as it is.
            data["checks"]["llm_connection"] = False
            data.pop("message")
            message = f"LLM端点不可达: {llm_endpoint.detail}"
            return r.health_error_response(status="degraded", message=message, **data)
        try:
            healthy = await agent.health_check()
            message = "Agent健康检查完成" if healthy else "部分组件异常"
        except Exception as exc:  # noqa: BLE001 - reported as degraded
            log.warning("agent health probe failed: %s", exc)
            failure = failures.describe(exc)
            healthy, message = False, f"完整测试失败: {failure.text}"
            data["error_type"] = failure.error_type
        if healthy:
            data["message"] = message
            return r.health_success_response(**data)
        data["checks"]["llm_connection"] = False  # the full test is two model calls
        data.pop("message")  # health_error_response puts it at the top level
        return r.health_error_response(status="degraded", message=message, **data)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
