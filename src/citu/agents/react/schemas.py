"""Request models that document the ReAct routes in ``/openapi.json``.

The routes read their input by hand (the contract fixes each error's shape, agents.md §3.3 and
§3.16), so these models only describe what a client may send.
"""

from __future__ import annotations

from pydantic import BaseModel


class ReactChatIn(BaseModel):
    question: str
    user_id: str | None = None
    thread_id: str | None = None  # user_id:timestamp; wins over conversation_id
    conversation_id: str | None = None


class ConversationListQuery(BaseModel):
    limit: int = 10  # 1..50


class HistoryQuery(BaseModel):
    include_tools: bool = False


class DetailQuery(BaseModel):
    include_tools: bool = False
    user_id: str | None = None  # when given, the thread must belong to this user


class CheckpointCleanupIn(BaseModel):
    keep_count: int | None = None  # default CITU_CHECKPOINT_KEEP_COUNT
    thread_id: str | None = None
    user_id: str | None = None
    dry_run: bool = False


class CheckpointStatsQuery(BaseModel):
    user_id: str | None = None
