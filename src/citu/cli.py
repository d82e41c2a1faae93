"""``citu`` command line: serve the API, prepare databases, run the data pipeline."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from citu.settings import Settings, redact_url


def _prepare_embedded(settings: Settings) -> None:
    """Start the embedded PostgreSQL once, before hypercorn forks its workers."""
    if settings.database_url:
        return
    from citu.db.embedded import start_embedded_server, with_database

    admin_url = start_embedded_server(settings.data_dir)
    os.environ["CITU_DATABASE_URL"] = with_database(admin_url, "citu")


def prepare_metrics_dir() -> None:
    """Prometheus multiprocess mode: an existing, empty directory before the workers start
    (values left by an earlier run would be added to this run's)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def serve(args: argparse.Namespace) -> int:
    settings = Settings()
    _prepare_embedded(settings)
    prepare_metrics_dir()
    command = [sys.executable, "-m", "hypercorn"]
    if Path(args.config).is_file():
        command += ["-c", args.config]
    if args.bind:
        command += ["--bind", args.bind]
    if args.workers:
        command += ["--workers", str(args.workers)]
    command.append("citu.app:create_app()")
    print("citu: starting", " ".join(command), flush=True)
    os.execvp(command[0], command)
    return 0  # not reached


async def _init_db(with_demo: bool) -> None:
    import asyncpg

    from citu.db.schema import apply_schema, ensure_demo_database
    from citu.services import resolve_database_urls

    settings = Settings()
    database_url, business_url = await resolve_database_urls(settings)
    conn = await asyncpg.connect(database_url)
    try:
        applied = await apply_schema(conn)
        print(f"citu database {redact_url(database_url)}: applied {', '.join(applied)}")
    finally:
        await conn.close()
    if with_demo:
        target = business_url if not settings.business_db_url else settings.business_db_url
        counts = await ensure_demo_database(target)
        print(f"demo business database {redact_url(target)}: {counts}")
        await _train_demo(settings, target)


async def _train_demo(settings: Settings, demo_url: str) -> None:
    """The demo's DDL, documentation and curated pairs into the vector store (idempotent)."""
    import asyncpg

    from citu.db.demo_training import train_demo
    from citu.training.schema_training import offline_training

    if not settings.embedding_configured:
        print(
            "demo training data not loaded: it needs an embedding endpoint"
            " (set CITU_EMBEDDING_BASE_URL; no chat model is needed)"
        )
        return
    async with offline_training(settings) as (training, _):
        business = await asyncpg.connect(demo_url)
        try:
            loaded = await train_demo(training, business)
        finally:
            await business.close()
    print(f"demo training data: {loaded}")


def init_db(args: argparse.Namespace) -> int:
    asyncio.run(_init_db(args.demo))
    return 0


async def _pipeline_run(args: argparse.Namespace) -> int:
    import json

    from citu.logging.setup import configure_logging
    from citu.pipeline.engine import RunOptions
    from citu.services import Services

    settings = Settings()
    configure_logging(settings)
    services = Services(settings)
    await services.start()
    try:
        pipeline = services.components["pipeline"]
        task_id = args.task_id
        if task_id:
            await pipeline.require_task(task_id)
        else:
            body = {
                "task_name": args.task_name,
                "business_context": args.business_context,
                "db_connection": args.db_connection,
                "enable_sql_validation": not args.no_validation,
                "enable_llm_repair": not args.no_repair,
                "enable_training_data_load": not args.no_training,
            }
            body = {key: value for key, value in body.items() if value is not None}
            created = await pipeline.create_task(body, created_type="manual", prefix="manual")
            task_id = created["task_id"]
        if args.tables:
            await pipeline.create_table_list(task_id, args.tables)
        options = RunOptions(
            mode="step" if args.step else "complete",
            step=args.step,
            backup_vector_tables=args.backup_vector_tables,
            truncate_vector_tables=args.truncate_vector_tables,
            skip_training=args.skip_training,
        )
        await (await pipeline.runner.execute(task_id, options))
        status = await pipeline.task_status(task_id)
    finally:
        await services.close()
    summary = {
        "task_id": task_id,
        "status": status["status"],
        "step_status": status["step_status"],
        "error_message": status["error_message"],
        "directory": pipeline.paths.output_directory(task_id),
    }
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0 if status["status"] in ("completed", "partial_completed") else 1


def pipeline_run(args: argparse.Namespace) -> int:
    from citu.pipeline.tasks import STEP_NAMES

    if args.step and args.step not in STEP_NAMES:
        print(f"citu: unknown step {args.step!r}; one of {', '.join(STEP_NAMES)}", file=sys.stderr)
        return 2
    if not args.tables and not args.task_id:
        print("citu: give --tables (or --task-id of a task that has a table list)", file=sys.stderr)
        return 2
    return asyncio.run(_pipeline_run(args))


async def _train_schema(tables: list[str] | None) -> int:
    import asyncpg

    from citu.training.schema_training import UnknownTables, offline_training
    from citu.training.schema_training import train_schema as train

    settings = Settings()
    if not settings.embedding_configured:
        print(
            "citu train-schema needs an embedding endpoint: set CITU_EMBEDDING_BASE_URL"
            " (and CITU_EMBEDDING_API_KEY, CITU_EMBEDDING_MODEL, CITU_EMBEDDING_DIMENSION)."
            " Every stored text is kept with its vector; no chat model is used.",
            file=sys.stderr,
        )
        return 2
    async with offline_training(settings) as (training, business_url):
        business = await asyncpg.connect(business_url)
        try:
            result = await train(training, business, tables)
        except UnknownTables as error:
            print(f"citu: {error}", file=sys.stderr)
            return 2
        finally:
            await business.close()
    print(
        f"business database {redact_url(business_url)}: {result.tables} tables;"
        f" stored {result.ddl_new} new DDL and {result.documentation_new} new documentation texts"
    )
    return 0


def train_schema(args: argparse.Namespace) -> int:
    tables = [t for t in (args.tables or "").split(",") if t.strip()] or None
    return asyncio.run(_train_schema(tables))


def fake_llm(args: argparse.Namespace) -> int:
    """The tests' fake OpenAI server; it lives in the repository's tests/fakes."""
    tests_dir = Path(__file__).resolve().parents[2] / "tests"
    if not (tests_dir / "fakes" / "openai_fake.py").is_file():
        print("citu fake-llm runs from a source checkout (tests/fakes is missing)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(tests_dir))
    from fakes.openai_fake import main as fake_main

    argv = ["--host", args.host, "--port", str(args.port), "--latency", str(args.latency)]
    if args.demo:
        argv.append("--demo")
    if args.demo_overrides:
        argv += ["--demo-overrides", args.demo_overrides]
    fake_main(argv)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citu", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="run the API under hypercorn")
    serve_cmd.add_argument("--config", default="hypercorn.toml", help="hypercorn config file")
    serve_cmd.add_argument("--bind", help="override the bind address, e.g. 0.0.0.0:8084")
    serve_cmd.add_argument("--workers", type=int, help="override the worker count")
    serve_cmd.set_defaults(func=serve)

    init_cmd = commands.add_parser("init-db", help="create citu's schema (and the demo database)")
    init_cmd.add_argument("--demo", action="store_true", help="also create the demo business DB")
    init_cmd.set_defaults(func=init_db)

    pipeline_cmd = commands.add_parser("pipeline", help="data pipeline without the server")
    pipeline_commands = pipeline_cmd.add_subparsers(dest="pipeline_command", required=True)
    run_cmd = pipeline_commands.add_parser(
        "run", help="schema → DDL/docs → question/SQL pairs → validation → training"
    )
    run_cmd.add_argument("--tables", help="comma-separated table names (schema.table or table)")
    run_cmd.add_argument("--step", help="run only this step (ddl_generation, qa_generation, ...)")
    run_cmd.add_argument("--task-id", help="re-run an existing task instead of creating one")
    run_cmd.add_argument("--task-name")
    run_cmd.add_argument("--business-context")
    run_cmd.add_argument("--db-connection", help="business database URL (default: configured)")
    run_cmd.add_argument("--no-validation", action="store_true", help="skip sql_validation")
    run_cmd.add_argument("--no-repair", action="store_true", help="no LLM repair of bad SQL")
    run_cmd.add_argument("--no-training", action="store_true", help="skip training_load")
    run_cmd.add_argument("--backup-vector-tables", action="store_true")
    run_cmd.add_argument("--truncate-vector-tables", action="store_true")
    run_cmd.add_argument("--skip-training", action="store_true", help="vector backup only")
    run_cmd.set_defaults(func=pipeline_run)
    schema_cmd = commands.add_parser(
        "train-schema",
        help="load the business database's DDL and documentation into the vector store",
        description="Reads tables, columns and comments from the business database's catalog"
        " and stores one DDL and one documentation text per table. No chat model is used; the"
        " embedding endpoint (CITU_EMBEDDING_BASE_URL) is required. Unchanged tables are"
        " skipped.",
    )
    schema_cmd.add_argument("--tables", help="comma-separated table names (default: all)")
    schema_cmd.set_defaults(func=train_schema)

    fake_cmd = commands.add_parser(
        "fake-llm",
        help="run the fake OpenAI-compatible server (a scripted stand-in, source checkout only)",
    )
    fake_cmd.add_argument("--demo", action="store_true", help="answer the curated demo questions")
    fake_cmd.add_argument("--demo-overrides", metavar="FILE", help="JSON question -> SQL map")
    fake_cmd.add_argument("--host", default="127.0.0.1")
    fake_cmd.add_argument("--port", type=int, default=8765)
    fake_cmd.add_argument("--latency", type=float, default=0.0, help="seconds added per reply")
    fake_cmd.set_defaults(func=fake_llm)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
