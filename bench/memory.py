"""Memory and resources of one citu worker over 10,000 mixed requests.

Starts the same throw-away stack as bench/concurrency.py (fake LLM, private Redis, embedded
PostgreSQL, citu under hypercorn with one worker) and sends mixed requests from 50 keep-alive
clients: ask (one LLM call), health, conversation list and messages, training stats and query,
cache stats, a 404 and a malformed body. After every 1,000 requests it prints the worker's RSS,
open descriptors, threads and TCP connections; flat columns mean nothing grows without bound.

    PYTHONPATH=src python bench/memory.py --requests 10000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from concurrency import ASK_PATH, citu_ask_path
from harness import closed_loop, machine_description, stack, start_citu, worker_process


def mixed(ask_path: str):
    def request_for(client: int, round_: int) -> tuple[str, str, dict | None]:
        user = f"mem{client % 20}"
        kind = (client + round_) % 9
        if kind == 0:
            if ask_path == ASK_PATH:
                body = {"question": f"你好{round_}", "user_id": user, "routing_mode": "chat_direct"}
            else:
                body = {"sql": f"SELECT {round_ % 50} AS n"}
            return "POST", ask_path, body
        return [
            None,
            ("GET", "/health", None),
            ("GET", f"/api/v0/user/{user}/conversations", None),
            ("GET", f"/api/v0/user/{user}/conversations/full?message_limit=5", None),
            ("GET", "/api/v0/training_data/stats", None),
            ("POST", "/api/v0/training_data/query", {"page": 1, "page_size": 10}),
            ("GET", "/api/v0/conversation_stats", None),
            ("GET", "/api/v0/no_such_route", None),
            ("POST", "/api/v0/training_data/query", {"page": "x"}),
        ][kind]

    return request_for


def tcp_summary(process) -> str:
    """Open TCP sockets of the worker by peer: clients, Redis, PostgreSQL, the LLM."""
    counts: dict[str, int] = {}
    for conn in process.net_connections(kind="tcp"):
        if not conn.raddr:
            name = "listen"
        else:
            name = PEERS.get(conn.raddr.port, "clients")
        if conn.status != "ESTABLISHED":
            name += f"/{conn.status}"
        counts[name] = counts.get(name, 0) + 1
    return " ".join(f"{k}:{v}" for k, v in sorted(counts.items()))


PEERS: dict[int, str] = {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--step", type=int, default=1000, help="requests between samples")
    parser.add_argument("--latency", type=float, default=0.05, help="fake LLM latency (s)")
    parser.add_argument(
        "--idle", type=float, default=10.0, help="seconds idle before the last sample"
    )
    args = parser.parse_args()
    print(f"machine: {machine_description()}", flush=True)

    with stack(args.latency) as (run, _ports):
        PEERS.update({_ports["redis"]: "redis", _ports["fake"]: "llm"})
        server, port = start_citu(run)
        worker = worker_process(server)
        ask_path = asyncio.run(citu_ask_path(port))
        request_for = mixed(ask_path)

        def sample(done: int, statuses: dict[int, int]) -> None:
            rss = worker.memory_info().rss / 2**20
            conns = tcp_summary(worker)
            print(f"| {done} | {rss:.1f} | {worker.num_fds()} | {worker.num_threads()} | "
                  f"{conns} | {' '.join(f'{k}:{v}' for k, v in sorted(statuses.items()))} |",
                  flush=True)  # fmt: skip

        print(f"\nworker pid {worker.pid}, ask route {ask_path}\n")
        print("| requests | RSS MiB | fds | threads | TCP sockets | statuses so far |")
        print("|---:|---:|---:|---:|---:|---|")
        sample(0, {})
        statuses: dict[int, int] = {}
        done = 0
        rounds = max(1, args.step // args.clients)
        while done < args.requests:
            result = asyncio.run(closed_loop(port, args.clients, rounds, request_for))
            for status in result.statuses:
                statuses[status] = statuses.get(status, 0) + 1
            done += len(result.statuses)
            sample(done, statuses)
        time.sleep(args.idle)  # keep-alive timers close what the clients left behind
        print(f"after {args.idle:.0f} s idle:")
        sample(done, statuses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
