"""One way to call the chat model: errors of the LLM service become typed 503/504 errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from citu.errors import GatewayTimeout, ServiceUnavailable

log = logging.getLogger("citu.agents.ask.llm")

LLM_UNAVAILABLE_TEXT = "AI服务暂时不可用，请稍后重试"
LLM_TIMEOUT_TEXT = "AI服务响应超时，请稍后重试"


class LlmUnavailable(ServiceUnavailable):
    """The LLM (or embedding) service refused or could not be reached."""


class LlmTimeout(GatewayTimeout):
    """The LLM (or embedding) service did not answer in time."""


LlmError = (LlmUnavailable, LlmTimeout)


@contextmanager
def llm_errors(what: str = "LLM") -> Iterator[None]:
    """Translate the OpenAI client's failures (also raised by embeddings) into typed errors."""
    try:
        yield
    except openai.APITimeoutError as exc:
        log.warning("%s timed out: %s", what, exc)
        raise LlmTimeout(LLM_TIMEOUT_TEXT) from exc
    except openai.APIConnectionError as exc:
        log.warning("%s unreachable: %s", what, exc)
        raise LlmUnavailable(LLM_UNAVAILABLE_TEXT) from exc
    except openai.APIStatusError as exc:
        log.warning("%s answered HTTP %s: %s", what, exc.status_code, exc)
        # 4xx other than 429 are configuration problems: retrying will not help.
        retry = exc.status_code == 429 or exc.status_code >= 500
        raise LlmUnavailable(LLM_UNAVAILABLE_TEXT, can_retry=retry) from exc


async def complete(llm: BaseChatModel, messages: Sequence[BaseMessage]) -> str:
    """The model's text reply to ``messages`` (raw: thinking blocks are left to the caller)."""
    with llm_errors():
        reply = await llm.ainvoke(list(messages))
    content = reply.content
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content or "")
