"""How the evaluation reaches citu: in-process (the app's routes through Quart's test client)
or over HTTP (``--url``), the same routes either way.

A client asks a question on a target route and runs SQL read-only; it never scores.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from citu import failures
from citu.agents.sql_generation import DB_REFUSED_TEXT
from citu.db.pools import BusinessQueryBusy
from citu.eval import usage as model_usage
from citu.eval.tables import sql_tables, tables_in_texts
from citu.sql.guard import MSG_GUARD_BUSY
from citu.sql.runner import SqlExecutionError, UnsafeSqlError, run_read_only

MAX_EVAL_ROWS = 10_000  # rows fetched per result; more is reported as truncated
# A route that does not return the SQL it refused or could not run (``/api/v0/ask``) still
# says so in citu's fixed words: a guard refusal starts with this, a database refusal quotes
# DB_REFUSED_TEXT.
REFUSAL_PREFIX = "不允许的操作"
ERROR_TEXT_CHARS = 200
EVAL_SQL_SLOTS = 8  # the evaluation's own statements checked or running at a time
BUSY_RETRIES = 200  # tries of a statement the busy guard or pool turned away
BUSY_PAUSE_SECONDS = 0.05


@dataclass(frozen=True)
class Target:
    """A question-answering route and how a conversation is continued on it."""

    name: str
    path: str
    conversation_field: str | None  # request field carrying the conversation, None: no turns


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("ask_agent", "/api/v0/ask_agent", "conversation_id"),
        Target("react", "/api/v0/ask_react_agent", "thread_id"),
        Target("sql", "/api/v0/ask", None),  # generates and runs SQL, no conversation
    )
}


@dataclass
class Answer:
    """What a target answered to one question."""

    http_status: int
    sql: str | None = None
    conversation_id: str | None = None
    refused: bool = False  # the service's guard refused the SQL it generated
    sql_failed: bool = False  # the database refused the SQL the service generated
    error: str | None = None  # the call failed (transport or server error)
    latency_ms: float = 0.0
    model_calls: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class SqlOutcome:
    status: Literal["ok", "refused", "error"]
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    truncated: bool = False
    error: str | None = None
    busy: bool = False  # turned away for load, worth another try


class EvalClient(Protocol):
    mode: str

    async def ask(
        self, target: Target, question: str, conversation_id: str | None, user_id: str
    ) -> Answer: ...

    async def run_sql(self, sql: str) -> SqlOutcome: ...

    async def retrieved_tables(self, question: str) -> set[str] | None: ...


def request_body(
    target: Target, question: str, conversation_id: str | None, user_id: str
) -> dict[str, Any]:
    body: dict[str, Any] = {"question": question, "user_id": user_id}
    if conversation_id and target.conversation_field:
        body[target.conversation_field] = conversation_id
    return body


def parse_answer(status: int, body: Any) -> Answer:
    """The parts of a target's reply the evaluation needs, whatever the route's shape."""
    body = body if isinstance(body, Mapping) else {}
    data = body.get("data") if isinstance(body.get("data"), Mapping) else {}
    sql = data.get("sql") if isinstance(data.get("sql"), str) and data["sql"].strip() else None
    text = str(data.get("response") or body.get("error") or body.get("message") or "")
    refused = sql is None and (
        text.startswith(REFUSAL_PREFIX)
        or data.get("validation_error_type") == "forbidden_keywords"
        or data.get("error_type") == failures.SQL_REFUSED
    )
    sql_failed = sql is None and DB_REFUSED_TEXT in text
    error = None
    if status >= 500 and sql is None and not sql_failed:
        kind = data.get("error_type") or "error"
        error = f"HTTP {status} ({kind}): {text[:ERROR_TEXT_CHARS]}"
    conversation = data.get("conversation_id")
    return Answer(
        http_status=status,
        sql=sql,
        conversation_id=conversation if isinstance(conversation, str) else None,
        refused=refused,
        sql_failed=sql_failed,
        error=error,
    )


def records_outcome(records: Mapping[str, Any]) -> SqlOutcome:
    """A ``query_result`` (columns, rows as objects) as lists in column order."""
    columns = [str(c) for c in records.get("columns") or []]
    rows = [[row.get(c) for c in columns] for row in records.get("rows") or []]
    return SqlOutcome("ok", columns, rows, truncated=bool(records.get("is_limited")))


class InProcessClient:
    """The app in this process, after its start-up, through Quart's test client."""

    mode = "in-process"

    def __init__(self, app: Any) -> None:
        self.app = app
        self.services = app.extensions["citu"]
        self.http = app.test_client()
        self._uninstall = None
        self._sql_slots = asyncio.Semaphore(EVAL_SQL_SLOTS)

    async def __aenter__(self) -> InProcessClient:
        if self.services.http is not None:
            self._uninstall = model_usage.install(self.services.http)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._uninstall is not None:
            self._uninstall()

    async def ask(
        self, target: Target, question: str, conversation_id: str | None, user_id: str
    ) -> Answer:
        with model_usage.counting() as counted:
            started = time.perf_counter()
            response = await self.http.post(
                target.path, json=request_body(target, question, conversation_id, user_id)
            )
            body = await response.get_json(force=True, silent=True)
            latency = (time.perf_counter() - started) * 1000
        answer = parse_answer(response.status_code, body)
        answer.latency_ms = latency
        answer.model_calls = counted.calls
        if counted.calls_with_usage:
            answer.prompt_tokens = counted.prompt_tokens
            answer.completion_tokens = counted.completion_tokens
        return answer

    async def run_sql(self, sql: str) -> SqlOutcome:
        # The guard's queue and the business pool are the service's too: the evaluation's own
        # statements take few of them, and wait (not fail) when the service under test is busy.
        async with self._sql_slots:
            for _ in range(BUSY_RETRIES):
                outcome = await self._run_once(sql)
                if outcome is not None:
                    return outcome
                await asyncio.sleep(BUSY_PAUSE_SECONDS)
        return SqlOutcome("error", error=MSG_GUARD_BUSY)

    async def _run_once(self, sql: str) -> SqlOutcome | None:
        """The outcome, or None when the guard or the pool was too busy to take the statement."""
        services = self.services
        if services.business_db is None:
            return SqlOutcome("error", error=failures.DATABASE_UNAVAILABLE_TEXT)
        try:
            result = await run_read_only(
                services.business_db,
                sql,
                max_rows=MAX_EVAL_ROWS,
                timeout_ms=services.settings.business_statement_timeout_ms,
                guard=services.sql_guard,
            )
        except BusinessQueryBusy:
            return None
        except UnsafeSqlError as exc:
            if exc.reason == MSG_GUARD_BUSY:
                return None
            return SqlOutcome("refused", error=exc.reason)
        except SqlExecutionError as exc:
            # PostgreSQL's own text may quote data; the report carries citu's words.
            return SqlOutcome("error", error=failures.pg_error(exc.pg_code)[1])
        return records_outcome(result.to_records())

    async def retrieved_tables(self, question: str) -> set[str] | None:
        context = await self.services.sql_context.retrieve(question)
        tables = tables_in_texts(context.ddl)
        for pair in context.question_sql:
            tables |= sql_tables(pair["sql"])
        return tables


