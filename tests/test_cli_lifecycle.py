"""``citu serve`` / ``citu stop`` / ``citu --version`` as real subprocesses: the embedded
PostgreSQL and Redis are started once before hypercorn, and stopped when the server stops."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from citu.cli import build_parser
from citu.db.embedded import embedded_server_running, start_embedded_server, stop_embedded_server
from citu.embedded_redis import running_url, start_embedded_redis, stop_embedded_redis
from fakes.served import free_port

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """One data directory for the module: PostgreSQL's initdb runs once (short path: sockets)."""
    root = Path(tempfile.mkdtemp(prefix="citu-s-"))
    yield root
    stop_embedded_redis(root)
    stop_embedded_server(root)
    shutil.rmtree(root, ignore_errors=True)


def serve_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CITU_", "PROMETHEUS_"))}
    env.update(
        PYTHONPATH=str(SRC),
        CITU_DATA_DIR=str(data_dir),
        CITU_LOG_DIR=str(data_dir / "logs"),
        # The machine may run a Redis on the default address: embed regardless.
        CITU_EMBEDDED_REDIS="always",
    )
    return env


async def start_serve(data_dir: Path, port: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "citu.cli", "serve",
        "--config", str(data_dir / "no-such.toml"), "--bind", f"127.0.0.1:{port}",
        env=serve_env(data_dir),
        cwd=data_dir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal gives a foreground job
    )  # fmt: skip


async def wait_healthy(port: int, proc: asyncio.subprocess.Process) -> dict:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        async with asyncio.timeout(90):
            while True:
                if proc.returncode is not None:
                    raise RuntimeError(f"citu serve exited with {proc.returncode}")
                try:
                    response = await client.get("/health")
                    body = response.json()
                    if body["services"]["database"] and body["services"]["redis"]:
                        return body
                except (httpx.TransportError, ValueError, KeyError):
                    pass
                await asyncio.sleep(0.2)


def servers_of(data_dir: Path) -> list[psutil.Process]:
    """postgres and redis-server processes whose command line names ``data_dir``."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] in ("postgres", "redis-server"):
            if str(data_dir.resolve()) in " ".join(process.info["cmdline"] or []):
                found.append(process)
    return found


async def finish(proc: asyncio.subprocess.Process) -> str:
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return output.decode(errors="replace")


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
async def test_stopping_serve_stops_the_embedded_servers_it_started(data_dir: Path, how: str):
    port = free_port()
    proc = await start_serve(data_dir, port)
    try:
        await wait_healthy(port, proc)
        assert embedded_server_running(data_dir) and running_url(data_dir) is not None
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)  # the terminal signals the whole foreground group
        else:
            proc.send_signal(signal.SIGTERM)  # a service manager signals the main process only
        output = await finish(proc)
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, output
    assert "stopped the embedded Redis and PostgreSQL" in output
    assert not embedded_server_running(data_dir) and running_url(data_dir) is None
    assert servers_of(data_dir) == []


async def test_serve_reuses_running_servers_and_leaves_them_running(data_dir: Path):
    await asyncio.to_thread(start_embedded_server, data_dir)
    await asyncio.to_thread(start_embedded_redis, data_dir)
    port = free_port()
    proc = await start_serve(data_dir, port)
    try:
        await wait_healthy(port, proc)
        proc.send_signal(signal.SIGTERM)
        output = await finish(proc)
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, output
    assert "stopped the embedded" not in output  # another run started them: not ours to stop
    assert embedded_server_running(data_dir) and running_url(data_dir) is not None


async def test_citu_stop_stops_servers_left_behind(data_dir: Path):
    await asyncio.to_thread(start_embedded_server, data_dir)
    await asyncio.to_thread(start_embedded_redis, data_dir)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "citu.cli", "stop",
        env=serve_env(data_dir), cwd=data_dir, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output = (await proc.communicate())[0].decode()
    assert proc.returncode == 0 and "stopped the embedded Redis and PostgreSQL" in output
    assert servers_of(data_dir) == []
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "citu.cli", "stop",
        env=serve_env(data_dir), cwd=data_dir, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output = (await proc.communicate())[0].decode()
    assert proc.returncode == 0 and "no embedded server running" in output


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip().startswith("citu 0.")


def test_help_lists_every_command_once(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and "{" not in text  # no raw docstring markup or choice braces
    for command in ("serve", "stop", "init-db", "pipeline"):
        assert f"\n    {command}" in text


def test_pipeline_run_has_one_flag_for_skipping_training(capsys):
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["pipeline", "run", "--help"])
    text = capsys.readouterr().out
    assert "--skip-training" in text and "--no-training" not in text
    for flag in ("--skip-training", "--no-training"):  # the old spelling still works
        args = parser.parse_args(["pipeline", "run", "--tables", "t", flag])
        assert args.skip_training is True
    assert parser.parse_args(["pipeline", "run", "--tables", "t"]).skip_training is False


async def test_one_shot_commands_leave_no_server_running(data_dir: Path):
    await asyncio.to_thread(stop_embedded_redis, data_dir)
    await asyncio.to_thread(stop_embedded_server, data_dir)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "citu.cli", "init-db",
        env=serve_env(data_dir), cwd=data_dir, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output = (await proc.communicate())[0].decode()
    assert proc.returncode == 0 and "applied" in output, output
    assert servers_of(data_dir) == []


async def test_a_server_that_hangs_on_stop_is_killed_after_the_grace(tmp_path: Path):
    """A hypercorn whose worker never finishes its shutdown must not keep Ctrl-C waiting
    forever: after the grace the server and its children are killed, then the embedded
    servers are stopped (``on_exit``)."""
    marker = tmp_path / "on_exit"
    # The "server" ignores SIGINT and starts a child that ignores it too, like a hung worker.
    hung = (
        "import signal, subprocess, sys, time;"
        "signal.signal(signal.SIGINT, signal.SIG_IGN);"
        "subprocess.Popen([sys.executable, '-c',"
        " 'import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(120)']);"
        "time.sleep(120)"
    )
    script = (
        "import sys, pathlib\n"
        "from citu.cli import supervise\n"
        f"code = supervise([sys.executable, '-c', {hung!r}],"
        f" lambda: pathlib.Path({str(marker)!r}).write_text('done'), stop_grace=2)\n"
        "sys.exit(code)\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE, start_new_session=True
    )
    try:
        await asyncio.sleep(1.5)  # the child and its grandchild are running
        os.killpg(proc.pid, signal.SIGINT)
        output, _ = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert b"did not stop in 2 s; killing it" in output
    assert marker.read_text() == "done"
    await asyncio.sleep(0.2)
    leftovers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if "time.sleep(120)" in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []
