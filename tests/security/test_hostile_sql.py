"""The hostile-SQL suite: every case of ``hostile_sql.CASES`` sent through ``citu_run_sql``,
``ask_agent`` (the fake model writes the SQL) and the ReAct agent's ``run_sql`` tool, against a
superuser business role, so only the guard stands between a case and the database.

A case is harmful when an oracle sees a side effect (``hostile_oracles``), when a secret
reaches the answer, when a case whose running is the harm returns rows, or when a request or
``/health`` is slower than its bound. The suite asserts 0 harmful per path; the figures
(harmful, passed the guard) are written to ``$CITU_HOSTILE_REPORT`` when set.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import statistics
import time
import uuid
from collections import Counter
from typing import Any

import asyncpg
import pytest

from citu.app import create_app
from citu.db.embedded import with_database
from citu.db.schema import ensure_demo_database
from citu.settings import Settings
from fakes.ask_script import script
from security.hostile_oracles import (
    Oracles,
    peak_rss_kib,
    prepare_business_database,
    reset_peak_rss,
)
from security.hostile_sql import CASES, Case

STATEMENT_TIMEOUT_MS = 1_500
REQUEST_BOUND_S = 25.0  # EXPLAIN, two repairs and the run, each under the statement timeout
HEALTH_BOUND_S = 2.0  # a busy two-core machine; the benchmark holds the real target
RSS_BOUND_KIB = 256 * 1024

# Multi-megabyte input is only sent once the guard caps SQL size before parsing (an
# unguarded PostgreSQL lexes a 2.4 MB nested comment for minutes, uninterruptibly), and
# memory-hungry results only once results have a byte cap.
GUARD_CAPS_SIZE = "sql_max_bytes" in Settings.model_fields
RESULTS_CAPPED = "api_max_result_bytes" in Settings.model_fields
MEMORY_CASES = {"ex_repeat_cells", "ex_array_agg"}
BUSINESS_ADMIN_URL = os.environ.get(
    "CITU_TEST_BUSINESS_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

REPORT: dict[str, Any] = {}
UNIT_VALUES = {
    "DIR": "/tmp/citu-hostile-unit",
    "SECRET": "/tmp/citu-hostile-unit/secret.txt",
    "PID": "12345",
    "CHAN": "hostile_unit",
    "KEY": "7000000001",
    "APP": "hostile-unit",
    "DSN": "host=127.0.0.1 dbname=x user=postgres",
    "CITUDSN": "host=/tmp dbname=y user=postgres",
}


def sendable(case: Case) -> bool:
    if not case.heavy:
        return True
    if case.id in MEMORY_CASES:
        return GUARD_CAPS_SIZE and RESULTS_CAPPED
    return GUARD_CAPS_SIZE


@functools.lru_cache(maxsize=2048)
def guard_verdict(sql: str) -> tuple[bool, str]:
    """The guard's verdict at unit level: (accepted, the statement it would run). A guard that
    raises refuses nothing by itself (the caller answers 5xx): that is ``guard_raises``'s."""
    from citu.sql.guard import check_sql

    try:
        check = check_sql(sql)
    except Exception as exc:  # noqa: BLE001 - any exception is the finding
        return False, f"raised {type(exc).__name__}"
    return bool(check.ok), (check.statement or sql) if check.ok else ""


def guard_accepts(sql: str) -> bool:
    return guard_verdict(sql)[0]


@pytest.fixture(scope="module")
def hostile_business_url():
    """A business database of this module's own (the cases create extensions and canaries),
    reached as the superuser ``postgres``."""
    name = f"citu_hostile_{uuid.uuid4().hex[:10]}"
    url = with_database(BUSINESS_ADMIN_URL, name)
    asyncio.run(ensure_demo_database(url))
    asyncio.run(prepare_business_database(url))
    yield url

    async def drop() -> None:
        conn = await asyncpg.connect(BUSINESS_ADMIN_URL)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture
def settings(settings, hostile_business_url):
    # The business role is the superuser ``postgres``: nothing but the guard stops a case.
    settings.business_db_url = hostile_business_url
    if "allow_privileged_business_role" in Settings.model_fields:
        settings.allow_privileged_business_role = True
    settings.business_statement_timeout_ms = STATEMENT_TIMEOUT_MS
    return settings


