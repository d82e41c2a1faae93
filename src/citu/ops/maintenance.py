"""The maintenance read-only switch: while on, every route that writes answers 503.

A request writes when its method is POST/PUT/PATCH/DELETE and its URL rule is not one of the
read-only POST routes of the contract below, so write routes added later are blocked by default.
The switch lives in Redis (shared by all workers); each worker trusts its copy for a moment.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from citu.errors import ServiceUnavailable
from citu.responses import now_iso, service_unavailable_response

log = logging.getLogger("citu.ops")

REDIS_KEY = "citu:ops:maintenance"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAINTENANCE_TEXT = "系统维护中（只读模式）：暂不支持写操作，查询和问答不受影响，请稍后重试"

# POST routes of the contract (../shared/spec) that only read or answer questions. Variable
# parts are compared without their names or converters ("<>"), so "<task_id>" and
# "<string:task_id>" are the same rule.
READ_ONLY_POST_RULES = frozenset(
    {
        "/api/v0/ask",  # training.md 4.1
        "/api/v0/ask_cached",  # 4.2
        "/api/v0/citu_run_sql",  # 4.3 (read-only SQL)
        "/api/v0/ask_agent",  # agents.md 3.1 (its conversation history is part of asking)
        "/api/v0/ask_react_agent",  # 3.3
        "/api/chat",  # 3.19, legacy alias of ask_react_agent
        "/api/v0/qa_feedback/query",  # training.md 2.1
        "/api/v0/training_data/query",  # 3.2
        "/api/v0/data_pipeline/tasks/query",  # pipeline.md E6
        "/api/v0/data_pipeline/tasks/<>/logs/query",  # E14
        "/api/v0/database/tables",  # E15 (business database catalogue)
        "/api/v0/database/table/ddl",  # E16 (writes no files)
        "/api/v0/data_pipeline/vector/backup",  # E17: copies data out, changes nothing
        "/api/v0/cache_preview_cleanup",  # conversation.md 5.5: a preview only
        "/api/v0/maintenance/readonly",  # the switch itself, or it could not be turned off
    }
)

_VARIABLE = re.compile(r"<[^>]*>")


def normalise_rule(rule: str) -> str:
    return _VARIABLE.sub("<>", rule)


def is_write_request(method: str, rule: str) -> bool:
    return method.upper() in WRITE_METHODS and normalise_rule(rule) not in READ_ONLY_POST_RULES


def maintenance_response() -> dict[str, object]:
    body = service_unavailable_response(MAINTENANCE_TEXT, can_retry=True)
    body["data"]["read_only"] = True
    return body


class ReadOnlyMode(ServiceUnavailable):
    """A write refused because the maintenance read-only mode is on."""

    def __init__(self) -> None:
        super().__init__(MAINTENANCE_TEXT, can_retry=True)

    def body(self) -> dict[str, object]:
        return maintenance_response()


@dataclass(frozen=True)
class MaintenanceState:
    enabled: bool
    since: str | None = None  # when the switch was last changed
    reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


OFF = MaintenanceState(enabled=False)


class MaintenanceSwitch:
    def __init__(
        self,
        redis: Redis | None,
        cache_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._cached: MaintenanceState | None = None
        self._cached_at = float("-inf")

    async def read(self) -> MaintenanceState:
        """The state in Redis (Redis errors propagate: the caller asked for the truth)."""
        raw = await self._redis().get(REDIS_KEY)
        state = _parse(raw)
        self._remember(state)
        return state

    async def current(self) -> MaintenanceState:
        """The state for the request gate: cached briefly; if Redis is down, the last state
        seen, or off (fail open: a Redis outage must not turn the service read-only)."""
        if self.clock() - self._cached_at < self.cache_seconds and self._cached is not None:
            return self._cached
        try:
            return await self.read()
        except RedisError as error:
            log.warning("maintenance switch unreadable, using last known state: %s", error)
            return self._cached or OFF

    async def ensure_writable(self) -> None:
        """Raise ``ReadOnlyMode`` while read-only mode is on. The write layers call it before
        each write (vector store, pipeline steps), so it reads Redis every time: a worker must
        stop writing as soon as any worker turns the switch on, not a cache period later."""
        try:
            state = await self.read()
        except RedisError as error:
            log.warning("maintenance switch unreadable, using last known state: %s", error)
            state = self._cached or OFF
        if state.enabled:
            raise ReadOnlyMode()

    async def is_read_only(self) -> bool:
        try:
            await self.ensure_writable()
        except ReadOnlyMode:
            return True
        return False

    async def set(self, enabled: bool, reason: str | None = None) -> MaintenanceState:
        state = MaintenanceState(enabled=enabled, since=now_iso(), reason=reason)
        await self._redis().set(REDIS_KEY, json.dumps(state.as_dict(), ensure_ascii=False))
        self._remember(state)
        log.warning("maintenance read-only mode %s (%s)", "ON" if enabled else "OFF", reason or "-")
        return state

    def _remember(self, state: MaintenanceState) -> None:
        self._cached, self._cached_at = state, self.clock()

    def _redis(self) -> Redis:
        if self.redis is None:
            raise RedisConnectionError("Redis client not started")
        return self.redis


def _parse(raw: str | None) -> MaintenanceState:
    if not raw:
        return OFF
    try:
        data = json.loads(raw)
        return MaintenanceState(bool(data.get("enabled")), data.get("since"), data.get("reason"))
    except (ValueError, AttributeError):
        log.error("unreadable maintenance state in Redis key %s: %r", REDIS_KEY, raw[:100])
        return OFF
