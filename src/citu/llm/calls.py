"""One way to call the chat model: errors of the LLM service become typed 503/504 errors."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx
import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from citu.llm.policy import (
    GARBLED_REPLY_ERRORS,
    LLM_GARBLED_TEXT,
    LLM_TIMEOUT_TEXT,
    LLM_UNAVAILABLE_TEXT,
    LlmError,
    LlmTimeout,
    LlmUnavailable,
    error_for,
)

# The typed errors are part of this module's interface: callers catch what ``complete`` raises.
__all__ = [
    "LLM_GARBLED_TEXT",
    "LLM_TIMEOUT_TEXT",
    "LLM_UNAVAILABLE_TEXT",
    "LlmError",
    "LlmTimeout",
    "LlmUnavailable",
    "complete",
]

log = logging.getLogger("citu.agents.ask.llm")

_CALL_ERRORS = (openai.APIError, httpx.HTTPError, *GARBLED_REPLY_ERRORS)


async def complete(llm: BaseChatModel, messages: Sequence[BaseMessage]) -> str:
    """The model's text reply to ``messages`` (raw: thinking blocks are left to the caller).

    The client's failures become typed errors: a timeout → 504, anything else → 503.
    """
    try:
        reply = await llm.ainvoke(list(messages))
    except _CALL_ERRORS as exc:
        log.warning("LLM call failed: %s: %s", type(exc).__name__, exc)
        raise error_for(exc) from exc
    content = reply.content
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content or "")