@pytest.fixture
async def oracles(app, services, settings, hostile_business_url):
    oracle = Oracles(
        business_url=hostile_business_url,
        citu_url=settings.database_url,
        pool_getter=lambda: services.business_db,
    )
    await oracle.start()
    yield oracle
    await oracle.close()


# ---- the paths ------------------------------------------------------------------------


async def via_run_sql(client, fake_llm, sql: str) -> tuple[int, str, str | None]:
    """Status, body text, and the SQL that returned rows (None when nothing ran)."""
    response = await client.post("/api/v0/citu_run_sql", json={"sql": sql})
    text = await response.get_data(as_text=True)
    body = _json(text)
    ran = isinstance(body.get("data"), dict) and body["data"].get("query_result") is not None
    return response.status_code, text, sql if ran else None


async def via_ask_agent(client, fake_llm, sql: str) -> tuple[int, str, str | None]:
    fake_llm.reset()
    # The model insists: its repairs repeat the same SQL.
    script(fake_llm, sql=sql, repairs=[sql], summary="好的。")
    response = await client.post(
        "/api/v0/ask_agent",
        json={"question": "统计一下档口", "routing_mode": "database_direct", "user_id": "hostile"},
    )
    text = await response.get_data(as_text=True)
    data = _json(text).get("data")
    ran = isinstance(data, dict) and isinstance(data.get("records"), dict)
    return response.status_code, text, str(data.get("sql")) if ran else None


async def via_react(client, fake_llm, sql: str) -> tuple[int, str, str | None]:
    fake_llm.reset()
    fake_llm.reply_tool_call("run_sql", {"sql": sql})
    fake_llm.when(lambda _messages: True, "查询完成。")
    response = await client.post(
        "/api/v0/ask_react_agent", json={"question": "统计一下档口", "user_id": "hostile"}
    )
    text = await response.get_data(as_text=True)
    data = _json(text).get("data")
    ran = isinstance(data, dict) and bool(data.get("records"))
    return response.status_code, text, str(data.get("sql")) if ran else None


PATHS = {"citu_run_sql": via_run_sql, "ask_agent": via_ask_agent, "react_run_sql": via_react}


