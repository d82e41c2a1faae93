"""The SQL guard's cost, and the worker's responsiveness while it refuses huge statements.

1. Guard latency: p50/p95 of ``SqlGuard.check_now`` over 1,000 ordinary analytic queries (the
   test corpus over the demo tables, with varied literals), wall clock and thread CPU time
   (the machine may be shared). The deny-list guard of ``main`` (read with ``git show``) is
   timed on the same queries as the baseline when git is available. Target: p95 <= 2 ms.
2. ``/health`` latency on a real server (hypercorn, one worker) while 1 MB and 10 MB SQL
   bodies are being refused by ``POST /api/v0/citu_run_sql``, one after another, until 300
   health calls were measured; idle latency first for comparison. Target: p99 <= 50 ms.

Usage (from the repository root)::

    PYTHONPATH=src python bench/sql_guard.py [--queries 1000] [--bodies 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests" / "agents")]

from guard_corpus import ANALYTIC  # noqa: E402
from harness import HttpConnection, machine_description, stack, start_citu  # noqa: E402

from citu.agents.sql_guard import SqlGuard  # noqa: E402


def workload(count: int) -> list[str]:
    """``count`` corpus queries; LIMITs and numbers vary so that no two runs see one text."""
    queries = []
    for n in range(count):
        sql = ANALYTIC[n % len(ANALYTIC)]
        round_ = n // len(ANALYTIC)
        if round_:
            sql = sql.replace("LIMIT 5", f"LIMIT {5 + round_}").replace("1000", str(1000 + round_))
        queries.append(sql)
    return queries


def percentiles(samples: list[float]) -> tuple[float, float, float, float]:
    """p50, p95, p99 and max, in milliseconds."""
    ordered = sorted(samples)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return at(0.5), at(0.95), at(0.99), ordered[-1] * 1000


def time_guard(check: Callable[[str], object], queries: list[str]) -> tuple[list, list]:
    for sql in queries[:50]:  # warm-up: imports, caches
        check(sql)
    wall, cpu = [], []
    for sql in queries:
        started, started_cpu = time.perf_counter(), time.thread_time()
        check(sql)
        cpu.append(time.thread_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    return wall, cpu


def old_guard() -> Callable[[str], object] | None:
    """``check_sql`` of the deny-list guard on ``main``, or None without git."""
    try:
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", "main:src/citu/agents/sql_guard.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("old_sql_guard")
    module.__dict__["__name__"] = "old_sql_guard"
    sys.modules["old_sql_guard"] = module  # dataclasses look the module up
    exec(compile(source, "old_sql_guard.py", "exec"), module.__dict__)  # noqa: S102
    return module.check_sql


def report_guard(count: int) -> None:
    queries = workload(count)
    guard = SqlGuard()
    refused = [sql for sql in queries if not guard.check_now(sql).ok]
    print(f"1. guard over {len(queries)} analytic queries ({len(refused)} refused)")
    rows = [("allow-list guard (this branch)", guard.check_now)]
    previous = old_guard()
    if previous is not None:
        rows.append(("deny-list guard (main)", previous))
    for name, check in rows:
        wall, cpu = time_guard(check, queries)
        w50, w95, w99, _ = percentiles(wall)
        c50, c95, c99, _ = percentiles(cpu)
        print(
            f"   {name:32} wall p50 {w50:5.2f} ms  p95 {w95:5.2f} ms  p99 {w99:5.2f} ms | "
            f"cpu p50 {c50:5.2f} ms  p95 {c95:5.2f} ms  p99 {c99:5.2f} ms"
        )


def post_raw(port: int, body: bytes) -> int:
    """POST ``body`` to citu_run_sql on a blocking socket (run in a thread, so the measuring
    event loop never serialises or copies megabytes); the status, 0 if the server hung up."""
    head = (
        f"POST /api/v0/citu_run_sql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        try:
            sock.sendall(head + body)
        except OSError:
            pass  # refused unread: the answer may still be waiting in the socket
        try:
            reply = sock.recv(65536)
        except OSError:
            return 0
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0


async def health_while(port: int, body_mb: int, bodies: int, samples: int = 300) -> None:
    sql = "SELECT 1 FROM bss_company WHERE id IN (" + "'x'," * (body_mb * 262_144) + "'x')"
    body = json.dumps({"sql": sql}).encode()
    done = asyncio.Event()
    latencies: list[float] = []
    statuses: list[int] = []
    refusal_seconds: list[float] = []

    async def poll_health() -> None:
        conn = HttpConnection(port)
        while not done.is_set():
            started = time.perf_counter()
            status, _ = await conn.request("GET", "/health")
            latencies.append(time.perf_counter() - started)
            statuses.append(status)
            await asyncio.sleep(0.005)
        conn.close()

    async def send_bodies() -> list[int]:
        codes = []
        while len(codes) < bodies or len(latencies) < samples:
            started = time.perf_counter()
            codes.append(await asyncio.to_thread(post_raw, port, body))
            refusal_seconds.append(time.perf_counter() - started)
        done.set()
        return codes

    poller = asyncio.create_task(poll_health())
    codes = await send_bodies()
    await poller
    p50, p95, p99, worst = percentiles(latencies)
    print(
        f"   {body_mb:2d} MB SQL × {len(codes)}: citu_run_sql statuses {sorted(set(codes))}, "
        f"{statistics.median(refusal_seconds) * 1000:.0f} ms each (median, upload included); "
        f"/health ({len(latencies)} calls, statuses {sorted(set(statuses))}) "
        f"p50 {p50:.1f} ms  p99 {p99:.1f} ms  max {worst:.1f} ms"
    )


async def idle_health(port: int, calls: int = 200) -> None:
    conn = HttpConnection(port)
    latencies = []
    for _ in range(calls):
        started = time.perf_counter()
        await conn.request("GET", "/health")
        latencies.append(time.perf_counter() - started)
    conn.close()
    p50, p95, p99, worst = percentiles(latencies)
    print(f"   idle: /health p50 {p50:.1f} ms  p99 {p99:.1f} ms  max {worst:.1f} ms")


def report_server(bodies: int) -> None:
    print("2. /health while citu_run_sql refuses huge SQL (hypercorn, one worker)")
    with stack(llm_latency=0.0) as (run, _ports):
        _server, port = start_citu(run)

        async def measure() -> None:
            await idle_health(port)
            for body_mb in (1, 10):
                await health_while(port, body_mb, bodies)

        asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--bodies", type=int, default=20)
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()
    print(machine_description())
    report_guard(args.queries)
    if not args.skip_server:
        report_server(args.bodies)


if __name__ == "__main__":
    main()