class HttpClient:
    """A running citu server at ``base_url``; SQL runs on its ``/api/v0/citu_run_sql`` route
    (the server's guard and runner), so the admin key is needed when that route is protected."""

    mode = "url"

    def __init__(
        self,
        base_url: str,
        *,
        admin_key: str | None = None,
        timeout: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"X-API-Key": admin_key} if admin_key else {}
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, headers=headers, transport=transport
        )

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def ask(
        self, target: Target, question: str, conversation_id: str | None, user_id: str
    ) -> Answer:
        started = time.perf_counter()
        try:
            response = await self.http.post(
                target.path, json=request_body(target, question, conversation_id, user_id)
            )
        except httpx.HTTPError as exc:
            return Answer(http_status=0, error=f"request failed: {type(exc).__name__}")
        answer = parse_answer(response.status_code, _json(response))
        answer.latency_ms = (time.perf_counter() - started) * 1000
        return answer

    async def run_sql(self, sql: str) -> SqlOutcome:
        for _ in range(BUSY_RETRIES):
            outcome = await self._run_once(sql)
            if outcome.status != "error" or not outcome.busy:
                return outcome
            await asyncio.sleep(BUSY_PAUSE_SECONDS)
        return outcome

    async def _run_once(self, sql: str) -> SqlOutcome:
        try:
            response = await self.http.post("/api/v0/citu_run_sql", json={"sql": sql})
        except httpx.HTTPError as exc:
            return SqlOutcome("error", error=f"request failed: {type(exc).__name__}")
        body = _json(response)
        data = body.get("data") if isinstance(body.get("data"), Mapping) else {}
        if response.status_code == 200 and isinstance(data.get("query_result"), Mapping):
            return records_outcome(data["query_result"])
        text = str(data.get("response") or body.get("message") or "")[:ERROR_TEXT_CHARS]
        busy = response.status_code == 503 or MSG_GUARD_BUSY in text
        if data.get("error_type") == failures.SQL_REFUSED and response.status_code == 422:
            return (
                SqlOutcome("error", error=text, busy=True)
                if busy
                else SqlOutcome("refused", error=text)
            )
        return SqlOutcome("error", error=f"HTTP {response.status_code}: {text}", busy=busy)

    async def retrieved_tables(self, question: str) -> set[str] | None:
        return None  # the server does not expose what retrieval found


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
