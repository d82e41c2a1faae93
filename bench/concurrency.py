"""citu against the old design under concurrent ``ask_agent`` load, plus light routes with wrk.

One run starts, on free ports: the fake OpenAI server at latency L, a private redis-server, an
embedded PostgreSQL, citu under hypercorn (one asyncio worker) and the baseline (bench/
baseline_app.py: Flask + ``asyncio.run`` per request, one gunicorn worker with threads, or
WsgiToAsgi under hypercorn). Each concurrency level C sends C × ``--rounds`` requests from C
keep-alive connections; the table gives throughput, p50/p95/p99 and citu/baseline ratios.

    pip install -e '.[bench]'; apt-get install -y wrk
    PYTHONPATH=src python bench/concurrency.py --latency 0.5

Both servers answer each question with exactly one LLM call: citu's ``ask_agent`` with
``routing_mode=chat_direct`` (its classifier is skipped; Redis conversation store and all), the
baseline's per-request graph with one chat node.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys

from harness import (
    HttpConnection,
    LoadResult,
    closed_loop,
    machine_description,
    raise_fd_limit,
    stack,
    start_baseline,
    start_citu,
)

ASK_PATH = "/api/v0/ask_agent"
FALLBACK_PATH = "/api/v0/citu_train_question_sql"  # an LLM-calling route, until ask_agent lands


def ask_request(path: str) -> callable:
    def request_for(client: int, round_: int) -> tuple[str, str, dict]:
        if path == ASK_PATH:
            body = {"question": f"你好，第{round_}次", "user_id": f"bench{client}",
                    "routing_mode": "chat_direct"}  # fmt: skip
        else:
            body = {"sql": f"SELECT {client * 1000 + round_} AS n"}  # LLM writes the question
        return "POST", path, body

    return request_for


async def citu_ask_path(port: int) -> str:
    connection = HttpConnection(port)
    status, body = await connection.request("GET", "/openapi.json")
    connection.close()
    paths = json.loads(body)["paths"] if status == 200 else {}
    return ASK_PATH if ASK_PATH in paths else FALLBACK_PATH


async def drive(port: int, path: str, levels: list[int], rounds: int) -> dict[int, LoadResult]:
    request_for = ask_request(path)
    await closed_loop(port, 10, 2, request_for)  # warm-up: pools, clients, first graph run
    results = {}
    for clients in levels:
        results[clients] = await closed_loop(port, clients, rounds, request_for)
        result = results[clients]
        print(f"  C={clients:<4} ok {result.ok}/{len(result.statuses)} in {result.seconds:6.1f} s",
              flush=True)  # fmt: skip
    return results


def wrk(port: int, path: str, connections: int, seconds: int) -> tuple[float, str]:
    """(requests/s, p99) of ``wrk --latency`` on one route."""
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rate, p99 + (f" ({non_2xx.group(1)} non-2xx)" if non_2xx else "")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.0f}"


def print_table(latency: float, citu: dict, baseline: dict, baseline_name: str, path: str) -> None:
    print(
        f"\n### ask_agent-like requests, LLM latency L = {latency * 1000:.0f} ms, one worker each"
    )
    print(f"citu: POST {path}; baseline: {baseline_name}\n")
    print("| C | server | ok/total | req/s | p50 ms | p95 ms | p99 ms |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for clients in citu:
        for name, result in (("citu", citu[clients]), ("baseline", baseline.get(clients))):
            if result is None:
                continue
            print(f"| {clients} | {name} | {result.ok}/{len(result.statuses)} | "
                  f"{result.throughput:7.1f} | {ms(result.percentile(50))} | "
                  f"{ms(result.percentile(95))} | {ms(result.percentile(99))} |")  # fmt: skip
    print("\n| C | throughput citu/baseline | p99 baseline/citu |")
    print("|---:|---:|---:|")
    for clients, result in citu.items():
        base = baseline.get(clients)
        if base is None or not base.throughput:
            continue
        print(f"| {clients} | {result.throughput / base.throughput:6.1f}× | "
              f"{base.percentile(99) / result.percentile(99):6.1f}× |")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.5, help="fake LLM latency L (s)")
    parser.add_argument("--levels", default="10,50,200,500", help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=2, help="requests per client and level")
    parser.add_argument("--baseline", choices=["gunicorn", "wsgi2asgi"], default="gunicorn")
    parser.add_argument("--baseline-threads", type=int, default=8, help="gunicorn threads")
    parser.add_argument("--baseline-levels", help="levels for the baseline (default: --levels)")
    parser.add_argument("--wrk-seconds", type=int, default=10, help="0 skips the light routes")
    parser.add_argument("--wrk-connections", type=int, default=100)
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    baseline_levels = [int(x) for x in (args.baseline_levels or args.levels).split(",")]
    raise_fd_limit()
    print(f"machine: {machine_description()}", flush=True)

    with stack(args.latency) as (run, _ports):
        citu_server, citu_port = start_citu(run)
        path = asyncio.run(citu_ask_path(citu_port))
        print(f"citu ({path}):", flush=True)
        citu = asyncio.run(drive(citu_port, path, levels, args.rounds))
        light = []
        if args.wrk_seconds and shutil.which("wrk"):
            for route in ("/health", "/api/v0/user/bench1/conversations",
                          "/api/v0/training_data/stats"):  # fmt: skip
                rate, p99 = wrk(citu_port, route, args.wrk_connections, args.wrk_seconds)
                light.append((route, rate, p99))
        run.stop(citu_server)

        if args.baseline == "gunicorn":
            name = (
                f"Flask + asyncio.run, gunicorn gthread 1 worker × {args.baseline_threads} threads"
            )
        else:
            name = "Flask + asyncio.run, asgiref WsgiToAsgi under hypercorn (1 worker)"
        _server, base_port = start_baseline(run, args.baseline, args.baseline_threads)
        print(f"baseline ({name}):", flush=True)
        baseline = asyncio.run(drive(base_port, ASK_PATH, baseline_levels, args.rounds))

    print_table(args.latency, citu, baseline, name, path)
    if light:
        print(f"\n### light routes, citu, wrk -t2 -c{args.wrk_connections} "
              f"-d{args.wrk_seconds}s, one worker\n")  # fmt: skip
        print("| route | requests/s | p99 |")
        print("|---|---:|---:|")
        for route, rate, p99 in light:
            print(f"| GET {route} | {rate:.0f} | {p99} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
