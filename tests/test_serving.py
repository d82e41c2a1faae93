"""citu under a real hypercorn process: graceful SIGTERM, and Prometheus across workers.

The slow request is a real one: ``GET /health`` pings Redis through a proxy that holds the ping
for two seconds (no test-only route can be added to a separate process).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from citu.settings import Settings
from conftest import REDIS_HOST_URL, REDIS_TEST_DB
from fakes.tcp_proxy import DelayProxy

SRC = Path(__file__).resolve().parents[1] / "src"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def citu_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CITU_", "PROMETHEUS_"))}
    env.update(
        PYTHONPATH=str(SRC),
        CITU_DATABASE_URL=settings.database_url,
        CITU_BUSINESS_DB_URL=settings.business_db_url,
        CITU_REDIS_URL=settings.redis_url,
        CITU_LLM_BASE_URL=settings.llm_base_url,
        CITU_EMBEDDING_BASE_URL=settings.embedding_base_url,
        CITU_LOG_DIR=str(settings.log_dir),
        CITU_DATA_DIR=str(settings.data_dir),
    )
    env.update(extra)
    return env


async def start_hypercorn(env: dict[str, str], port: int, workers: int, cwd: Path):
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hypercorn",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--graceful-timeout", "15",
        "citu.app:create_app()",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def wait_until_serving(client: httpx.AsyncClient, proc) -> None:
    async with asyncio.timeout(60):
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"hypercorn exited with {proc.returncode}")
            try:
                if (await client.get("/")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)


async def stop(proc) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


async def test_sigterm_lets_the_request_in_flight_finish(settings: Settings, tmp_path: Path):
    port = free_port()
    host, redis_port = REDIS_HOST_URL.rsplit("/", 1)[-1].split(":")
    async with DelayProxy(host, int(redis_port)) as proxy:
        env = citu_env(settings, CITU_REDIS_URL=f"redis://127.0.0.1:{proxy.port}/{REDIS_TEST_DB}")
        proc = await start_hypercorn(env, port, workers=1, cwd=tmp_path)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                await wait_until_serving(client, proc)
                proxy.delay = 2.0
                started = time.monotonic()
                in_flight = asyncio.create_task(client.get("/health"))
                await asyncio.wait_for(proxy.holding.wait(), 10)  # the handler awaits Redis
                assert not in_flight.done()
                proc.send_signal(signal.SIGTERM)
                response = await in_flight
                elapsed = time.monotonic() - started
            assert response.status_code == 200
            body = response.json()  # complete JSON, the slow component included
            assert body["status"] == "healthy" and body["services"]["redis"] is True
            assert elapsed >= 2.0
            assert await asyncio.wait_for(proc.wait(), 30) == 0
        finally:
            await stop(proc)
    log_text = (settings.log_dir / "app.log").read_text(encoding="utf-8")
    assert "services closed" in log_text  # after_serving ran: pools and clients closed


def scraped_count(text: str, route: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "citu_http_requests_total" and sample.labels["route"] == route:
                return sample.value
    return 0.0


async def test_prometheus_counts_requests_of_every_worker(settings: Settings, tmp_path: Path):
    port = free_port()
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = citu_env(settings, PROMETHEUS_MULTIPROC_DIR=str(shared), CITU_ALERT_CHECK_INTERVAL="0.2")
    proc = await start_hypercorn(env, port, workers=2, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            await wait_until_serving(client, proc)
        # Readiness probes hit "/" too: count a route nothing else calls.
        for _ in range(30):  # a new connection each time, so both workers get some
            async with httpx.AsyncClient(base_url=base, timeout=30) as one_shot:
                assert (await one_shot.get("/api/v0/metrics")).status_code == 200
        await asyncio.sleep(1)  # both workers' watchers sample the pools
        pids = {p.stem.rsplit("_", 1)[-1] for p in shared.glob("gauge_livesum_*.db")}
        assert len(pids) == 2  # each worker writes its own values into the shared directory
        for _ in range(4):  # whichever worker answers, it reports every worker's requests
            async with httpx.AsyncClient(base_url=base, timeout=30) as one_shot:
                text = (await one_shot.get("/metrics")).text
            assert scraped_count(text, "/api/v0/metrics") == 30
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        await stop(proc)
    assert list(shared.glob("gauge_livesum_*.db")) == []  # workers left the live gauges
