"""The direct routes without conversation: ``/api/v0/ask``, ``/ask_cached``, ``/citu_run_sql``.

Same SQL generation and safety as the agent. Unlike the old service, executed questions are
added to the training data only when ``CITU_ASK_AUTO_TRAIN`` is set (and only non-empty results).
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from citu import failures
from citu import responses as r
from citu.agents.ask_graph import AskAgent
from citu.agents.protocols import TrainingSink
from citu.agents.sql_guard import SqlGuard
from citu.agents.sql_runner import (
    QueryResult,
    SqlExecutionError,
    SqlTimeoutError,
    UnsafeSqlError,
    run_read_only,
)
from citu.charts import add_chart
from citu.errors import GatewayTimeout
from citu.llm import require_llm
from citu.ops.maintenance import ReadOnlyMode
from citu.settings import Settings

log = logging.getLogger("citu.agents.ask.direct")

NO_SQL_TEXT = "无法生成SQL查询，请检查问题描述或数据表结构"


def new_conversation_id(user_id: str) -> str:
    """``<user>:<YYYYMMDDHHMMSS><ms>``, the old services' id format."""
    now = datetime.now()
    return f"{user_id}:{now:%Y%m%d%H%M%S}{now.microsecond // 1000:03d}"


@dataclass
class _Answer:
    sql: str
    query_result: dict[str, Any]
    summary: str | None


