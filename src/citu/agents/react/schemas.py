"""Request models that document the ReAct routes in ``/openapi.json``.

The routes read their input by hand, because the old contract fixes the shape of each input
error (the ask routes answer ``{"code", "message", "success", "error"}``, the checkpoint
cleanup route its own texts), so these models only describe what a client may send.
"""

from __future__ import annotations

from citu.apidoc import RequestModel


class ReactChatIn(RequestModel):
    question: str
    """The question, in Chinese or English."""
    user_id: str | None = None
    """Who asks; default: the thread id's prefix, else the anonymous user (guest)."""
    thread_id: str | None = None
    """Continue this thread (``<user_id>:<YYYYMMDDHHMMSSmmm>``); absent: a new thread."""
    conversation_id: str | None = None
    """Same as thread_id (older clients' name); thread_id wins."""


class ConversationListQuery(RequestModel):
    limit: int = 10
    """How many threads, newest first (1..50)."""


class HistoryQuery(RequestModel):
    include_tools: bool = False
    """Also return tool calls and tool results, not only questions and answers."""


class DetailQuery(RequestModel):
    include_tools: bool = False
    """Also return tool calls and tool results, not only questions and answers."""
    user_id: str | None = None
    """When given, the thread must belong to this user (else 404)."""


class CheckpointCleanupIn(RequestModel):
    keep_count: int | None = None
    """Checkpoints kept per thread, newest first; default CITU_CHECKPOINT_KEEP_COUNT."""
    thread_id: str | None = None
    """Only this thread."""
    user_id: str | None = None
    """Only this user's threads."""
    dry_run: bool = False
    """Only count what would be deleted."""


class CheckpointStatsQuery(RequestModel):
    user_id: str | None = None
    """Only this user's threads."""
