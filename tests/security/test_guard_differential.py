"""Differential fuzz of the SQL guard against PostgreSQL itself.

Random statements built from the fragments where sqlglot and PostgreSQL have been known to
read SQL differently (quotes, escapes, comments, whitespace characters, operators, casts). For
each statement the guard accepts, PostgreSQL plans what the guard would run with EXPLAIN
VERBOSE (planning never executes it): no system relation and no function outside the
allow-list may appear in the plan. A difference means the guard checked one query and the
database would run another.
"""

from __future__ import annotations

import random
import re

import asyncpg

FRAGMENTS = [
    "'\\'", "''", "'a''b'", '"a""b"', '"x"', "$$a$$", "$q$'$q$", "E'x'", "--", "/* */",
    "/*/**/*/", "\r", "\f", "\v", "\t", "\n", "\u00a0", "\u2028", "é", "€", "$", "$1",
    "::text", "::int", '::"text"', "[1]", "->'a'", "->>0", "#>'{a}'", "@>", "?", "||", "~",
    "!~", "~~", "#", "^", "|/", "@", "!", "%", "<>", "!=", "=", ":=", "=>", ".", ",", "(",
    ")", "ARRAY[1]", "ROW(1)", "(1,2)", "pg_authid", "pg_catalog", "information_schema",
    "rolpassword", "pg_roles", "pg_settings", "pg_stat_activity", "FROM", "SELECT", "WHERE", "AS", "LATERAL", "ONLY", "x", "1", "1e5", ".5",
    "0x1", "1_0", "lower", "upper('a')", "count(*)", "generate_series(1,2)",
    "OPERATOR(pg_catalog.+)", 'COLLATE "C"', "AT TIME ZONE 'UTC'", "IS NOT DISTINCT FROM",
    "BETWEEN 1 AND 2", "SIMILAR TO 'a'", "ESCAPE '\\'", "U&'a'", "UESCAPE", "\\", "`x`", ";",
]  # fmt: skip
TEMPLATES = [
    "SELECT {a}{b}{c} AS z",
    "SELECT 1 {a} {b} FROM bss_branch",
    "SELECT '{a}' {b} '{c}'",
    "SELECT id{a}{b} FROM bss_branch",
    "SELECT {a} FROM bss_branch{b}{c}",
    "SELECT x{a}y FROM (SELECT 1 AS x, 2 AS y) t",
    "SELECT {a}'{b}'{c}",
    "SELECT * FROM {a}",
    "SELECT count(*) FROM bss_branch, {a}{b}",
]
ITERATIONS = 3000
# Plan text that names a system relation or function (string constants are removed first).
_QUALIFIED = re.compile(r"\bon (\w+)\.(\w+)")
_CALL = re.compile(r"\b([a-z_][a-z0-9_]*)\(")
_STRING = re.compile(r"'(?:[^']|'')*'")
_PLAN_WORDS = {"row", "array", "any", "all", "count", "sum", "subplan", "initplan"}


def _allowed_functions() -> set[str] | None:
    try:
        from citu.sql.functions import ALLOWED_FUNCTIONS
    except ImportError:  # a deny-list guard: only relations are compared
        return None
    return set(ALLOWED_FUNCTIONS)


def _suspicious(plan: str, allowed: set[str] | None) -> list[str]:
    text = _STRING.sub("''", plan)
    found = [
        f"{schema}.{name}"
        for schema, name in _QUALIFIED.findall(text)
        if schema in ("pg_catalog", "information_schema")
        and (allowed is None or name not in allowed)
    ]
    if allowed is not None:
        found += [f for f in _CALL.findall(text) if f not in allowed and f not in _PLAN_WORDS]
    return found


def _statements(seed: int):
    rnd = random.Random(seed)
    for _ in range(ITERATIONS):
        parts = {k: "".join(rnd.choice(FRAGMENTS) for _ in range(rnd.randint(1, 3))) for k in "abc"}
        yield rnd.choice(TEMPLATES).format(**parts)


async def test_what_the_guard_accepts_plans_without_system_objects(business_db_url):
    from citu.sql.guard import check_sql

    allowed = _allowed_functions()
    conn = await asyncpg.connect(business_db_url)
    accepted, suspects, seen = 0, [], set()
    try:
        for sql in _statements(seed=14):
            try:
                check = check_sql(sql)
            except Exception as exc:  # noqa: BLE001 - a guard that raises is a finding too
                suspects.append((sql, f"raised {type(exc).__name__}"))
                continue
            statement = check.statement or sql
            if not check.ok or statement in seen:
                continue
            seen.add(statement)
            accepted += 1
            try:
                rows = await conn.fetch(f"EXPLAIN (VERBOSE, COSTS OFF) {statement}", timeout=5)
            except asyncpg.PostgresError:
                continue
            found = _suspicious("\n".join(r[0] for r in rows), allowed)
            if found:
                suspects.append((sql, found))
    finally:
        await conn.close()
    assert accepted > 50  # the fuzz reaches the database at all
    assert suspects == []
