"""Operations: request metrics, Prometheus, alerts and the maintenance read-only switch.

``Ops`` is one worker's share of it, built with the service's clients (it holds no connection
until ``start``); ``install_ops`` adds the app-wide request hooks that feed it and enforce the
switch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import httpx
import psutil
from quart import Quart, Response, request

from citu.ops.alerts import AlertEvaluator, dispatch, notifiers_from
from citu.ops.maintenance import MaintenanceSwitch, is_write_request, maintenance_response
from citu.ops.metrics import RequestMetrics
from citu.ops.prometheus import (
    UNMATCHED_ROUTE,
    ModelCallTransport,
    PoolSources,
    PrometheusMetrics,
)
from citu.responses import reply
from citu.settings import Settings

log = logging.getLogger("citu.ops")


class Ops:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        horizon = max(settings.alert_error_rate_window, settings.alert_response_time_window)
        self.requests = RequestMetrics(settings.metrics_window_size, horizon=horizon)
        self.prometheus = PrometheusMetrics()
        self.alerts = AlertEvaluator(settings, self.requests)
        self.notifiers = notifiers_from(settings)
        self.maintenance = MaintenanceSwitch(None, settings.maintenance_cache_seconds)
        self._watcher: asyncio.Task[None] | None = None
        self._pools = PoolSources(db=None, business_db=lambda: None, redis=None)

    def http_transport(self, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        """The shared HTTP client's transport: times LLM and embedding calls made by ``inner``."""
        return ModelCallTransport(inner, self.prometheus.observe_model_call)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.record(seconds, status)
        self.prometheus.observe_request(method, route, status, seconds)

    async def start(self, pools: PoolSources) -> None:
        self._pools = pools
        self.maintenance.redis = pools.redis
        psutil.cpu_percent(interval=None)  # the first reading only sets the baseline
        self._watcher = asyncio.create_task(self._watch(), name="citu-ops-watch")

    async def check(self, now: float | None = None) -> None:
        """One round of the watcher: sample memory and pools, evaluate, notify."""
        now = time.monotonic() if now is None else now
        self.alerts.observe_memory(now, psutil.virtual_memory().percent)
        self.prometheus.sample_pools(self._pools)
        for alert in self.alerts.evaluate(now):
            await dispatch(alert, self.notifiers)

    async def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text for GET /metrics, with the pools sampled now."""
        return await self.prometheus.exposition(self._pools)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.alert_check_interval)
            try:
                await self.check()
            except Exception:  # noqa: BLE001 - the watcher must outlive one bad round
                log.exception("ops check failed")

    async def aclose(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        self.prometheus.close()


def install_ops(app: Quart, ops: Ops) -> None:
    """App-wide hooks: time every request, and refuse writes while read-only mode is on."""

    @app.before_request
    async def _start_timer() -> None:
        request.citu_started = time.perf_counter()  # type: ignore[attr-defined]

    @app.before_request
    async def _read_only_gate() -> Response | None:
        rule = request.url_rule
        if rule is None or not is_write_request(request.method, rule.rule):
            return None
        if not (await ops.maintenance.current()).enabled:
            return None
        return reply(maintenance_response(), 503)

    @app.after_request
    async def _record(response: Response) -> Response:
        started = getattr(request, "citu_started", None)
        if started is not None:
            route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
            seconds = time.perf_counter() - started
            ops.observe_request(request.method, route, response.status_code, seconds)
        return response
