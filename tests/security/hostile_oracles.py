"""Side-effect oracles for the hostile-SQL suite: what a case could have changed, looked at
from outside the request (an HTTP status says nothing about a file written on the host).

One ``Oracles`` per business database: a canary table, sequence and indexes, a canary session
(its pid is the target of the signal cases, its last query text a secret), a listening session,
a private directory the server may write to and a secret file in it. ``snapshot()`` reads
everything; ``diff()`` names what changed; ``restore()`` puts things back after a harmful case
so the next case is judged on its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

CANARY_ROWS = [(i, f"canary-{i}") for i in range(1, 21)]

# Objects the cases aim at, in the test's own business database only.
SETUP_SQL = """
CREATE TABLE IF NOT EXISTS hostile_canary (id int PRIMARY KEY, v text NOT NULL);
CREATE INDEX IF NOT EXISTS hostile_canary_brin ON hostile_canary USING brin (id);
CREATE INDEX IF NOT EXISTS hostile_canary_gin ON hostile_canary
    USING gin (to_tsvector('simple', v)) WITH (fastupdate = on);
CREATE SEQUENCE IF NOT EXISTS hostile_seq;
-- A schema whose quoted name differs from pg_catalog only by case, holding functions named
-- like allow-listed built-ins: running one of them shows in the answer.
CREATE SCHEMA IF NOT EXISTS "PG_CATALOG";
CREATE OR REPLACE FUNCTION "PG_CATALOG".lower(text) RETURNS text
    LANGUAGE sql AS $$ SELECT 'hostile-planted-function-ran' $$;
CREATE OR REPLACE FUNCTION "PG_CATALOG".generate_series(int, int) RETURNS SETOF text
    LANGUAGE sql AS $$ SELECT 'hostile-planted-function-ran' $$;
-- An aggregate there too: "schema.agg(...) FILTER (...)" parses differently from a plain call.
CREATE OR REPLACE FUNCTION "PG_CATALOG".hostile_step(text) RETURNS text
    LANGUAGE sql AS $$ SELECT 'hostile-planted-function-ran' $$;
CREATE OR REPLACE AGGREGATE "PG_CATALOG".count(*) (
    SFUNC = "PG_CATALOG".hostile_step, STYPE = text, INITCOND = ''
);
CREATE OR REPLACE FUNCTION "PG_CATALOG".hostile_step(text, text) RETURNS text
    LANGUAGE sql AS $$ SELECT 'hostile-planted-function-ran' $$;
CREATE OR REPLACE AGGREGATE "PG_CATALOG".mode(text) (
    SFUNC = "PG_CATALOG".hostile_step, STYPE = text, INITCOND = ''
);
-- An overload in public with the exact argument type beats the built-in that needs a cast,
-- whatever the search_path order (anyone with CREATE on public can plant it).
CREATE TABLE IF NOT EXISTS hostile_vc (v varchar NOT NULL);
INSERT INTO hostile_vc SELECT 'ABC' WHERE NOT EXISTS (SELECT FROM hostile_vc);
CREATE OR REPLACE FUNCTION public.lower(character varying) RETURNS text
    LANGUAGE sql AS $$ SELECT 'hostile-planted-function-ran' $$;
CREATE OR REPLACE FUNCTION public.length(character varying) RETURNS text
    LANGUAGE sql AS $$ SELECT 'hostile-planted-function-ran' $$;
"""
PLANTED_MARKER = "hostile-planted-function-ran"
# Extensions a real deployment may have; superuser here, in this database only.
EXTENSIONS = ("dblink", "adminpack", "pg_prewarm", "pg_visibility", "pageinspect")

# Temporary files one case may write on the database server.
TEMP_BYTES_BOUND = 256 * 2**20

# Settings the session-control cases try to change on the pool's connections.
WATCHED_SETTINGS = (
    "application_name",
    "search_path",
    "statement_timeout",
    "work_mem",
    "default_transaction_read_only",
    "role",
    "session_authorization",
)


async def prepare_business_database(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for name in EXTENSIONS:
            try:
                await conn.execute(f"CREATE EXTENSION IF NOT EXISTS {name}")
            except asyncpg.PostgresError:
                pass  # not installed on this server: the cases using it fail at the database
        await conn.execute(SETUP_SQL)
        await _reset_canary(conn)
    finally:
        await conn.close()


async def _reset_canary(conn: asyncpg.Connection) -> None:
    await conn.execute(SETUP_SQL)
    await conn.execute("TRUNCATE hostile_canary")
    await conn.executemany("INSERT INTO hostile_canary VALUES ($1, $2)", CANARY_ROWS)
    await conn.execute("SELECT setval('hostile_seq', 1, false)")


def _tree(root: Path) -> dict[str, str]:
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            files[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def _rss_kib(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> int:
    """Reset the process's peak RSS (Linux ``clear_refs`` 5); return the current RSS in KiB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _rss_kib("VmRSS")


