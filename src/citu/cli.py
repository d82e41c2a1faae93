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


def init_db(args: argparse.Namespace) -> int:
    asyncio.run(_init_db(args.demo))
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
