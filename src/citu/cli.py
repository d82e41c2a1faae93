"""``citu`` command line: serve the API, stop its embedded servers, prepare databases, run the
data pipeline."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from citu.settings import Settings, redact_url

DESCRIPTION = "citu: a text-to-SQL service. Configuration comes from CITU_* environment variables."
EPILOG = "Run 'citu COMMAND --help' for a command's options."
# Signals that end `citu serve`: passed on to hypercorn, which shuts down gracefully.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("citu")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


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


def hypercorn_command(args: argparse.Namespace) -> list[str]:
    command = [sys.executable, "-m", "hypercorn"]
    if Path(args.config).is_file():
        command += ["-c", args.config]
    if args.bind:
        command += ["--bind", args.bind]
    if args.workers:
        command += ["--workers", str(args.workers)]
    command.append("citu.app:create_app()")
    return command


# How long hypercorn may take to stop after a stop signal before its processes are killed: its
# own graceful timeout (30 s in hypercorn.toml) plus the app's shutdown hooks.
STOP_GRACE_SECONDS = 45.0


def supervise(command: list[str], on_exit, stop_grace: float = STOP_GRACE_SECONDS) -> int:
    """Run hypercorn as a child, pass stop signals on to it, then call ``on_exit``.

    ``citu serve`` stays the parent (rather than exec'ing hypercorn) so that whatever ends the
    server also stops the embedded servers it started. A server that has not stopped
    ``stop_grace`` seconds after the first stop signal is killed with its workers, so Ctrl-C
    always ends the run and never leaves it hanging.
    """
    # Its own process group: Ctrl-C in a terminal signals only this process, which passes one
    # signal on. hypercorn's arbiter, signalled twice (the group's and ours), sometimes never
    # told its worker to stop.
    child = subprocess.Popen(command, process_group=0)
    deadline: list[float] = []

    def forward(signum: int, _frame) -> None:
        if not deadline:
            if child.poll() is None:
                child.send_signal(signum)
            deadline.append(time.monotonic() + stop_grace)

    previous = {number: signal.signal(number, forward) for number in STOP_SIGNALS}
    try:
        while True:
            try:
                return child.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                if deadline and time.monotonic() > deadline[0]:
                    print(f"citu: the server did not stop in {stop_grace:g} s; killing it")
                    _kill_tree(child.pid)
                    return child.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        on_exit()


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and everything it started (hypercorn's workers hold the port)."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def serve(args: argparse.Namespace) -> int:
    from citu.local_servers import start_for_serving

    settings = Settings()
    try:
        started = start_for_serving(settings)
    except Exception as error:  # noqa: BLE001 - a readable line instead of a traceback
        print(f"citu: the embedded PostgreSQL did not start: {error}", file=sys.stderr)
        return 1
    print(f"citu: database {redact_url(os.environ.get('CITU_DATABASE_URL'))}", flush=True)
    print(f"citu: redis {redact_url(os.environ.get('CITU_REDIS_URL', settings.redis_url))}")
    prepare_metrics_dir()
    command = hypercorn_command(args)
    print("citu: starting", " ".join(command), flush=True)

    def stop_started() -> None:
        stopped = started.stop()
        if stopped:
            print(f"citu: stopped the embedded {' and '.join(stopped)}", flush=True)

    return supervise(command, stop_started)


def stop(args: argparse.Namespace) -> int:
    from citu.local_servers import stop_all

    data_dir = Settings().data_dir
    stopped = stop_all(data_dir)
    if stopped:
        print(f"citu: stopped the embedded {' and '.join(stopped)} under {data_dir.resolve()}")
    else:
        print(f"citu: no embedded server running under {data_dir.resolve()}")
    return 0


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
    from citu.local_servers import servers_for_command

    with servers_for_command(Settings(), redis=False):
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
    from citu.local_servers import servers_for_command

    with servers_for_command(Settings()):
        return asyncio.run(_pipeline_run(args))


def db_reader_role(args: argparse.Namespace) -> int:
    """Print (or, with ``--admin-url``, apply) the SQL of a SELECT-only business role."""
    from urllib.parse import urlsplit

    from citu.db.reader_role import ReaderRoleSpec, render_script

    database = args.database
    if database is None and args.admin_url:
        database = urlsplit(args.admin_url).path.lstrip("/") or None
    if database is None:
        print("citu: give --database (or --admin-url naming the database)", file=sys.stderr)
        return 2
    password = os.environ.get(args.password_env) if args.password_env else None
    if args.password_env and password is None:
        print(f"citu: environment variable {args.password_env} is not set", file=sys.stderr)
        return 2
    tables = [t.strip() for t in args.tables.split(",") if t.strip()] if args.tables else None
    try:
        spec = ReaderRoleSpec(
            role=args.role,
            database=database,
            schemas=[s.strip() for s in args.schemas.split(",") if s.strip()],
            tables=tables,
            password=password,
            default_privileges_for=args.default_privileges_for or (),
            temp_file_limit=None if args.no_temp_file_limit else args.temp_file_limit,
        )
        script = render_script(spec)
    except ValueError as error:
        print(f"citu: {error}", file=sys.stderr)
        return 2
    if not args.admin_url:
        print(script, end="")
        return 0
    return asyncio.run(_apply_reader_role(args.admin_url, spec))


async def _apply_reader_role(admin_url: str, spec) -> int:
    import asyncpg

    from citu.db.reader_role import apply_reader_role, with_user
    from citu.db.role_check import inspect_business_role

    try:
        conn = await asyncpg.connect(admin_url)
    except (OSError, asyncpg.PostgresError) as error:
        print(f"citu: cannot connect to {redact_url(admin_url)}: {error}", file=sys.stderr)
        return 1
    try:
        await apply_reader_role(conn, spec)
    except asyncpg.PostgresError as error:
        print(f"citu: applying the role failed: {error}", file=sys.stderr)
        return 1
    finally:
        await conn.close()
    print(f"citu: role {spec.role} ready in database {spec.database}")
    # Check it the way the service will; a password-less role may not log in over TCP.
    try:
        reader = await asyncpg.connect(with_user(admin_url, spec.role, spec.password))
    except (OSError, asyncpg.PostgresError) as error:
        print(f"citu: could not log in as {spec.role} to check it ({type(error).__name__})")
        return 0
    try:
        report = await inspect_business_role(reader)
    finally:
        await reader.close()
    for finding in report.findings:
        print(f"citu: still privileged: {finding.code}: {finding.detail}", file=sys.stderr)
    return 0 if report.ok else 1


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
    parser = argparse.ArgumentParser(prog="citu", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"citu {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve_cmd = commands.add_parser(
        "serve",
        help="run the API under hypercorn (starts the embedded servers when needed)",
        description="Run the API under hypercorn. The embedded PostgreSQL (without"
        " CITU_DATABASE_URL) and Redis (without CITU_REDIS_URL and no Redis on 127.0.0.1:6379)"
        " are started first under CITU_DATA_DIR, and stopped again when the server stops.",
    )
    serve_cmd.add_argument(
        "--config", default="hypercorn.toml", metavar="FILE", help="hypercorn config file"
    )
    serve_cmd.add_argument("--bind", metavar="HOST:PORT", help="listen here, e.g. 0.0.0.0:8084")
    serve_cmd.add_argument("--workers", type=int, metavar="N", help="worker processes")
    serve_cmd.set_defaults(func=serve)

    stop_cmd = commands.add_parser(
        "stop",
        help="stop the embedded PostgreSQL and Redis left running under CITU_DATA_DIR",
        description="Stop the embedded PostgreSQL and Redis under CITU_DATA_DIR (for example"
        " after the server was killed). Their data is kept.",
    )
    stop_cmd.set_defaults(func=stop)

    init_cmd = commands.add_parser(
        "init-db",
        help="create citu's schema (and the demo database)",
        description="Create citu's schema; with --demo also the demo business database.",
    )
    init_cmd.add_argument("--demo", action="store_true", help="also create the demo business DB")
    init_cmd.set_defaults(func=init_db)

    db_cmd = commands.add_parser("db", help="business database helpers")
    db_commands = db_cmd.add_subparsers(dest="db_command", required=True)
    reader_cmd = db_commands.add_parser(
        "reader-role",
        help="print (or apply with --admin-url) SQL creating a SELECT-only role for citu",
        description="Idempotent SQL: a LOGIN role with SELECT on the chosen tables, no write, "
        "no CREATE, read-only and time-limited sessions by default. Run it as a superuser.",
    )
    reader_cmd.add_argument("--role", default="citu_reader", help="role name (citu_reader)")
    reader_cmd.add_argument("--database", help="database name (default: from --admin-url)")
    reader_cmd.add_argument("--schemas", default="public", help="comma-separated (public)")
    reader_cmd.add_argument(
        "--tables", help="comma-separated tables (schema.table); default: all in the schemas"
    )
    reader_cmd.add_argument(
        "--password-env", help="name of an environment variable holding the role's password"
    )
    reader_cmd.add_argument(
        "--default-privileges-for",
        action="append",
        metavar="OWNER",
        help="also grant SELECT on tables OWNER creates later (repeatable)",
    )
    reader_cmd.add_argument("--temp-file-limit", default="1GB", help="per-session (1GB)")
    reader_cmd.add_argument("--no-temp-file-limit", action="store_true")
    reader_cmd.add_argument("--admin-url", help="apply with this (superuser) connection")
    reader_cmd.set_defaults(func=db_reader_role)

    pipeline_cmd = commands.add_parser(
        "pipeline",
        help="run the data pipeline without the server",
        description="Run the data pipeline without the server.",
    )
    pipeline_commands = pipeline_cmd.add_subparsers(
        dest="pipeline_command", required=True, metavar="COMMAND"
    )
    run_cmd = pipeline_commands.add_parser(
        "run",
        help="schema → DDL/docs → question/SQL pairs → validation → training",
        description="Generate DDL and documentation for tables, question/SQL pairs, validate"
        " them and load them as training data; prints the task summary as JSON.",
    )
    run_cmd.add_argument(
        "--tables", metavar="NAMES", help="comma-separated table names (schema.table or table)"
    )
    run_cmd.add_argument(
        "--step",
        metavar="STEP",
        help="run only this step: ddl_generation, qa_generation, sql_validation, training_load",
    )
    run_cmd.add_argument(
        "--task-id", metavar="ID", help="re-run an existing task instead of creating one"
    )
    run_cmd.add_argument("--task-name", metavar="NAME", help="name of the new task")
    run_cmd.add_argument(
        "--business-context", metavar="TEXT", help="what the database is about (for the model)"
    )
    run_cmd.add_argument(
        "--db-connection", metavar="URL", help="business database URL (default: configured)"
    )
    run_cmd.add_argument("--no-validation", action="store_true", help="skip sql_validation")
    run_cmd.add_argument("--no-repair", action="store_true", help="no LLM repair of bad SQL")
    run_cmd.add_argument(
        "--backup-vector-tables", action="store_true", help="back up the vector tables first"
    )
    run_cmd.add_argument(
        "--truncate-vector-tables",
        action="store_true",
        help="back up, then empty the vector tables before loading",
    )
    run_cmd.add_argument(
        "--skip-training",
        action="store_true",
        help="load no training data (the vector table flags still apply)",
    )
    # An earlier spelling of --skip-training, kept working but not shown.
    run_cmd.add_argument(
        "--no-training", action="store_true", dest="skip_training", help=argparse.SUPPRESS
    )
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
    from citu.eval.cli import add_eval_parser

    add_eval_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
