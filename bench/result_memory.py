"""Worker memory while huge results are asked for through ``POST /api/v0/citu_run_sql``.

Starts the throw-away stack of bench/harness.py (embedded PostgreSQL with the demo business
database, reached through citu's reader role; citu under hypercorn with one worker) and sends
four requests at once, twice:

1. one 200 MB cell each: ``SELECT repeat('x', 200000000) AS big``;
2. many rows of 100 KB each (200 MB per query in total).

The worker's RSS is sampled every 20 ms while they run. Target: peak ≤ idle + 100 MB (before the
byte cap, one worker went to ~1.7 GB on four 100 MB-cell requests). ::

    PYTHONPATH=src python bench/result_memory.py [--cell-mb 200] [--clients 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from harness import HttpConnection, machine_description, stack, start_citu, worker_process

MB = 1_000_000


async def sample_rss(process, stop: asyncio.Event, peak: list[int]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], process.memory_info().rss)
        await asyncio.sleep(0.02)


async def one_request(port: int, sql: str) -> tuple[int, dict]:
    connection = HttpConnection(port)
    try:
        status, body = await connection.request("POST", "/api/v0/citu_run_sql", {"sql": sql})
    finally:
        connection.close()
    return status, json.loads(body)


async def scenario(name: str, port: int, process, sql: str, clients: int) -> dict[str, float]:
    idle = process.memory_info().rss
    peak = [idle]
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(process, stop, peak))
    started = time.perf_counter()
    answers = await asyncio.gather(*(one_request(port, sql) for _ in range(clients)))
    seconds = time.perf_counter() - started
    stop.set()
    await sampler
    growth = (peak[0] - idle) / MB
    first_status, first = answers[0]
    records = (first.get("data") or {}).get("query_result") or {}
    print(
        f"{name}: {clients} requests in {seconds:.1f} s, statuses {[s for s, _ in answers]}; "
        f"rows returned {records.get('row_count')} of {records.get('total_row_count')}, "
        f"limited_by={records.get('limited_by')}; "
        f"worker RSS idle {idle / MB:.0f} MB, peak {peak[0] / MB:.0f} MB, "
        f"growth {growth:+.0f} MB (target ≤ +100 MB)"
    )
    return {"growth_mb": growth, "ok": all(s == 200 for s, _ in answers)}


async def measure(port: int, process, cell_mb: int, clients: int) -> int:
    # Warm the worker (pools, first query) so idle RSS is a steady figure.
    for _ in range(3):
        await one_request(port, "SELECT count(*) FROM bss_company")
    cell = await scenario(
        f"one {cell_mb} MB cell",
        port,
        process,
        f"SELECT repeat('x', {cell_mb * MB}) AS big",
        clients,
    )
    rows = await scenario(
        f"{cell_mb * 10} rows of 100 KB",
        port,
        process,
        f"SELECT g, repeat('y', 100000) AS pad FROM generate_series(1, {cell_mb * 10}) AS g",
        clients,
    )
    within = cell["growth_mb"] <= 100 and rows["growth_mb"] <= 100
    print("result:", "within target" if within and cell["ok"] and rows["ok"] else "OVER TARGET")
    return 0 if within else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell-mb", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    print(machine_description())
    with stack(llm_latency=0.0) as (run, _ports):
        server, port = start_citu(run)
        return asyncio.run(measure(port, worker_process(server), args.cell_mb, args.clients))


if __name__ == "__main__":
    sys.exit(main())
