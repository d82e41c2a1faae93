"""Throughput of ``citu eval run``: 200 questions, the fake model at 0.5 s per call, 20 at once.

The demo fake (tests/fakes/demo_llm.py) answers every question with its gold SQL, after a fixed
latency per chat and embedding call. citu runs in this process on an embedded PostgreSQL (the
demo database) and a private redis-server, as ``citu eval run`` runs it. The wall time of the
run is compared with the ideal: every fake call the run made, each taking the latency, spread
perfectly over the concurrency. Start-up (servers, demo data, training) is not measured.

Usage (from the repository root)::

    PYTHONPATH=src:tests:bench python bench/eval_throughput.py --questions 200 --latency 0.5 \
        --concurrency 20 --target sql

Exit status 1 when the run takes longer than --max-seconds (default 30).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "bench")]

from harness import Stack, free_port, machine_description  # noqa: E402

from citu.eval.clients import TARGETS, InProcessClient  # noqa: E402
from citu.eval.golden import GoldenQuestion, load_set  # noqa: E402
from citu.eval.runner import run_eval  # noqa: E402
from fakes.demo_llm import install_demo_mode  # noqa: E402
from fakes.openai_fake import FakeOpenAI  # noqa: E402

STARTUP_SECONDS = 300.0


def bench_questions(count: int) -> list[GoldenQuestion]:
    """``count`` questions cycled from the demo set (follow-ups left out: each stands alone)."""
    pool = [q for q in load_set("demo") if q.follow_up_of is None]
    return [
        pool[i % len(pool)].model_copy(update={"id": f"b{i:04d}-{pool[i % len(pool)].id}"})
        for i in range(count)
    ]


async def measure(args: argparse.Namespace, settings, fake: FakeOpenAI) -> dict:
    from citu.app import create_app

    questions = bench_questions(args.questions)
    app = create_app(settings)
    async with (
        app.test_app_class(app, startup_timeout=STARTUP_SECONDS),
        InProcessClient(app) as client,
    ):
        fake.latency = args.latency  # start-up (demo training) ran without it
        chat_before, embed_before = len(fake.requests), len(fake.embedding_requests)
        started, cpu_started = time.perf_counter(), time.process_time()
        report = await run_eval(
            questions, target=args.target, client=client, concurrency=args.concurrency
        )
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    calls = len(fake.requests) - chat_before + len(fake.embedding_requests) - embed_before
    ideal = calls * args.latency / args.concurrency
    return {"report": report, "wall": wall, "cpu": cpu, "calls": calls, "ideal": ideal}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per fake call")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--target", choices=list(TARGETS), default="sql")
    parser.add_argument("--max-seconds", type=float, default=30.0)
    return parser.parse_args()


def bench_settings(workdir: Path, admin_url: str, redis_port: int, fake: FakeOpenAI):
    from citu.db.embedded import with_database
    from citu.settings import Settings

    return Settings(
        _env_file=None,
        database_url=with_database(admin_url, "citu"),
        redis_url=f"redis://127.0.0.1:{redis_port}/1",
        llm_base_url=fake.base_url,
        llm_api_key="bench",
        llm_max_retries=0,
        embedding_base_url=fake.base_url,
        embedding_api_key="bench",
        data_dir=workdir / "data",
        log_dir=workdir / "logs",
        log_level="WARNING",
    )


def print_results(args: argparse.Namespace, result: dict) -> None:
    summary = result["report"]["summary"]
    print(machine_description())
    print(
        f"{args.questions} questions, target {args.target}, fake latency {args.latency:g} s,"
        f" concurrency {args.concurrency}"
    )
    print(f"accuracy {summary['accuracy']:.2f} % ({summary['correct']}/{summary['asked']})")
    print(
        f"wall {result['wall']:.1f} s; {result['calls']} fake calls -> ideal"
        f" {result['ideal']:.1f} s; ratio {result['wall'] / result['ideal']:.2f}"
    )
    print(f"CPU time of this process (citu, harness and fake) {result['cpu']:.1f} s")
    print(f"latency p50 {summary['latency_p50_ms']} ms, p95 {summary['latency_p95_ms']} ms")
    for q in result["report"]["questions"]:
        if not q["correct"]:  # the fake answers every question right: this is a harness defect
            why = q["reason"] or q["error"] or q["gold"]["error"] or ""
            print(f"not correct: {q['id']} {q['status']} {why}")


def main() -> int:
    args = parse_args()
    from citu.db.embedded import start_embedded_server
    from citu.embedded_redis import redis_server_binary

    workdir = Path(tempfile.mkdtemp(prefix="citu-bench-eval-"))
    run = Stack(workdir)
    fake = FakeOpenAI(keep_alive=True)
    try:
        run.pg_root = workdir / "data" / "postgres"
        admin_url = start_embedded_server(workdir / "data")
        redis_port = free_port()
        redis = redis_server_binary() or "redis-server"
        run.spawn(
            [redis, "--port", str(redis_port), "--save", "", "--appendonly", "no"], port=redis_port
        )
        fake.start()
        install_demo_mode(fake, {q.question: q.sql for q in load_set("demo")})
        settings = bench_settings(workdir, admin_url, redis_port, fake)
        result = asyncio.run(measure(args, settings, fake))
    finally:
        fake.stop()
        run.close()
    print_results(args, result)
    if result["wall"] > args.max_seconds:
        print(f"FAIL: slower than {args.max_seconds:g} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
