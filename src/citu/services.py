"""Everything with a connection: built once in ``before_serving``, closed in ``after_serving``.

``Services`` opens the pools and clients, then ``citu.wiring`` builds the components from them
as typed attributes. Stores and agents are plain classes that receive what they use, so tests can
build them without the web layer; the app keeps one ``Services`` in ``app.extensions["citu"]``,
and handlers reach it with ``services()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import asyncpg
import httpx
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from quart import current_app
from redis.asyncio import BlockingConnectionPool, Redis

from citu.db.business import BusinessRoleRefused, check_business_role, ensure_demo_reader
from citu.db.pools import open_business_pool, open_citu_pool
from citu.db.role_check import RoleReport
from citu.db.schema import apply_schema, ensure_demo_database
from citu.db.urls import resolve_database_urls
from citu.errors import ServiceUnavailable
from citu.llm.clients import build_chat_model, build_embeddings, build_text_model, model_transport
from citu.llm.text_model import TextChatModel
from citu.local_servers import redis_url_for
from citu.ops import Ops
from citu.settings import Settings, redact_url
from citu.sql.guard import SqlGuard
from citu.wiring import wire_components

if TYPE_CHECKING:
    from citu.agents.ask_graph import AskAgent
    from citu.agents.ask_service import AskService
    from citu.agents.direct_ask import DirectAsk
    from citu.agents.react.agent import ReactAgent
    from citu.eval.run_service import EvalService
    from citu.ops.endpoints import EndpointProbe
    from citu.pipeline.service import PipelineService
    from citu.stores.conversations import ConversationStore
    from citu.stores.feedback import FeedbackStore
    from citu.training.embedder import Embedder
    from citu.training.live_schema import SchemaFallbackRetriever
    from citu.training.retrieval import Retriever
    from citu.training.service import TrainingService

log = logging.getLogger("citu.services")

# A shutdown step may wait this long; the worker must end even if something holds on.
CLOSE_TIMEOUT_SECONDS = 10.0


async def _close_pool(pool: asyncpg.Pool) -> None:
    # close() waits for every connection to be released: a task still holding one (a query
    # stuck on a dead server, a forgotten background task) would keep the worker alive forever.
    try:
        await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT_SECONDS)
    except TimeoutError:
        log.warning(
            "a database pool did not close in %.0f s; terminating it", CLOSE_TIMEOUT_SECONDS
        )
        pool.terminate()


class Services:
    # The components, built by ``citu.wiring.wire_components`` in ``start()``.
    endpoint_probe: EndpointProbe
    embedder: Embedder
    training: TrainingService
    retriever: Retriever
    sql_context: SchemaFallbackRetriever  # the retriever, falling back to the live schema
    feedback: FeedbackStore
    pipeline: PipelineService
    eval: EvalService
    ask_agent: AskAgent | None  # None without a text LLM
    ask: AskService
    direct_ask: DirectAsk
    react: ReactAgent

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database_url: str | None = None
        self.business_db_url: str | None = None
        self.db: asyncpg.Pool | None = None
        self.business_db: asyncpg.Pool | None = None
        self.redis: Redis | None = None
        self.http: httpx.AsyncClient | None = None
        self.llm: ChatOpenAI | None = None  # tool calling: ReAct agent, training, pipeline
        self.text_llm: TextChatModel | None = None  # the answer path: ask agent, direct ask
        self.embeddings: OpenAIEmbeddings | None = None
        self.ops = Ops(settings)  # metrics, alerts, maintenance switch; no connection yet
        # One SQL guard for every path that runs client or LLM SQL on the business database.
        self.sql_guard = SqlGuard.from_settings(settings)
        self._business_retry: asyncio.Task | None = None
        self.business_role: RoleReport | None = None  # what the business role may do
        self._wired = False  # the components exist (and close at shutdown)

    async def start(self) -> None:
        settings = self.settings
        self.database_url, business_url = await resolve_database_urls(settings)
        # Schema first, on a plain connection: the pool registers the vector type on connect.
        conn = await asyncpg.connect(self.database_url)
        try:
            await apply_schema(conn)
        finally:
            await conn.close()
        self.db = await open_citu_pool(self.database_url, settings)
        if not settings.business_db_url:
            await ensure_demo_database(business_url)
            business_url = await ensure_demo_reader(business_url, settings)
        self.business_db_url = business_url
        await self._open_business_pool()
        self.redis = await self._open_redis()
        # Several small connection pools: one big httpx pool costs seconds of CPU under load.
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.llm_timeout, connect=10.0),
            transport=self.ops.http_transport(model_transport(settings.llm_max_connections)),
        )
        self.llm = build_chat_model(settings, self.http)
        self.text_llm = build_text_model(settings, self.http)
        self.embeddings = build_embeddings(settings, self.http)
        await wire_components(self)
        self._wired = True
        if not settings.business_db_url:
            from citu.db.demo_training import train_demo_at_start

            await train_demo_at_start(
                self.training, self.business_db, settings.embedding_configured
            )
        log.info(
            "services started: database=%s business=%s llm=%s embeddings=%s",
            redact_url(self.database_url),
            redact_url(self.business_db_url),
            settings.llm_base_url or "not configured",
            settings.embedding_base_url or "not configured",
        )

    async def _open_redis(self) -> Redis:
        settings = self.settings
        # A blocking pool: past max_connections a command waits for a free connection instead
        # of failing with "Too many connections" (redis-py's default pool raises at 100).
        redis_url = await asyncio.to_thread(redis_url_for, settings)
        pool = BlockingConnectionPool.from_url(
            redis_url,
            max_connections=settings.redis_max_connections,
            timeout=settings.redis_timeout,
            decode_responses=True,
            socket_timeout=settings.redis_timeout,
            socket_connect_timeout=settings.redis_timeout,
            health_check_interval=30,
        )
        redis = Redis.from_pool(pool)
        if not await _ping(redis):
            log.warning("Redis at %s is unreachable; starting degraded", redact_url(redis_url))
        return redis

    async def _open_business_pool(self) -> None:
        try:
            pool = await open_business_pool(self.business_db_url, self.settings)
            self.business_role = await check_business_role(pool)
            self.business_db = pool
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            # The service still serves training, conversations and feedback without it, and
            # keeps trying in the background so it recovers when the database returns.
            log.error(
                "business database %s unreachable: %s", redact_url(self.business_db_url), error
            )
            self._business_retry = asyncio.create_task(self._reconnect_business())

    async def _reconnect_business(self) -> None:
        while self.business_db is None:
            await asyncio.sleep(self.settings.business_reconnect_seconds)
            try:
                pool = await open_business_pool(self.business_db_url, self.settings)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                continue
            # The database may have come back with another role or other grants.
            self.business_role = await check_business_role(pool)
            self.business_db = pool
            log.info("business database %s reachable again", redact_url(self.business_db_url))

    def _shutdown_order(self) -> list[tuple[str, object]]:
        """What closes first, in order; the clients and pools close after these.

        Metrics first: a multi-worker hypercorn may SIGTERM a worker still in ``close()``, and
        its live gauges must already be gone from the shared Prometheus directory by then. Then
        the components that own tasks or connections, newest first, while citu's pools and
        Redis are still open (the pipeline marks its running tasks interrupted).
        """
        if not self._wired:
            return [("ops", self.ops)]
        return [
            ("ops", self.ops),
            ("react", self.react),
            ("ask", self.ask),
            ("eval", self.eval),
            ("pipeline", self.pipeline),
            ("endpoint_probe", self.endpoint_probe),
        ]

    async def close(self) -> None:
        """The components' ``aclose()`` first (see ``_shutdown_order``), then the clients.

        hypercorn runs this after in-flight requests finished (or ``graceful_timeout`` passed),
        so a component can still write its final state, e.g. mark running tasks interrupted.
        """
        for name, component in self._shutdown_order():
            closer = getattr(component, "aclose", None)
            if closer is not None:
                try:
                    async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                        await closer()
                except Exception:  # noqa: BLE001 - keep closing the rest (a timeout too)
                    log.exception("closing %s failed", name)
        if self._business_retry is not None:
            self._business_retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._business_retry
        if self.redis is not None:
            await self.redis.aclose()
        if self.http is not None:
            await self.http.aclose()
        for pool in (self.business_db, self.db):
            if pool is not None:
                await _close_pool(pool)
        log.info("services closed")

    async def redis_ok(self) -> bool:
        return self.redis is not None and await _ping(self.redis)

    def require_business_db(self) -> asyncpg.Pool:
        if self.business_db is None:
            raise ServiceUnavailable("业务数据库不可用：请检查 CITU_BUSINESS_DB_URL")
        role = self.business_role
        if role is not None and not role.ok and not self.settings.allow_privileged_business_role:
            raise BusinessRoleRefused()
        return self.business_db

    def require_redis(self) -> Redis:
        if self.redis is None:
            raise ServiceUnavailable("Redis服务不可用，请稍后重试")
        return self.redis

    @property
    def conversations(self) -> ConversationStore:
        """The conversation store; 503 (``require_redis``) when Redis was never opened."""
        self.require_redis()
        return self._conversations

    @conversations.setter
    def conversations(self, store: ConversationStore) -> None:
        self._conversations = store


async def _ping(redis: Redis) -> bool:
    try:
        return bool(await redis.ping())
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


def services() -> Services:
    """The running app's services (inside a request or serving hook)."""
    return current_app.extensions["citu"]
