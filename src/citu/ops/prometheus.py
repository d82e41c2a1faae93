"""Prometheus metrics: HTTP requests by route, LLM and embedding calls, pool use, pipeline tasks.

With several hypercorn workers set ``PROMETHEUS_MULTIPROC_DIR`` (an empty, writable directory,
wiped at each start; ``citu serve`` does that) before the workers start: every worker then writes
its values to files there, and a scrape, whichever worker answers it, reads them all.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from redis.asyncio import Redis

log = logging.getLogger("citu.ops")

HTTP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
MODEL_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)
UNMATCHED_ROUTE = "<unmatched>"  # 404s: raw paths would give every scanner its own series
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

ModelCallObserver = Callable[[str, float, str | None], None]


@dataclass(frozen=True)
class PoolSources:
    """The pools the gauges sample. The business pool is read at each sample: it is opened
    late, or again, when the business database was down."""

    db: asyncpg.Pool | None  # citu's database; the pipeline task counts are read there too
    business_db: Callable[[], asyncpg.Pool | None]
    redis: Redis | None


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


class PrometheusMetrics:
    def __init__(self) -> None:
        self.multiprocess = multiprocess_dir() is not None
        # A registry per app keeps tests (several apps in one process) apart; in multiprocess
        # mode the values live in files and a scrape reads those instead of this registry.
        self.registry = CollectorRegistry()
        reg = self.registry
        self.http_requests = Counter(
            "citu_http_requests",
            "HTTP requests answered, by route (the URL rule), method and status",
            ["method", "route", "status"],
            registry=reg,
        )
        self.http_latency = Histogram(
            "citu_http_request_duration_seconds",
            "Time to the response headers, by route, method and status",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=reg,
        )
        self.model_latency = Histogram(
            "citu_model_call_duration_seconds",
            "LLM and embedding HTTP calls (each attempt), until the body is read",
            ["kind"],
            buckets=MODEL_BUCKETS,
            registry=reg,
        )
        self.model_errors = Counter(
            "citu_model_call_errors",
            "Failed LLM and embedding HTTP calls, by HTTP status or exception class",
            ["kind", "reason"],
            registry=reg,
        )
        self.pool_connections = Gauge(
            "citu_pool_connections",
            "Connections of the database and Redis pools, by state (in_use, idle, max)",
            ["pool", "state"],
            multiprocess_mode="livesum",
            registry=reg,
        )

    # ---- recording ---------------------------------------------------------------------

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        # A client may send any method name: keep unknown ones from adding series.
        labels = (method if method in HTTP_METHODS else "OTHER", route, str(status))
        self.http_requests.labels(*labels).inc()
        self.http_latency.labels(*labels).observe(seconds)

    def observe_model_call(self, kind: str, seconds: float, error: str | None) -> None:
        self.model_latency.labels(kind).observe(seconds)
        if error is not None:
            self.model_errors.labels(kind, error).inc()

    def sample_pools(self, pools: PoolSources) -> None:
        for name, pool in (("database", pools.db), ("business_database", pools.business_db())):
            if pool is None:
                continue
            size, idle = pool.get_size(), pool.get_idle_size()
            self.pool_connections.labels(name, "in_use").set(size - idle)
            self.pool_connections.labels(name, "idle").set(idle)
            self.pool_connections.labels(name, "max").set(pool.get_max_size())
        if pools.redis is not None:
            in_use, idle = redis_pool_usage(pools.redis.connection_pool)
            self.pool_connections.labels("redis", "in_use").set(in_use)
            self.pool_connections.labels("redis", "idle").set(idle)

    # ---- exposition --------------------------------------------------------------------

    async def exposition(self, pools: PoolSources) -> tuple[bytes, str]:
        """The text format for GET /metrics."""
        self.sample_pools(pools)
        pipeline = PipelineTasksCollector(await pipeline_task_counts(pools.db))
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            sources: list[Any] = [registry, pipeline]
        else:
            sources = [self.registry, pipeline]
        # Multiprocess mode reads one file per worker and metric type: off the event loop.
        text = await asyncio.to_thread(generate_latest, _Union(sources))  # type: ignore[arg-type]
        return text, CONTENT_TYPE_LATEST

    def close(self) -> None:
        """Drop this worker's live gauges from the shared files (multiprocess mode)."""
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())


class _Union:
    """Several collectors seen as one registry by ``generate_latest``."""

    def __init__(self, sources: Iterable[Any]) -> None:
        self.sources = list(sources)

    def collect(self) -> Iterable[Metric]:
        for source in self.sources:
            yield from source.collect()


class PipelineTasksCollector:
    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "citu_pipeline_tasks", "Data pipeline tasks by status", labels=["status"]
        )
        for status, count in sorted(self.counts.items()):
            family.add_metric([status], count)
        yield family


async def pipeline_task_counts(pool: asyncpg.Pool | None) -> dict[str, int]:
    """Tasks per status from ``data_pipeline_tasks``; empty while that table does not exist."""
    if pool is None:
        return {}
    try:
        async with asyncio.timeout(3):
            async with pool.acquire() as conn:
                if await conn.fetchval("SELECT to_regclass('data_pipeline_tasks')") is None:
                    return {}
                rows = await conn.fetch(
                    "SELECT status, count(*) AS n FROM data_pipeline_tasks GROUP BY status"
                )
    except (asyncpg.PostgresError, OSError, TimeoutError) as error:
        log.warning("pipeline task counts unavailable: %s", error)
        return {}
    return {str(row["status"]): int(row["n"]) for row in rows}


def redis_pool_usage(pool: Any) -> tuple[int, int]:
    """(in use, idle) connections of a redis-py asyncio pool; (0, 0) if it hides them."""
    try:
        return len(list(pool._get_in_use_connections())), len(list(pool._get_free_connections()))
    except AttributeError:
        return 0, 0


# ---- LLM and embedding calls ---------------------------------------------------------------


def model_call_kind(path: str) -> str | None:
    if path.endswith("/embeddings"):
        return "embedding"
    if path.endswith("/completions"):
        return "llm"
    return None


class ModelCallTransport(httpx.AsyncBaseTransport):
    """Times every LLM and embedding call made through the service's shared HTTP client.

    Sits under the OpenAI SDK, so it sees each attempt (retries included) of every client built
    on that HTTP client, streamed answers until their last chunk, and failures of both kinds:
    an HTTP status >= 400 or a transport exception.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, observe: ModelCallObserver) -> None:
        self.inner = inner
        self.observe = observe

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        kind = model_call_kind(request.url.path)
        if kind is None:
            return await self.inner.handle_async_request(request)
        started = time.perf_counter()
        try:
            response = await self.inner.handle_async_request(request)
        except Exception as error:
            self.observe(kind, time.perf_counter() - started, type(error).__name__)
            raise
        if response.status_code >= 400:
            self.observe(kind, time.perf_counter() - started, str(response.status_code))
            return response
        response.stream = _TimedStream(response.stream, kind, started, self.observe)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class _TimedStream(httpx.AsyncByteStream):
    def __init__(self, inner: Any, kind: str, started: float, observe: ModelCallObserver) -> None:
        self.inner, self.kind, self.started, self.observe = inner, kind, started, observe
        self.error: str | None = None
        self.done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.inner:
                yield chunk
        except Exception as error:
            self.error = type(error).__name__
            raise

    async def aclose(self) -> None:
        if not self.done:
            self.done = True
            self.observe(self.kind, time.perf_counter() - self.started, self.error)
        await self.inner.aclose()
