"""The ``citu`` command line: preparation steps, and init-db as a real subprocess."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import asyncpg

from citu.cli import prepare_metrics_dir
from citu.db.embedded import with_database


async def test_init_db_creates_schema_and_demo(embedded_pg_url, tmp_path):
    name = f"citu_cli_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "CITU_DATABASE_URL": with_database(embedded_pg_url, name),
        "CITU_LOG_DIR": str(tmp_path / "logs"),
    }
    env.pop("CITU_BUSINESS_DB_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "citu.cli",
        "init-db",
        "--demo",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    try:
        assert process.returncode == 0, output.decode()
        assert "000_extensions.sql" in output.decode() and "bss_service_area" in output.decode()
        conn = await asyncpg.connect(with_database(embedded_pg_url, "citu_demo"))
        try:
            assert await conn.fetchval("SELECT count(*) FROM bss_service_area") > 0
        finally:
            await conn.close()
    finally:
        admin = await asyncpg.connect(embedded_pg_url)
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute("DROP DATABASE IF EXISTS citu_demo WITH (FORCE)")
        await admin.close()


def test_serve_prepares_an_empty_prometheus_directory(tmp_path, monkeypatch):
    shared = tmp_path / "prom"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    prepare_metrics_dir()
    assert shared.is_dir()
    (shared / "counter_123.db").write_bytes(b"stale")
    (shared / "keep.txt").write_text("not ours")
    prepare_metrics_dir()
    assert sorted(p.name for p in shared.iterdir()) == ["keep.txt"]


def test_no_prometheus_directory_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    prepare_metrics_dir()
    assert list(tmp_path.iterdir()) == []
