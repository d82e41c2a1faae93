"""What an ``ask_agent`` turn produces, as plain data: the web layer turns it into an envelope
(one answer) or Server-Sent Event frames (progress, then one completion or failure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from citu import failures
from citu.stores.conversations import enhance_question

AGENT_FAILED_TEXT = "Agent处理失败"


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


@dataclass(frozen=True)
class AskOutcome:
    """One finished turn: the agent's result (``success`` false: refused or failed) or the
    QA cache's answer."""

    turn: Turn
    result: dict[str, Any]
    from_cache: bool = False


@dataclass(frozen=True)
class StepProgress:
    """The graph started a step (``progress`` holds its display name and details)."""

    node: str
    progress: dict[str, Any]
    conversation_id: str


@dataclass(frozen=True)
class TurnCompleted:
    """The last event of a turn that produced a result (an answer, or the agent's refusal)."""

    result: dict[str, Any]
    conversation_id: str
    response: str


@dataclass(frozen=True)
class TurnFailed:
    """The last event of a turn that failed; ``text`` is citu's own, never an upstream's."""

    text: str
    error_type: str

    @classmethod
    def of(cls, error: BaseException, prefix: str = "") -> TurnFailed:
        failure = failures.describe(error)
        return cls(f"{prefix}{failure.text}", failure.error_type)


StreamEvent = StepProgress | TurnCompleted | TurnFailed


def failure_text(result: dict[str, Any]) -> str:
    """The explanation of a refused or failed query: the answer the user needs."""
    return result.get("error") or result.get("response") or AGENT_FAILED_TEXT


def assistant_text(result: dict[str, Any], *, streamed: bool = False) -> str:
    """What is stored (and shown) as the assistant's answer: the response, else the summary,
    else a sentence about the rows; the stream's fallbacks differ from the plain route's."""
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
