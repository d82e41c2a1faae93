"""What of a thread's history the LLM sees: a character budget, not the whole checkpoint.

The checkpoint keeps every message (the conversation routes show them all); only the LLM
input is cut. Characters are counted rather than tokens because tokenizers download their
tables at run time and differ per model; a character budget bounds the prompt either way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

TRUNCATED = "…(内容过长，已截断)"
_MIN_TOOL_CHARS = 200  # a truncated tool result keeps at least this much


def text_of(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append(part["text"])
    return "".join(parts)


def message_chars(message: BaseMessage) -> int:
    size = len(text_of(message))
    if isinstance(message, AIMessage) and message.tool_calls:
        size += sum(
            len(call["name"]) + len(json.dumps(call["args"], ensure_ascii=False))
            for call in message.tool_calls
        )
    return size


def total_chars(messages: Sequence[BaseMessage]) -> int:
    return sum(message_chars(m) for m in messages)


def last_human_index(messages: Sequence[BaseMessage]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return index
    return 0


def last_tool_output(messages: Sequence[BaseMessage], name: str) -> str | None:
    """The text of the newest reply of tool ``name``; None when it never answered."""
    for message in reversed(messages):
        if isinstance(message, ToolMessage) and message.name == name:
            return text_of(message)
    return None


def is_answer(message: BaseMessage) -> bool:
    """An AI message that talks to the user (text, no tool calls)."""
    return (
        isinstance(message, AIMessage) and not message.tool_calls and bool(text_of(message).strip())
    )


def _rounds(messages: Sequence[BaseMessage]) -> list[list[BaseMessage]]:
    rounds: list[list[BaseMessage]] = []
    for message in messages:
        if isinstance(message, HumanMessage) or not rounds:
            rounds.append([])
        rounds[-1].append(message)
    return rounds


def trim_for_llm(messages: Sequence[BaseMessage], budget: int) -> list[BaseMessage]:
    """The messages to send: the current turn, then as many earlier turns as fit in ``budget``
    characters. Earlier turns are reduced to question and answer (their tool traffic is
    spent); an oversized current turn has its tool results truncated and, failing that, its
    oldest tool rounds dropped whole, so every tool call still has its reply."""
    rounds = _rounds(messages)
    if not rounds:
        return []
    current = _fit_current_turn(rounds[-1], budget)
    used = total_chars(current)
    kept: list[BaseMessage] = []
    for earlier in reversed(rounds[:-1]):
        compact = [m for m in earlier if isinstance(m, HumanMessage) or is_answer(m)]
        size = total_chars(compact)
        if used + size > budget:
            break
        kept[:0] = compact
        used += size
    return kept + current


def _fit_current_turn(turn: list[BaseMessage], budget: int) -> list[BaseMessage]:
    if total_chars(turn) <= budget:
        return list(turn)
    turn = _truncate_tool_results(turn, budget)
    head, groups = _tool_groups(turn)
    # Drop the oldest complete tool rounds (AI call + its replies) until the rest fits.
    while len(groups) > 1 and total_chars(head) + sum(total_chars(g) for g in groups) > budget:
        groups.pop(0)
    return head + [m for group in groups for m in group]


def _truncate_tool_results(turn: list[BaseMessage], budget: int) -> list[BaseMessage]:
    excess = total_chars(turn) - budget
    result = list(turn)
    by_size = sorted(
        (i for i, m in enumerate(result) if isinstance(m, ToolMessage)),
        key=lambda i: -message_chars(result[i]),
    )
    for index in by_size:
        if excess <= 0:
            break
        text = text_of(result[index])
        keep = max(_MIN_TOOL_CHARS, len(text) - excess - len(TRUNCATED))
        if keep >= len(text):
            continue
        excess -= len(text) - keep - len(TRUNCATED)
        result[index] = result[index].model_copy(update={"content": text[:keep] + TRUNCATED})
    return result


def _tool_groups(turn: list[BaseMessage]) -> tuple[list[BaseMessage], list[list[BaseMessage]]]:
    """Split a turn into its head (the question) and groups that each start with an AI message."""
    head: list[BaseMessage] = []
    groups: list[list[BaseMessage]] = []
    for message in turn:
        if isinstance(message, AIMessage):
            groups.append([message])
        elif groups:
            groups[-1].append(message)
        else:
            head.append(message)
    return head, groups


def history_for_sql(messages: Sequence[BaseMessage], budget: int) -> list[dict[str, str]]:
    """Earlier questions and answers (before the latest question), newest kept first when
    the budget runs out; handed to ``generate_sql`` to resolve references like "this area"."""
    earlier = messages[: last_human_index(messages)]
    items = [
        {"type": "human" if isinstance(m, HumanMessage) else "ai", "content": text_of(m).strip()}
        for m in earlier
        if (isinstance(m, HumanMessage) and text_of(m).strip()) or is_answer(m)
    ]
    kept: list[dict[str, str]] = []
    used = 0
    for item in reversed(items):
        used += len(item["content"])
        if used > budget:
            break
        kept.insert(0, item)
    return kept
