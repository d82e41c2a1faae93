"""``citu train-schema``: the business database's DDL and documentation into the vector store,
without a chat model."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import asyncpg
import httpx
import pytest

from citu.db.demo import DEMO_TABLES
from citu.training.schema_training import UnknownTables, train_schema


async def test_tables_are_stored_once(services, fake_llm):
    training = services.training
    first = await train_schema(training, services.business_db, ["bss_company", "bss_branch"])
    assert (first.tables, first.ddl_new, first.documentation_new) == (2, 2, 2)
    embedded = len(fake_llm.embedding_requests)

    again = await train_schema(training, services.business_db, ["bss_company", "bss_branch"])

    assert (again.tables, again.ddl_new, again.documentation_new) == (2, 0, 0)
    assert len(fake_llm.embedding_requests) == embedded
    assert fake_llm.requests == []  # no chat model involved
    records, total = await training.store.query(
        kind="ddl", keyword=None, sort_by="id", descending=False, limit=10, offset=0
    )
    assert total == 2 and all("CREATE TABLE bss_" in r["content"] for r in records)


async def test_every_readable_table_by_default(services):
    result = await train_schema(services.training, services.business_db)
    # Other tests of the session may have added tables to the shared business database.
    assert result.tables >= len(DEMO_TABLES) and result.ddl_new == result.tables
    ddl = "\n".join(
        r["content"]
        for r in (
            await services.training.store.query(
                kind="ddl", keyword=None, sort_by="id", descending=False, limit=1000, offset=0
            )
        )[0]
    )
    assert all(f"CREATE TABLE {t} (" in ddl for t in DEMO_TABLES)


async def test_unknown_tables_are_named(services):
    with pytest.raises(UnknownTables) as caught:
        await train_schema(services.training, services.business_db, ["bss_company", "no_such"])
    assert caught.value.names == ["no_such"]
    assert (await services.training.counts())["ddl"] == 0


def cli_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITU_")}
    env.update({"CITU_DATA_DIR": str(tmp_path / "data"), "CITU_LOG_DIR": str(tmp_path / "logs")})
    env.update(values)
    return env


async def run_cli(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "citu.cli",
        *args,
        cwd=tmp_path,  # no .env file here
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


async def test_cli_loads_the_named_tables(tmp_path, citu_db_url, business_db_url, fake_llm):
    env = cli_env(
        tmp_path,
        CITU_DATABASE_URL=citu_db_url,
        CITU_BUSINESS_DB_URL=business_db_url,
        CITU_EMBEDDING_BASE_URL=fake_llm.base_url,
        CITU_EMBEDDING_API_KEY="k",
    )
    code, out, err = await run_cli(tmp_path, env, "train-schema", "--tables", "bss_company")
    assert code == 0, err
    assert "1 tables; stored 1 new DDL and 1 new documentation texts" in out
    conn = await asyncpg.connect(citu_db_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM langchain_pg_embedding") == 2
    finally:
        await conn.close()

    code, out, err = await run_cli(tmp_path, env, "train-schema", "--tables", "nope")
    assert code == 2 and "nope" in err


async def test_cli_says_the_embedding_endpoint_is_needed(tmp_path, citu_db_url, business_db_url):
    env = cli_env(tmp_path, CITU_DATABASE_URL=citu_db_url, CITU_BUSINESS_DB_URL=business_db_url)
    code, _, err = await run_cli(tmp_path, env, "train-schema")
    assert code == 2
    assert "CITU_EMBEDDING_BASE_URL" in err and "no chat model" in err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_the_demo_fake_runs_from_the_command_line(tmp_path):
    """``citu fake-llm --demo`` needs neither pytest's conftest nor a running test session."""
    from citu.db.demo_training import curated_pairs

    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "citu.cli",
        "fake-llm",
        "--demo",
        "--port",
        str(port),
        cwd=tmp_path,
        env=cli_env(tmp_path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        pair = curated_pairs()[0]
        body = {
            "model": "fake",
            "messages": [
                {"role": "system", "content": "...\n===Response Guidelines\n..."},
                {"role": "user", "content": pair.question},
            ],
        }
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/v1") as client:
            for _ in range(200):
                try:
                    response = await client.post("/chat/completions", json=body)
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("the fake did not start")
            assert response.json()["choices"][0]["message"]["content"] == pair.sql
            embedded = await client.post("/embeddings", json={"input": ["a"], "model": "e"})
            assert len(embedded.json()["data"][0]["embedding"]) == 1024
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
