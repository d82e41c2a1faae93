"""The embedded servers as one unit: what ``citu serve`` starts before hypercorn's workers, stops
when hypercorn exits, and what ``citu stop`` stops when a run left them behind.

PostgreSQL is embedded when ``CITU_DATABASE_URL`` is not set; Redis when ``CITU_REDIS_URL`` is
not set and nothing answers on the default address. Both live under ``CITU_DATA_DIR``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from citu.db.embedded import (
    embedded_server_running,
    start_embedded_server,
    stop_embedded_server,
    with_database,
)
from citu.embedded_redis import resolve_redis_url, stop_embedded_redis
from citu.settings import Settings

log = logging.getLogger("citu.local_servers")


def configured_redis_url(settings: Settings) -> str | None:
    """``CITU_REDIS_URL`` (environment, ``.env`` or an explicit argument), None when defaulted."""
    return settings.redis_url if "redis_url" in settings.model_fields_set else None


def redis_url_for(settings: Settings) -> str:
    """The Redis URL a process should use; may start the embedded server. Blocking."""
    url, _ = resolve_redis_url(
        settings.data_dir,
        configured_redis_url(settings),
        embed=settings.embedded_redis,
        default=settings.redis_url,
    )
    return url


@dataclass
class StartedServers:
    """The embedded servers one ``citu serve`` started (not the ones it found running)."""

    data_dir: Path
    postgres: bool = False
    redis: bool = False

    def stop(self) -> list[str]:
        stopped = []
        if self.redis and stop_embedded_redis(self.data_dir):
            stopped.append("Redis")
        if self.postgres and stop_embedded_server(self.data_dir):
            stopped.append("PostgreSQL")
        return stopped


def start_for_serving(settings: Settings, *, redis: bool = True) -> StartedServers:
    """Start (or reuse) the embedded servers once and pass their URLs on in the environment,
    so every hypercorn worker connects to the same servers. Blocking."""
    started = StartedServers(settings.data_dir)
    if not settings.database_url:
        running_before = embedded_server_running(settings.data_dir)
        admin_url = start_embedded_server(settings.data_dir)
        os.environ["CITU_DATABASE_URL"] = with_database(admin_url, "citu")
        started.postgres = not running_before
    configured = configured_redis_url(settings)
    if redis and configured is None:
        url, started.redis = resolve_redis_url(
            settings.data_dir, None, embed=settings.embedded_redis, default=settings.redis_url
        )
        os.environ["CITU_REDIS_URL"] = url
    return started


@contextlib.contextmanager
def servers_for_command(settings: Settings, *, redis: bool = True) -> Iterator[StartedServers]:
    """For a one-shot command (``init-db``, ``pipeline run``): the embedded servers it needs,
    stopped afterwards when it started them, so it leaves nothing running that a later
    ``citu serve`` would mistake for someone else's."""
    started = start_for_serving(settings, redis=redis)
    try:
        yield started
    finally:
        started.stop()


def stop_all(data_dir: Path) -> list[str]:
    """Stop every embedded server under ``data_dir``; the names of those that were running."""
    stopped = []
    if stop_embedded_redis(data_dir):
        stopped.append("Redis")
    if stop_embedded_server(data_dir):
        stopped.append("PostgreSQL")
    return stopped