def _json(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _normal(sql: str) -> str:
    return " ".join(sql.split()).rstrip(";").strip().lower()


def ran_the_case(ran_sql: str | None, sql: str) -> bool:
    """Whether the SQL that returned rows is the case's (an agent may have extracted a
    harmless part of a model's reply: then the case itself did not run)."""
    if ran_sql is None:
        return False
    accepted, statement = guard_verdict(sql)
    forms = {_normal(sql)} | ({_normal(statement)} if accepted else set())
    return _normal(ran_sql) in forms


def _refused_by_guard(text: str) -> bool:
    return any(
        marker in text
        for marker in ("安全检查未通过", "不允许的操作", "SQL验证失败", "只允许执行", "禁止")
    )


# ---- the run ----------------------------------------------------------------------------


async def _poll_health(
    client, lock: asyncio.Lock, stop: asyncio.Event, out: list[float], current: list[str]
):
    """Time /health while cases run; each sample is charged to the case running at its start."""
    while not stop.is_set():
        async with lock:
            case_id = current[0]
            started = time.perf_counter()
            await client.get("/health")
            out.append(time.perf_counter() - started)
            current.append(f"{case_id}\t{out[-1]}")
        try:
            await asyncio.wait_for(stop.wait(), 0.2)
        except TimeoutError:
            pass


async def run_path(path: str, client, fake_llm, oracles: Oracles) -> dict[str, Any]:
    send = PATHS[path]
    lock = asyncio.Lock()
    stop = asyncio.Event()
    health: list[float] = []
    current: list[str] = [""]  # [running case id, then "id<TAB>latency" samples]

    # Calibrate: tables of citu's own database that an ordinary request of this path writes.
    before = await oracles.citu_tables()
    await send(client, fake_llm, "SELECT count(*) AS n FROM hostile_canary")
    after = await oracles.citu_tables()
    oracles.citu_ignore = {t for t in after if after.get(t) != before.get(t)}

    results = []
    poller = asyncio.create_task(_poll_health(client, lock, stop, health, current))
    try:
        async with lock:
            baseline = await oracles.snapshot()
        for case in CASES:
            if not sendable(case):
                results.append({"id": case.id, "family": case.family, "outcome": "not sent"})
                continue
            sql = case.render(oracles.values())
            tripped: list[str] = []
            if case.heavy and case.must_refuse and await asyncio.to_thread(guard_accepts, sql):
                tripped.append("guard accepted oversized input (not sent)")
                results.append(_result(case, "accepted", tripped, 0.0, False))
                continue
            # A side effect is confirmed by sending the case again: a guard hole repeats, while
            # noise from the shared machine (a slow /health sample, a late statistics update)
            # does not. The first try's findings stay in the report as "unconfirmed".
            unconfirmed: list[str] = []
            for attempt in (1, 2):
                tripped = []
                current[0] = case.id
                rss_before = reset_peak_rss() if case.heavy else 0
                async with lock:
                    server_before = await oracles.reset_backend_peaks()
                started = time.perf_counter()
                try:
                    status, text, ran_sql = await asyncio.wait_for(
                        send(client, fake_llm, sql), REQUEST_BOUND_S + 10
                    )
                except TimeoutError:
                    status, text, ran_sql = 0, "", None
                    tripped.append("request never answered")
                elapsed = time.perf_counter() - started
                ran = ran_sql is not None
                if case.settle:
                    await oracles.settle_statistics(baseline, case.settle)
                async with lock:
                    after = await oracles.snapshot()
                    tripped += Oracles.diff(baseline, after)
                    tripped += oracles.secrets_in(text)
                    if case.ran_is_harm and await asyncio.to_thread(ran_the_case, ran_sql, sql):
                        tripped.append("ran")
                    if elapsed > (case.max_seconds or REQUEST_BOUND_S):
                        tripped.append(f"slow: {elapsed:.1f}s")
                    if case.heavy and peak_rss_kib() - rss_before > RSS_BOUND_KIB:
                        tripped.append(f"rss +{(peak_rss_kib() - rss_before) // 1024} MB")
                    stalls = [
                        float(sample.split("\t")[1])
                        for sample in current[1:]
                        if sample.split("\t")[0] == case.id
                    ]
                    if stalls and max(stalls) > HEALTH_BOUND_S:
                        tripped.append(f"/health took {max(stalls):.1f}s")
                    server_growth = await oracles.backend_peak_kib() - server_before
                    if server_growth > RSS_BOUND_KIB:
                        tripped.append(f"database backend rss +{server_growth // 1024} MB")
                    if tripped:
                        await oracles.restore()
                        after = await oracles.snapshot()
                    baseline = after
                if not tripped or attempt == 2:
                    break
                unconfirmed = tripped
            if ran:
                outcome = "ran"
            elif path == "citu_run_sql" and _refused_by_guard(text):
                outcome = "guard"
            else:
                outcome = f"http {status}"
            current[0] = ""
            results.append(_result(case, outcome, tripped, elapsed, ran))
            results[-1]["unconfirmed"] = unconfirmed
            results[-1]["guard_accepts"] = await asyncio.to_thread(guard_accepts, sql)
    finally:
        stop.set()
        await poller
    return _summary(path, results, health)


def _result(case: Case, outcome: str, tripped: list[str], elapsed: float, ran: bool) -> dict:
    return {
        "id": case.id,
        "family": case.family,
        "outcome": outcome,
        "ran": ran,
        "harmful": tripped,
        "seconds": round(elapsed, 3),
    }


def _summary(path: str, results: list[dict], health: list[float]) -> dict[str, Any]:
    sent = [r for r in results if r["outcome"] != "not sent"]
    harmful = [r for r in sent if r["harmful"]]
    health_sorted = sorted(health) or [0.0]
    summary = {
        "path": path,
        "cases": len(results),
        "sent": len(sent),
        "not_sent": len(results) - len(sent),
        "harmful": len(harmful),
        # Unit level, the same for every path: what the guard lets through.
        "passed_guard": sum(1 for r in sent if r.get("guard_accepts")),
        "ran": sum(1 for r in sent if r["ran"]),
        "outcomes": dict(Counter(r["outcome"] for r in sent)),
        "health_samples": len(health),
        "health_p50_ms": round(statistics.median(health_sorted) * 1000, 1),
        "health_p99_ms": round(health_sorted[int(0.99 * (len(health_sorted) - 1))] * 1000, 1),
        "health_max_ms": round(health_sorted[-1] * 1000, 1),
        "harmful_cases": {r["id"]: r["harmful"] for r in harmful},
        "results": results,
    }
    REPORT[path] = summary
    target = os.environ.get("CITU_HOSTILE_REPORT")
    if target:
        with open(target, "w", encoding="utf-8") as handle:
            json.dump(REPORT, handle, ensure_ascii=False, indent=1, default=str)
    return summary


def _verdict(summary: dict[str, Any]) -> None:
    short = {k: v for k, v in summary.items() if k != "results"}
    assert summary["harmful"] == 0, json.dumps(short, ensure_ascii=False, indent=1, default=str)
    # Per case, a stall past the bound is a finding (confirmed on a second try); over the run,
    # the p99 holds the bound, so one descheduled sample on a shared machine is not a verdict.
    assert summary["health_p99_ms"] <= HEALTH_BOUND_S * 1000, short


# ---- tests ----------------------------------------------------------------------------


def test_the_table_is_large_and_covers_every_family():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 150
    families = {c.family for c in CASES}
    assert {
        "unicode_escape",
        "estring",
        "comment",
        "dollar",
        "quoted",
        "file_functions",
        "large_object",
        "dblink",
        "copy",
        "session",
        "signal",
        "notify",
        "advisory_lock",
        "sql_in_text",
        "sequence",
        "sleep",
        "write",
        "row_lock",
        "stacked",
        "catalog",
        "reg_cast",
        "maintenance",
        "construct",
        "exhaustion",
        "model_output",
    } <= families


@pytest.mark.parametrize("family", sorted({c.family for c in CASES if c.must_refuse}))
def test_the_guard_refuses_every_case(family):
    """Unit level, fast: the guard alone refuses what it must (placeholders filled in)."""
    values = UNIT_VALUES
    accepted = [
        c.id
        for c in CASES
        if c.family == family and c.must_refuse and (GUARD_CAPS_SIZE or not c.heavy)
        if guard_accepts(c.render(values))
    ]
    assert accepted == []


async def test_citu_run_sql_path(client, fake_llm, oracles):
    _verdict(await run_path("citu_run_sql", client, fake_llm, oracles))


async def test_ask_agent_path(client, fake_llm, oracles):
    _verdict(await run_path("ask_agent", client, fake_llm, oracles))


async def test_react_run_sql_path(client, fake_llm, oracles):
    _verdict(await run_path("react_run_sql", client, fake_llm, oracles))


def test_the_guard_never_raises():
    """Every case gets a verdict; an exception would reach the client as a 5xx."""
    raised = {}
    for case in CASES:
        if case.heavy and not GUARD_CAPS_SIZE:
            continue
        verdict = guard_verdict(case.render(UNIT_VALUES))
        if verdict[1].startswith("raised "):
            raised[case.id] = verdict[1]
    assert raised == {}


def test_the_guard_answers_quickly_on_small_adversarial_input():
    """Parsing is bounded in time, not only in bytes: these inputs are under every size and
    depth cap but cost sqlglot exponential (nested ARRAY[) or super-linear time."""
    slow = {}
    for case in CASES:
        if case.max_seconds is None:
            continue
        started = time.perf_counter()
        guard_verdict.__wrapped__(case.render({}))
        elapsed = time.perf_counter() - started
        if elapsed > 1.0:
            slow[case.id] = round(elapsed, 2)
    assert slow == {}


async def test_legacy_string_syntax_opens_no_bypass(settings, fake_llm, hostile_business_url):
    """With standard_conforming_strings=off (a legacy setting a business database may still
    have), a backslash in '...' escapes the quote: what the guard read as two string literals
    becomes a string and a subquery on pg_authid, unless citu pins the setting."""
    name = hostile_business_url.rsplit("/", 1)[1].split("?")[0]
    admin = await asyncpg.connect(hostile_business_url)
    await admin.execute(f"ALTER DATABASE {name} SET standard_conforming_strings = off")
    sql = "SELECT '\\' || ', (SELECT rolname FROM pg_authid LIMIT 1) AS leaked --' AS x"
    try:
        app = create_app(settings)
        async with app.test_app():
            response = await app.test_client().post("/api/v0/citu_run_sql", json={"sql": sql})
            body = await response.get_json()
    finally:
        await admin.execute(f"ALTER DATABASE {name} RESET standard_conforming_strings")
        await admin.close()
    result = (body.get("data") or {}).get("query_result") or {}
    assert "leaked" not in result.get("columns", []), body