class AnswerCache:
    """Per-process answers of ``/ask_cached``, keyed by user and normalised question, with TTL.

    Bounded in entries and in approximate bytes (keys, SQL, summary and the JSON of the rows),
    so anonymous callers cannot grow a worker's memory without limit; the least recently used
    answers go first, and an answer larger than the whole budget is not kept at all."""

    def __init__(self, ttl: float, max_entries: int, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[tuple[str, str], tuple[float, _Answer, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    @staticmethod
    def _key(user_id: str, question: str) -> tuple[str, str]:
        return user_id, " ".join(question.lower().split())

    @staticmethod
    def _weight(key: tuple[str, str], answer: _Answer) -> int:
        rows = json.dumps(answer.query_result, ensure_ascii=False, default=str)
        return len(key[0]) + len(key[1]) + len(answer.sql) + len(answer.summary or "") + len(rows)

    def get(self, user_id: str, question: str) -> _Answer | None:
        key = self._key(user_id, question)
        item = self._items.get(key)
        if item is None:
            return None
        if time.monotonic() - item[0] > self.ttl:
            self._drop(key)
            return None
        self._items.move_to_end(key)
        return item[1]

    def put(self, user_id: str, question: str, answer: _Answer) -> None:
        key = self._key(user_id, question)
        self._drop(key)
        weight = self._weight(key, answer)
        if weight > self.max_bytes:
            return
        self._items[key] = (time.monotonic(), answer, weight)
        self.size += weight
        while len(self._items) > self.max_entries or self.size > self.max_bytes:
            self._drop(next(iter(self._items)))

    def _drop(self, key: tuple[str, str]) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self.size -= item[2]


def _sql_failed(prefix: str, error: SqlExecutionError) -> dict[str, Any]:
    """citu's own text for the SQLSTATE; PostgreSQL's (it may quote data) goes to the log."""
    log.info("business SQL failed (%s): %s", error.pg_code, error.message)
    error_type, text = failures.pg_error(error.pg_code)
    body = r.internal_error_response(f"{prefix}: {text}")
    body["data"]["error_type"] = error_type
    return body


class DirectAsk:
    def __init__(
        self,
        agent: AskAgent | None,
        business_db: Callable[[], asyncpg.Pool],
        training: TrainingSink,
        settings: Settings,
        guard: SqlGuard | None = None,
    ) -> None:
        self.agent = agent
        self.business_db = business_db
        self.training = training
        self.settings = settings
        self.guard = guard or SqlGuard.from_settings(settings)
        self.cache = AnswerCache(
            settings.ask_cache_ttl, settings.ask_cache_max_entries, settings.ask_cache_max_bytes
        )

    async def _answer(self, question: str, suffix: str) -> _Answer | dict[str, Any]:
        """The answer, or the error envelope to send instead."""
        agent = self._agent()
        generation = await agent.sql.generate(question)
        if generation.explanation is not None:
            return r.validation_failed_response(generation.explanation + suffix)
        if generation.failure is not None:
            return r.validation_failed_response(generation.failure)
        if not generation.ok or not generation.sql:
            return r.validation_failed_response(NO_SQL_TEXT)
        try:
            result = await self._run(generation.sql)
        except SqlExecutionError as exc:
            # The old route hid failed SQL behind an empty 200 result.
            return _sql_failed("SQL执行失败", exc)
        summary = None
        if self.settings.enable_result_summary and result.row_count:
            summary = await agent.summarize(question, result.columns, result.rows)
        if self.settings.ask_auto_train and result.row_count:
            try:
                await self.training.add_question_sql(question, generation.sql)
            except ReadOnlyMode:
                # Asking goes on in read-only mode; only the training side effect stops.
                log.info("auto-training skipped: maintenance read-only mode")
        return _Answer(generation.sql, result.to_records(), summary)

    def _agent(self) -> AskAgent:
        if self.agent is None:
            require_llm(None)  # raises the 503 that names the missing setting
        return self.agent  # type: ignore[return-value]

    async def _run(self, sql: str) -> QueryResult:
        return await run_read_only(
            self.business_db(),
            sql,
            max_rows=self.settings.api_max_return_rows,
            timeout_ms=self.settings.business_statement_timeout_ms,
            guard=self.guard,
        )

    def _success(self, answer: _Answer, conversation_id: str, **extra: Any) -> dict[str, Any]:
        data = {
            "sql": answer.sql,
            "query_result": answer.query_result,
            "conversation_id": conversation_id,
            **extra,
        }
        add_chart(data, self.settings)
        if answer.summary is not None:
            data["summary"] = answer.summary
            return r.success_response(answer.summary, data)
        return r.success_response("查询执行完成", data)

    async def ask(self, question: str, user_id: str, conversation_id: str | None) -> dict[str, Any]:
        answer = await self._answer(question, "请尝试提问其它问题。")
        if isinstance(answer, dict):
            return answer
        return self._success(answer, conversation_id or new_conversation_id(user_id))

    async def ask_cached(self, question: str, user_id: str) -> dict[str, Any]:
        # As before, every call gets a fresh conversation id; the cache is per user and question.
        conversation_id = new_conversation_id(user_id)
        cached = self.cache.get(user_id, question)
        if cached is not None:
            return self._success(cached, conversation_id, cached=True)
        answer = await self._answer(question, "请尝试用其它方式提问。")
        if isinstance(answer, dict):
            return answer
        self.cache.put(user_id, question, answer)
        return self._success(answer, conversation_id, cached=False)

    async def run_sql(self, sql: str) -> dict[str, Any]:
        try:
            result = await self._run(sql)
        except UnsafeSqlError as exc:
            body = r.validation_failed_response(f"SQL安全检查未通过: {exc.reason}")
            body["data"]["error_type"] = failures.SQL_REFUSED
            return body
        except SqlTimeoutError:
            seconds = self.settings.business_statement_timeout_ms / 1000
            text = f"SQL执行超时（超过{seconds:g}秒），请缩小查询范围后重试"
            timeout = GatewayTimeout(text)
            timeout.error_type = failures.SQL_TIMEOUT
            return timeout.body()
        except SqlExecutionError as exc:
            return _sql_failed("SQL执行失败，请检查SQL语句是否正确", exc)
        text = f"SQL执行完成，共返回 {result.total_row_count} 条记录"
        if result.limit_note is not None:
            text += f"，{result.limit_note}"
        elif result.is_limited:
            text += f"，已限制显示前 {self.settings.api_max_return_rows} 条"
        data = add_chart({"sql": sql, "query_result": result.to_records()}, self.settings)
        return r.success_response(text, data)
