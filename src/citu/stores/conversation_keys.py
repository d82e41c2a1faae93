"""Conversation key layout, user-id rules and stored-message helpers (no Redis calls).

Key layout kept from the old service, so an existing deployment's data stays readable:

* ``user:{user_id}:conversations`` - LIST of conversation ids, newest first;
* ``conversation:{id}:meta`` - HASH ``conversation_id, user_id, created_at, updated_at,
  message_count`` (all strings);
* ``conversation:{id}:messages`` - LIST of JSON messages, newest first.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from citu.errors import BadRequest

USER_LIST_PATTERN = "user:*:conversations"
# Glob characters are escaped wherever a user id goes into a SCAN pattern; ``:`` is refused
# because ids are split on the first colon (the old service accepted it and mixed up owners).
_INVALID_USER_ID = re.compile(r"[:\s*?\[\]\\]")
USER_ID_MAX_LENGTH = 50


def user_key(user_id: str) -> str:
    return f"user:{user_id}:conversations"


def meta_key(conversation_id: str) -> str:
    return f"conversation:{conversation_id}:meta"


def messages_key(conversation_id: str) -> str:
    return f"conversation:{conversation_id}:messages"


def extract_user_id(conversation_id: str) -> str:
    """The user part of ``{user_id}:{17 digits}``: text before the first ``:``, or ``unknown``."""
    if not conversation_id or ":" not in conversation_id:
        return "unknown"
    return conversation_id.split(":", 1)[0]


def is_valid_user_id(user_id: str) -> bool:
    """1..50 characters, no ``:``, whitespace or glob characters."""
    return 0 < len(user_id) <= USER_ID_MAX_LENGTH and not _INVALID_USER_ID.search(user_id)


def check_user_consistency(conversation_id: str | None, user_id: str | None) -> None:
    """Raise the intended 400 when ``conversation_id`` belongs to another user."""
    if not conversation_id or not user_id:
        return
    owner = extract_user_id(conversation_id)
    if owner != user_id:
        raise BadRequest(
            f"用户ID不匹配：conversation_id中的用户ID '{owner}' 与提供的用户ID '{user_id}' 不一致",
            invalid_params=["user_id", "conversation_id"],
        )


def enhance_question(question: str, context: str) -> str:
    """The question the agent sees: ``[CONTEXT]``/``[CURRENT]`` framing when there is context."""
    if not context:
        return question
    return f"\n[CONTEXT]\n{context}\n\n[CURRENT]\n{question}"


def format_context(messages: list[dict[str, Any]]) -> str:
    """``User: …`` / ``Assistant: …`` lines of chronological messages; other roles skipped."""
    labels = {"user": "User", "assistant": "Assistant"}
    return "\n".join(
        f"{labels[m['role']]}: {m.get('content', '')}" for m in messages if m.get("role") in labels
    )


def parse_messages(raw: list[str]) -> list[dict[str, Any]]:
    """Stored messages (newest first) → dicts in chronological order; bad entries skipped."""
    messages = []
    for item in reversed(raw):
        try:
            message = json.loads(item)
        except ValueError:
            continue
        if isinstance(message, dict):
            messages.append(message)
    return messages


def conversation_title(messages: list[dict[str, Any]]) -> str:
    """The first retained user message, cut to 50 characters (the list's title)."""
    if not messages:
        return "空对话"
    for message in messages:
        if message.get("role") == "user":
            text = str(message.get("content", "")).strip()
            return text[:47] + "..." if len(text) > 50 else text
    return "对话"


def elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def escape_glob(text: str) -> str:
    """``text`` with its SCAN glob characters escaped."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)
