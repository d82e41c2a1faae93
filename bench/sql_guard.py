"""The SQL guard's cost, and the worker's responsiveness while it refuses huge statements.

1. Guard latency: p50/p95 of ``SqlGuard.check_now`` over 1,000 ordinary analytic queries (the
   test corpus over the demo tables, with varied literals), wall clock and thread CPU time
   (the machine may be shared). The deny-list guard of ``main`` (read with ``git show``) is
   timed on the same queries as the baseline when git is available. Target: p95 <= 2 ms.
2. ``/health`` latency on a real server (hypercorn, one worker) while 1 MB and 10 MB SQL
   bodies are being refused by ``POST /api/v0/citu_run_sql`` (``--rate`` a second, sent from
   another process, for ``--seconds`` each); idle latency first for comparison.
   Target: p99 <= 50 ms.

Usage (from the repository root)::

    PYTHONPATH=src python bench/sql_guard.py [--queries 1000] [--seconds 10] [--rate 10]
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
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests" / "agents")]

from guard_corpus import ANALYTIC  # noqa: E402
from harness import HttpConnection, machine_description, stack, start_citu  # noqa: E402

from citu.sql.guard import SqlGuard  # noqa: E402


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
    """POST ``body`` to citu_run_sql on a blocking socket; the status, 0 if the server hung up
    before answering."""
    head = (
        f"POST /api/v0/citu_run_sql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        try:
            sock.sendall(head)
            sock.sendall(body)
        except OSError:
            pass  # refused unread: the answer may still be waiting in the socket
        try:
            reply = sock.recv(65536)
        except OSError:
            return 0
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0


def send_bodies(port: int, body_mb: int, seconds: float, rate: float) -> list[tuple[int, float]]:
    """In a process of its own (building and sending megabytes must not slow the client that
    measures /health): post the SQL body ``rate`` times a second for ``seconds``."""
    sql = "SELECT 1 FROM bss_company WHERE id IN (" + "'x'," * (body_mb * 262_144) + "'x')"
    body = json.dumps({"sql": sql}).encode()
    results = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        status = post_raw(port, body)
        results.append((status, time.perf_counter() - started))
        time.sleep(max(0.0, 1 / rate - (time.perf_counter() - started)))
    return results


async def health_while(port: int, body_mb: int, seconds: float, rate: float) -> None:
    latencies: list[float] = []
    statuses: list[int] = []
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=1) as pool:
        sender = loop.run_in_executor(pool, send_bodies, port, body_mb, seconds, rate)
        conn = HttpConnection(port)
        while not sender.done():
            started = time.perf_counter()
            status, _ = await conn.request("GET", "/health")
            latencies.append(time.perf_counter() - started)
            statuses.append(status)
            await asyncio.sleep(0.005)
        conn.close()
        sent = await sender
    codes = sorted({status for status, _ in sent})
    median = statistics.median(seconds for _, seconds in sent) * 1000
    p50, p95, p99, worst = percentiles(latencies)
    print(
        f"   {body_mb:2d} MB SQL × {len(sent)} ({rate:g}/s): citu_run_sql statuses {codes}, {median:.0f} ms "
        f"each (median); /health ({len(latencies)} calls, statuses {sorted(set(statuses))}) "
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


def report_server(seconds: float, rate: float) -> None:
    print("2. /health while citu_run_sql refuses huge SQL (hypercorn, one worker)")
    with stack(llm_latency=0.0) as (run, _ports):
        _server, port = start_citu(run)

        async def measure() -> None:
            await idle_health(port)
            for body_mb in (1, 10):
                await health_while(port, body_mb, seconds, rate)

        asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0, help="per body size")
    parser.add_argument("--rate", type=float, default=10.0, help="huge bodies per second")
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()
    print(machine_description())
    report_guard(args.queries)
    if not args.skip_server:
        report_server(args.seconds, args.rate)


if __name__ == "__main__":
    main()
