"""One way to call the chat model: errors of the LLM service become typed 503/504 errors."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from citu import failures
from citu.admission import leave_admission
from citu.errors import GatewayTimeout, ServiceUnavailable

log = logging.getLogger("citu.agents.ask.llm")

LLM_UNAVAILABLE_TEXT = "AI服务暂时不可用，请稍后重试"
LLM_TIMEOUT_TEXT = "AI服务响应超时，请稍后重试"
LLM_GARBLED_TEXT = "AI服务返回了无法解析的结果，请稍后重试"


class LlmUnavailable(ServiceUnavailable):
    """The LLM service refused or could not be reached."""

    error_type = failures.LLM_UNAVAILABLE


class LlmTimeout(GatewayTimeout):
    """The LLM service did not answer in time."""

    error_type = failures.LLM_TIMEOUT


LlmError = (LlmUnavailable, LlmTimeout)


async def complete(llm: BaseChatModel, messages: Sequence[BaseMessage]) -> str:
    """The model's text reply to ``messages`` (raw: thinking blocks are left to the caller).

    The OpenAI client's failures become typed errors: a timeout → 504, anything else → 503.
    """
    leave_admission()  # the model's seconds of waiting need no admission slot
    try:
        reply = await llm.ainvoke(list(messages))
    except openai.APITimeoutError as exc:
        log.warning("LLM timed out: %s", exc)
        raise LlmTimeout(LLM_TIMEOUT_TEXT) from exc
    except openai.APIConnectionError as exc:
        log.warning("LLM unreachable: %s", exc)
        raise LlmUnavailable(LLM_UNAVAILABLE_TEXT) from exc
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        log.warning("LLM refused the credentials: HTTP %s: %s", exc.status_code, exc)
        raise LlmUnavailable(
            failures.LLM_AUTH_TEXT, can_retry=False, error_type=failures.LLM_AUTH_FAILED
        ) from exc
    except openai.APIStatusError as exc:
        log.warning("LLM answered HTTP %s: %s", exc.status_code, exc)
        # 4xx other than 429 are configuration problems: retrying will not help.
        retry = exc.status_code == 429 or exc.status_code >= 500
        raise LlmUnavailable(LLM_UNAVAILABLE_TEXT, can_retry=retry) from exc
    except (TypeError, ValueError, KeyError) as exc:
        # langchain-openai raises these when a compatible API answers another JSON shape.
        log.warning("LLM answer could not be read: %s", exc)
        raise LlmUnavailable(LLM_GARBLED_TEXT) from exc
    content = reply.content
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content or "")
