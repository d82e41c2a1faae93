"""``citu serve`` and ``citu stop``: hypercorn under a supervising parent, and the embedded servers."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from citu.settings import Settings, redact_url

# Signals that end `citu serve`: passed on to hypercorn, which shuts down gracefully.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's sub-commands to ``citu``'s parser."""
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
