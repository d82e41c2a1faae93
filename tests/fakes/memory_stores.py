"""Small in-memory implementations of the agent's protocols (citu.agents.protocols).

They stand in for the training retriever and the conversation store of other areas; the SQL
still runs on the real business database and the LLM is the real HTTP fake.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEMO_DDL = [
    "CREATE TABLE bss_business_day_data (id varchar(32) PRIMARY KEY, oper_date date, "
    "service_name varchar(255), branch_name varchar(255), pay_sum numeric(19,4), "
    "order_sum integer, delete_ts timestamp); -- 档口日营业数据表",
    "CREATE TABLE bss_service_area (id varchar(32) PRIMARY KEY, service_area_name varchar(255), "
    "service_area_no varchar(255), service_state varchar(50), delete_ts timestamp); -- 服务区",
]


@dataclass
class Retrieved:
    question_sql: list[dict[str, Any]] = field(default_factory=list)
    ddl: list[str] = field(default_factory=list)
    documentation: list[str] = field(default_factory=list)
    error_sql: list[dict[str, Any]] = field(default_factory=list)


class MemoryRetriever:
    """Returns the same context for every question and records the questions asked."""

    def __init__(self, context: Retrieved | None = None) -> None:
        self.context = context or Retrieved(
            question_sql=[
                {
                    "question": "各服务区的总收入",
                    "sql": "SELECT service_name AS 服务区名称, SUM(pay_sum) AS 总收入 "
                    "FROM bss_business_day_data GROUP BY service_name;",
                    "similarity": 0.8,
                }
            ],
            ddl=list(DEMO_DDL),
            documentation=["pay_sum 是营收总金额（元）"],
        )
        self.questions: list[str] = []

    async def retrieve(self, question: str) -> Retrieved:
        self.questions.append(question)
        return self.context


class MemoryTraining:
    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []

    async def add_question_sql(self, question: str, sql: str) -> str:
        self.pairs.append((question, sql))
        return f"{len(self.pairs)}-sql"


class MemoryConversations:
    """The conversation store's ask-side operations, with the old service's semantics."""

    def __init__(self, *, cache_enabled: bool = False, context_count: int = 2) -> None:
        self.meta: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}  # chronological
        self.user_lists: dict[str, list[str]] = {}
        self.cache: dict[str, dict[str, Any]] = {}
        self.cache_enabled = cache_enabled
        self.context_count = context_count
        self._tick = 0

    def _new_id(self, user_id: str) -> str:
        self._tick += 1
        return f"{user_id}:{datetime.now():%Y%m%d%H%M%S}{self._tick:03d}"

    async def resolve_conversation_id(
        self, user_id: str, conversation_id: str | None, continue_conversation: bool
    ) -> tuple[str, dict[str, Any]]:
        if conversation_id:
            meta = self.meta.get(conversation_id)
            if meta and meta["user_id"] == user_id:
                return conversation_id, {"status": "continue", "message": "继续已有对话"}
            new = self._create(user_id)
            return new, {
                "status": "invalid_id_new",
                "message": "您请求的对话不存在或无权访问，已为您创建新对话",
                "requested_id": conversation_id,
            }
        if continue_conversation and self.user_lists.get(user_id):
            return self.user_lists[user_id][0], {"status": "continue", "message": "继续最近对话"}
        return self._create(user_id), {"status": "new", "message": "创建新对话"}

    def _create(self, user_id: str) -> str:
        conversation_id = self._new_id(user_id)
        self.meta[conversation_id] = {"user_id": user_id}
        self.messages[conversation_id] = []
        self.user_lists.setdefault(user_id, []).insert(0, conversation_id)
        return conversation_id

    async def get_context(self, conversation_id: str, count: int | None = None) -> str:
        n = (count or self.context_count) * 2
        lines = []
        for message in self.messages.get(conversation_id, [])[-n:]:
            role = {"user": "User", "assistant": "Assistant"}.get(message["role"])
            if role:
                lines.append(f"{role}: {message['content']}")
        return "\n".join(lines)

    async def save_message(
        self,
        conversation_id: str,
        role: str,
        content: str,
        metadata: dict[str, Any] | None = None,
    ) -> bool:
        self.messages.setdefault(conversation_id, []).append(
            {"role": role, "content": content, "metadata": metadata or {}}
        )
        return True

    @staticmethod
    def _key(question: str) -> str:
        return "qa_cache:" + hashlib.md5(question.strip().lower().encode()).hexdigest()[:16]

    async def get_cached_answer(self, question: str, context: str = "") -> dict[str, Any] | None:
        if not self.cache_enabled:
            return None
        return self.cache.get(self._key(question))

    async def cache_answer(self, question: str, answer: dict[str, Any], context: str = "") -> bool:
        if not self.cache_enabled or context:
            return False
        self.cache[self._key(question)] = {**answer, "original_question": question}
        return True