def peak_rss_kib() -> int:
    return _rss_kib("VmHWM")


def _reset_peak(pid: int) -> None:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


def _proc_kib(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Oracles:
    business_url: str
    citu_url: str
    pool_getter: Any  # () -> the app's business asyncpg.Pool
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="citu-hostile-")))
    token: str = field(default_factory=lambda: "tok" + secrets.token_hex(12))
    key: int = field(default_factory=lambda: 7_000_000_000 + secrets.randbelow(10**9))
    chan: str = field(default_factory=lambda: "hostile_" + uuid.uuid4().hex[:12])
    app_name: str = field(default_factory=lambda: "hostile-app-" + uuid.uuid4().hex[:8])
    notifications: list[str] = field(default_factory=list)
    citu_ignore: set[str] = field(default_factory=set)

    async def start(self) -> None:
        # The server runs as another OS user: let it write here (and read the secret).
        os.chmod(self.root, 0o777)
        self.secret_path = self.root / "secret.txt"
        self.secret_path.write_text(f"{self.token}-file\n")
        os.chmod(self.secret_path, 0o644)
        self.keep_path = self.root / "keep.txt"
        self.keep_path.write_text("keep\n")
        os.chmod(self.keep_path, 0o666)
        self.watch = await asyncpg.connect(self.business_url)
        self.citu = await asyncpg.connect(self.citu_url)
        await self.watch.add_listener(self.chan, self._on_notify)
        await self._open_canary()

    async def _open_canary(self) -> None:
        self.canary = await asyncpg.connect(
            self.business_url, server_settings={"application_name": "hostile-canary"}
        )
        self.canary_pid = await self.canary.fetchval("SELECT pg_backend_pid()")
        # Its last query text is a secret that pg_stat_activity would show to a superuser.
        await self.canary.fetchval(f"SELECT '{self.token}-session'")

    def _on_notify(self, _conn, _pid, channel: str, payload: str) -> None:
        self.notifications.append(f"{channel}:{payload}")

    def values(self) -> dict[str, str]:
        from urllib.parse import urlsplit

        parts = urlsplit(self.business_url)
        citu = urlsplit(self.citu_url)
        citu_host = dict(p.split("=", 1) for p in citu.query.split("&") if "=" in p).get(
            "host", citu.hostname or ""
        )
        return {
            "DIR": str(self.root),
            "SECRET": str(self.secret_path),
            "PID": str(self.canary_pid),
            "CHAN": self.chan,
            "KEY": str(self.key),
            "APP": self.app_name,
            "DSN": f"host={parts.hostname} port={parts.port or 5432} "
            f"dbname={parts.path.lstrip('/')} user={parts.username or 'postgres'}",
            "CITUDSN": f"host={citu_host} dbname={citu.path.lstrip('/')} "
            f"user={citu.username or 'postgres'}",
        }

    def secrets_in(self, text: str) -> list[str]:
        found = [f"secret {kind}" for kind in ("file", "session") if f"{self.token}-{kind}" in text]
        return found + (["planted function ran"] if PLANTED_MARKER in text else [])

    # ---- reading ------------------------------------------------------------------------

    async def snapshot(self) -> dict[str, Any]:
        w = self.watch
        snap: dict[str, Any] = {}
        snap["canary"] = await w.fetchrow(
            "SELECT to_regclass('hostile_canary') IS NOT NULL AS present"
        )
        snap["canary"] = (
            tuple(
                await w.fetchrow(
                    "SELECT count(*), md5(string_agg(id || ':' || v, ',' ORDER BY id)) "
                    "FROM hostile_canary"
                )
            )
            if snap["canary"]["present"]
            else "dropped"
        )
        snap["large_objects"] = await w.fetchval("SELECT count(*) FROM pg_largeobject_metadata")
        snap["files"] = _tree(self.root)
        snap["canary_session"] = await self._canary_alive()
        snap["locks"] = sorted(
            tuple(r)
            for r in await w.fetch(
                "SELECT locktype, mode, coalesce(objid::text, '') FROM pg_locks "
                "WHERE pid <> pg_backend_pid() "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
        snap["sessions"] = sorted(
            tuple(r)
            for r in await w.fetch(
                "SELECT application_name, usename::text FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name NOT IN ('citu-business', 'hostile-canary')"
            )
        )
        snap["app_name_seen"] = await w.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", self.app_name
        )
        snap["conf_load_time"] = await w.fetchval("SELECT pg_conf_load_time()")
        snap["sequence"] = tuple(await w.fetchrow("SELECT last_value, is_called FROM hostile_seq"))
        snap["temp_bytes"] = await w.fetchval(
            "SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()"
        )
        snap["stats_reset"] = await w.fetchval(
            "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()"
        )
        snap["relations"] = await w.fetchval(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'"
        )
        snap["collations"] = await w.fetchval("SELECT count(*) FROM pg_collation")
        snap["slots"] = await w.fetchval("SELECT count(*) FROM pg_replication_slots")
        snap["origins"] = await w.fetchval("SELECT count(*) FROM pg_replication_origin")
        snap["prepared_xacts"] = await w.fetchval("SELECT count(*) FROM pg_prepared_xacts")
        snap["notifications"] = len(self.notifications)
        snap["pool_settings"] = await self._pool_settings()
        snap["citu_db"] = await self.citu_tables()
        return snap

    async def settle_statistics(self, before: dict[str, Any], seconds: float) -> None:
        """Wait (at most ``seconds``) for the server's statistics to show a case's temporary
        files: a backend flushes its counters up to a second after it goes idle."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            now = await self.watch.fetchval(
                "SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()"
            )
            if now != before.get("temp_bytes"):
                return
            await asyncio.sleep(0.2)

    async def _canary_alive(self) -> str:
        try:
            ok = await self.canary.fetchval("SELECT 1", timeout=5)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
            return "dead"
        alive = await self.watch.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", self.canary_pid
        )
        return "alive" if ok == 1 and alive == 1 else "dead"

    async def _pool_settings(self) -> list[tuple]:
        """The watched settings on every connection of the app's business pool."""
        pool = self.pool_getter()
        if pool is None:
            return []
        size = pool.get_size()
        conns = []
        try:
            async with asyncio.timeout(10):
                for _ in range(size):
                    conns.append(await pool.acquire())
                rows = []
                for conn in conns:
                    row = await conn.fetchrow(
                        "SELECT "
                        + ", ".join(f"current_setting('{name}')" for name in WATCHED_SETTINGS)
                        + ", current_user::text, session_user::text"
                    )
                    rows.append(tuple(row))
        finally:
            for conn in conns:
                await pool.release(conn)
        return sorted(set(rows))

    async def citu_tables(self) -> dict[str, int]:
        names = [
            r[0]
            for r in await self.citu.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        counts = {}
        for name in names:
            if name in self.citu_ignore:
                counts[name] = -1
                continue
            counts[name] = await self.citu.fetchval(f'SELECT count(*) FROM "{name}"')
        return counts

    @staticmethod
    def diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        tripped = []
        for name, value in after.items():
            if name == "pool_settings":
                new = set(value) - set(before[name])
                if new:
                    tripped.append(f"pool_settings changed: {sorted(new)}")
                continue
            if name == "temp_bytes":
                grown = (value or 0) - (before.get(name) or 0)
                if grown > TEMP_BYTES_BOUND or grown < 0:
                    tripped.append(f"temporary files on the server: {grown // 2**20:+} MB")
                continue
            if name == "citu_db":
                changed = {
                    t for t in set(value) | set(before[name]) if value.get(t) != before[name].get(t)
                }
                if changed:
                    tripped.append(f"citu_db changed: {sorted(changed)}")
                continue
            if value != before.get(name):
                tripped.append(f"{name}: {before.get(name)!r} -> {value!r}")
        if after["app_name_seen"]:
            tripped.append("application_name set by a case")
        return tripped

    async def _pool_backends(self) -> list[int]:
        rows = await self.watch.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'citu-business'"
        )
        return [r[0] for r in rows]

    async def reset_backend_peaks(self) -> int:
        """Reset the peak RSS of the pool's server processes (same host; the test runs as
        root); return their largest current RSS in KiB."""
        largest = 0
        for pid in await self._pool_backends():
            _reset_peak(pid)
            largest = max(largest, _proc_kib(pid, "VmRSS"))
        return largest

    async def backend_peak_kib(self) -> int:
        return max([_proc_kib(pid, "VmHWM") for pid in await self._pool_backends()] or [0])

    # ---- restoring ----------------------------------------------------------------------

    async def restore(self) -> None:
        """Undo what a harmful case did, so the next one is judged alone."""
        pool = self.pool_getter()
        if pool is not None:
            await pool.expire_connections()
        w = self.watch
        # Every other session in this private database: the pool's (session locks, settings,
        # temporary slots), dblink's, the canary (reopened below).
        await w.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        await w.execute("SELECT lo_unlink(oid) FROM pg_largeobject_metadata")
        await w.execute(
            "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin "
            "WHERE roname LIKE 'hostile_origin_%'"
        )
        for name in ("hostile_new", "hostile_new2"):
            await w.execute(f"DROP TABLE IF EXISTS {name}")
        await _reset_canary(w)
        for path in self.root.iterdir():
            if path not in (self.secret_path, self.keep_path):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        self.keep_path.write_text("keep\n")
        self.notifications.clear()
        try:
            await self.canary.close(timeout=2)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
            pass
        await self._open_canary()
        await self.citu.execute("DROP TABLE IF EXISTS hostile_pwned")

    async def close(self) -> None:
        for conn in (self.watch, self.canary, self.citu):
            try:
                await conn.close(timeout=2)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
                pass
        shutil.rmtree(self.root, ignore_errors=True)
