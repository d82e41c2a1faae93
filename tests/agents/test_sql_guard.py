import threading
import time

import asyncpg
import pytest
from guard_corpus import ANALYTIC
from sqlglot import exp

from citu.settings import Settings
from citu.sql import guard as sql_guard
from citu.sql import refusals, tree_check
from citu.sql.dialect import GuardDialect
from citu.sql.guard import SqlCheck, SqlGuard, check_sql
from citu.sql.guard_pool import GuardQueue

HOSTILE = [
    # plain writes
    "INSERT INTO t VALUES (1)",
    "UPDATE t SET a = 1",
    "DELETE FROM t",
    "TRUNCATE t",
    "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE",
    # writes hidden in CTEs / set operations / sub-queries
    "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
    "WITH x AS (INSERT INTO t VALUES (1) RETURNING a) SELECT a FROM x",
    "WITH x AS (UPDATE t SET a = 2 RETURNING a) SELECT 1 UNION SELECT a FROM x",
    "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
    # table-creating / locking selects
    "SELECT * INTO newt FROM t",
    "SELECT 1 INTO TEMP tmp_t",
    "SELECT * FROM t FOR UPDATE",
    "SELECT * FROM t FOR SHARE",
    "SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED",
    "SELECT * FROM (SELECT * FROM t FOR KEY SHARE) q",
    # stacked statements and comment tricks
    "SELECT 1; DROP TABLE t",
    "SELECT 1;DELETE FROM t;",
    "SELECT 1 /* harmless */; DROP TABLE t -- bye",
    "SELECT 1 -- comment\n; DROP TABLE t",
    "/* SELECT 1; */ DROP TABLE t",
    "SELECT E'\\'' ; DROP TABLE t; --'",
    # DDL / DCL
    "DROP TABLE t",
    "CREATE TEMP TABLE x AS SELECT 1",
    "CREATE TABLE x (a int)",
    "ALTER TABLE t ADD COLUMN b int",
    "ALTER SYSTEM SET work_mem = '1GB'",
    "GRANT ALL ON t TO PUBLIC",
    "REVOKE SELECT ON t FROM PUBLIC",
    "COMMENT ON TABLE t IS 'x'",
    "REFRESH MATERIALIZED VIEW mv",
    # COPY, session, transactions, procedural
    "COPY t TO PROGRAM 'rm -rf /'",
    "COPY t FROM '/etc/passwd'",
    "SET ROLE postgres",
    "SET default_transaction_read_only = off",
    "RESET ALL",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT s1",
    "DO $$ BEGIN DELETE FROM t; END $$",
    "CALL my_proc()",
    "VACUUM",
    "LOCK TABLE t IN ACCESS EXCLUSIVE MODE",
    "NOTIFY ch, 'x'",
    "LISTEN ch",
    "PREPARE p AS DELETE FROM t",
    "EXECUTE p",
    "DISCARD ALL",
    "SHOW ALL",
    "EXPLAIN SELECT 1",
    "EXPLAIN ANALYZE DELETE FROM t",
    # dangerous functions (case, quoting and schema tricks included)
    "SELECT pg_sleep(10)",
    "sElEcT pg_SLEEP(1)",
    "SELECT pg_catalog.pg_sleep(1)",
    'SELECT "pg_sleep"(1)',
    "SELECT pg_sleep_for('5 minutes')",
    "SELECT * FROM pg_sleep(10)",
    "SELECT a FROM t WHERE a > (SELECT count(*) FROM pg_sleep(1))",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_read_binary_file('/etc/passwd')",
    "SELECT * FROM pg_ls_dir('/')",
    "SELECT pg_stat_file('/etc/passwd')",
    "SELECT lo_import('/etc/passwd')",
    "SELECT lo_export(1234, '/tmp/x')",
    "SELECT * FROM dblink('host=evil', 'DELETE FROM t') AS r(a int)",
    "SELECT dblink_exec('host=evil', 'DROP TABLE t')",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT nextval('seq')",
    "SELECT setval('seq', 1)",
    "SELECT pg_terminate_backend(123)",
    "SELECT pg_cancel_backend(123)",
    "SELECT pg_reload_conf()",
    "SELECT pg_advisory_lock(1)",
    "SELECT pg_try_advisory_xact_lock(1)",
    "SELECT pg_notify('ch', 'x')",
    "SELECT query_to_xml('delete from t returning *', true, true, '')",
    "SELECT table_to_xml('pg_authid', true, true, '')",
    "SELECT ts_stat('SELECT to_tsvector(rolpassword) FROM pg_authid')",
    "SELECT CASE WHEN a > 0 THEN pg_sleep(1) END FROM t",
    # secret-leaking catalogs
    "select * from pg_authid",
    "SELECT rolpassword FROM pg_catalog.pg_authid",
    'SELECT * FROM "pg_shadow"',
    "SELECT * FROM pg_user_mappings",
    # parameters, empty input, garbage
    "SELECT $1",
    "",
    "   \n\t ",
    "-- just a comment",
    ";",
    "SELEC 1",
    "SELECT (",
]

LEGIT = [
    "SELECT 1",
    "SELECT service_name AS 服务区名称, SUM(pay_sum) AS 总收入 FROM bss_business_day_data "
    "WHERE delete_ts IS NULL GROUP BY service_name ORDER BY 总收入 DESC NULLS LAST LIMIT 3;",
    "SELECT a.id, b.name FROM a JOIN b ON b.a_id = a.id LEFT JOIN c ON c.id = b.c_id",
    "WITH x AS (SELECT id, amount FROM t WHERE amount > 0) SELECT id FROM x ORDER BY id",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT n FROM r",
    "SELECT id, row_number() OVER (PARTITION BY kind ORDER BY amount DESC) AS rn FROM t",
    "SELECT * FROM t WHERE name ILIKE '%服务区%'",
    "SELECT oper_date FROM t WHERE oper_date >= CURRENT_DATE - INTERVAL '30 days'",
    "SELECT COUNT(*) FILTER (WHERE amount > 100) AS big, COUNT(*) AS all_rows FROM t",
    "SELECT name FROM t WHERE id IN (SELECT t_id FROM u WHERE u.flag)",
    "SELECT name FROM a UNION SELECT name FROM b ORDER BY 1",
    "SELECT 1; ",
    "-- top comment\nSELECT /* inline */ 1 -- trailing",
    "VALUES (1, 'a'), (2, 'b')",
    "SELECT date_trunc('month', oper_date) AS m, ROUND(AVG(amount)::numeric, 2) FROM t GROUP BY 1",
    "SELECT now(), date_trunc('day', now())",
    "SELECT payload->>'k' FROM t WHERE payload ? 'k'",
    "SELECT 'DROP TABLE t; DELETE FROM t' AS harmless_text",
]


@pytest.mark.parametrize("sql", HOSTILE)
def test_refuses_hostile_sql(sql: str) -> None:
    result = check_sql(sql)
    assert isinstance(result, SqlCheck)
    assert result.ok is False
    assert result.reason
    assert result.statement == ""


@pytest.mark.parametrize("sql", LEGIT)
def test_accepts_read_queries(sql: str) -> None:
    result = check_sql(sql)
    assert result.ok is True, result.reason
    assert result.reason == ""
    assert result.statement
    assert not result.statement.rstrip().endswith(";")


def test_has_enough_hostile_cases() -> None:
    assert len(HOSTILE) >= 45


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT 1; DROP TABLE t", "只允许执行单条只读查询语句，检测到多条语句"),
        ("NOTIFY ch", "只允许执行单条只读查询语句"),
        ("INSERT INTO t VALUES (1)", "检测到写操作: INSERT"),
        ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "检测到写操作: DELETE"),
        ("sElEcT pg_SLEEP(1)", "禁止调用函数: pg_sleep"),
        ("SELECT * FROM pg_catalog.pg_authid", "禁止访问系统表: pg_authid"),
        ("SELECT * FROM t FOR UPDATE", "禁止使用行锁: FOR UPDATE"),
        ("VACUUM", "不支持的语句类型: VACUUM"),
        ("CREATE TABLE x (a int)", "禁止执行非查询语句: CREATE"),
        ("", "SQL 语句为空"),
    ],
)
def test_reasons(sql: str, reason: str) -> None:
    assert check_sql(sql).reason == reason


def test_statement_is_regenerated_without_comments_and_semicolons() -> None:
    result = check_sql("  -- intro\n SELECT a /* keep */ FROM t ;; -- tail\n")
    assert result.statement == "SELECT a FROM t"


def test_statement_keeps_function_names_exactly() -> None:
    # sqlglot's own parser would turn date_part() into EXTRACT() (numeric, not double precision).
    sql = "SELECT date_part('day', d) AS 日, x::numeric(10,2) FROM t"
    assert (
        check_sql(sql).statement
        == "SELECT pg_catalog.date_part('day', d) AS 日, CAST(x AS DECIMAL(10, 2)) FROM t"
    )


def test_parse_error_reason_has_no_ansi_codes() -> None:
    result = check_sql("SELECT (")
    assert result.reason.startswith("SQL 解析失败")
    assert "\x1b" not in result.reason


# --- bypasses of the deny-list guard: each was accepted before the allow-list --------------

BYPASSES = [
    # Unicode-escaped identifiers: sqlglot read U&"..." as column U and a function named by
    # the escaped text; PostgreSQL decodes it to the real name.
    "SELECT U&\"pg\\005fread\\005ffile\"('/etc/hostname')",
    "SELECT * FROM U&\"pg\\005fls\\005fdir\"('/')",
    "SELECT u&\"lo\\005fimport\"('/etc/passwd')",
    "SELECT U&\"dblink\\005fexec\"('dbname=x', 'DROP TABLE t')",
    'SELECT U&"pg\\005fterminate\\005fbackend"(1)',
    "SELECT U&\"set\\005fconfig\"('default_transaction_read_only', 'off', false)",
    "SELECT U&\"pg\\005fnotify\"('ch', 'x')",
    'SELECT U&"pg\\005fadvisory\\005flock"(1)',
    "SELECT U&\"query\\005fto\\005fxml\"('select 1', true, true, '')",
    "SELECT U&\"lo\\005ffrom\\005fbytea\"(0, 'x')",
    "SELECT U&\"lo\\005fexport\"(1, '/tmp/x')",
    "SELECT U&\"!0070g_sleep\" UESCAPE '!' (1)",
    "SELECT U&'\\0041'",
    # function forms of denied catalog views
    "SELECT * FROM pg_hba_file_rules()",
    "SELECT * FROM pg_show_all_file_settings()",
    "SELECT pg_hba_file_rules()",
    "SELECT * FROM pg_stat_get_activity(NULL)",
    "SELECT * FROM pg_get_keywords()",
    # side effects the deny-list did not name
    "SELECT lo_from_bytea(0, 'x')",
    "SELECT pg_catalog.lo_create(0)",
    "SELECT txid_current()",
    "SELECT pg_current_xact_id()",
    "SELECT current_setting('data_directory')",
    "SELECT version()",
    "SELECT inet_server_addr()",
    "SELECT pg_postmaster_start_time()",
    "SELECT setseed(0.5)",
    "SELECT pg_stat_clear_snapshot()",
    "SELECT xmlparse(document '<x/>')",
    "SELECT has_table_privilege('pg_authid', 'select')",
    "SELECT pg_get_functiondef('pg_sleep'::regproc)",
    "SELECT 'pg_authid'::regclass",
    "SELECT '<a/>'::xml",
    "SELECT CAST('x' AS some_domain)",
    "SELECT 1::oid",
    "SELECT public.upper('x')",
    "SELECT * FROM public.upper('x')",
    "SELECT * FROM myschema.generate_series(1, 3)",
    "SELECT myschema.f(1)",
    'SELECT "PG_SLEEP"(1)',
    # catalogs and system schemas
    "SELECT * FROM pg_catalog.pg_class",
    "SELECT * FROM pg_stat_activity",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM pg_toast.pg_toast_2619",
    "SELECT * FROM otherdb.public.t",
    # escapes that make strings or identifiers mean something else
    "SELECT E'\\x41'",
    "SELECT E'\\\\\\' || pg_sleep(1) || ''",
    # parser and PostgreSQL-lexer exhaustion (nested comments pinned a PostgreSQL core; nested
    # ARRAY[...] makes sqlglot backtrack exponentially)
    "SELECT 1 " + "/*" * 20_001 + "*/" * 20_001,
    "SELECT 1 /*/*/**/*/*/",
    "SELECT " + "ARRAY[" * 25 + "1" + "]" * 25,
    "SELECT 1 " + "/*" * 65 + "*/" * 65,
    "SELECT " + "(" * 65 + "1" + ")" * 65,
    "SELECT 1 /*/*/* unterminated */",
    "SELECT 'unterminated",
    "SELECT 1\x00",
    # syntax outside the allow-list
    "SELECT x FROM t TABLESAMPLE SYSTEM (10)",
    "SELECT 0x1F",
    "SELECT 1 FROM t WHERE a @@ 'x'",
]


@pytest.mark.parametrize("sql", BYPASSES)
def test_refuses_bypasses_of_the_deny_list(sql: str) -> None:
    result = check_sql(sql)
    assert result.ok is False, result.statement
    assert result.reason


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT U&\"pg\\005fread\\005ffile\"('/etc/hostname')", "不支持 Unicode 转义写法"),
        ("SELECT x UESCAPE '!'", "不支持 Unicode 转义写法"),
        ("SELECT * FROM pg_hba_file_rules()", "禁止调用函数: pg_hba_file_rules"),
        ("SELECT dblink_exec('x', 'y')", "禁止调用函数: dblink_exec"),
        ("SELECT public.upper('x')", "禁止调用带模式限定的函数"),
        ("SELECT '1'::regclass", "不支持的类型转换"),
        ("SELECT * FROM information_schema.tables", "禁止访问系统表: information_schema.tables"),
        ("SELECT E'a\\nb'", "E'…' 字符串只支持"),
        ("SELECT j -> 'a\\b' FROM t", "SQL 中含反斜杠的字符串无法安全地重新生成"),
        ("SELECT " + "(" * 33 + "1" + ")" * 33, "SQL 嵌套过深"),
        ("SELECT 1 /* a /* b */ c */", "不支持嵌套的块注释"),
        ("SELECT " + "ARRAY[" * 12 + "1" + "]" * 12, "SQL 结构过于复杂"),
        ("SELECT 1 FROM t WHERE a IN (" + "1," * 6000 + "1)", "SQL 过于复杂"),
        ("SELECT 1 FROM t TABLESAMPLE SYSTEM (1)", "不支持的 SQL 语法: TableSample"),
        ("SELECT 'a", "SQL 中有未闭合的字符串、标识符或注释"),
    ],
)
def test_refusal_reasons_name_the_problem(sql: str, reason: str) -> None:
    assert check_sql(sql).reason.startswith(reason)


def test_nesting_up_to_the_limit_is_accepted() -> None:
    assert check_sql("SELECT " + "(" * 32 + "1" + ")" * 32).ok
    assert check_sql("SELECT 1 /* a */ + /* b * / */ 2").statement == "SELECT 1 + 2"
    assert check_sql("SELECT " + "abs(" * 32 + "1" + ")" * 32).ok


def test_literals_are_regenerated_in_one_quoting_form() -> None:
    result = check_sql("SELECT $$it's$$, $t$a$b$t$, E'plain', 'x\\y', E'z\\\\'")
    # A backslash is written as E'\\': read the same whatever standard_conforming_strings is.
    assert result.statement == "SELECT 'it''s', 'a$b', 'plain', E'x\\\\y', E'z\\\\'"


async def test_backslash_literals_survive_standard_conforming_strings_off(
    business_db_url: str,
) -> None:
    # Read as standard strings: 'a\' and 'x, 1 AS y, z'. With the setting off and the text
    # sent as written, PostgreSQL would read "a', " and then x, 1 AS y, z as code.
    statement = check_sql("SELECT 'a\\' AS first, 'x, 1 AS y, z' AS second").statement
    conn = await asyncpg.connect(business_db_url)
    try:
        await conn.execute("SET standard_conforming_strings = off")
        row = await conn.fetchrow(statement)
    finally:
        await conn.close()
    assert dict(row) == {"first": "a\\", "second": "x, 1 AS y, z"}


def test_function_names_are_checked_by_their_real_name() -> None:
    assert check_sql("SELECT \"lower\"('X'), pg_catalog.upper('x')").ok
    assert check_sql("SELECT \"LOWER\"('X')").reason == "禁止调用函数: LOWER"
    assert check_sql("SELECT LOWER('X')").statement == "SELECT pg_catalog.lower('X')"


def test_size_cap_is_checked_before_parsing() -> None:
    guard = SqlGuard(max_bytes=100)
    assert guard.check_now("SELECT " + "1" * 93).ok
    result = guard.check_now("SELECT " + "1" * 94)
    assert result.reason == "SQL 过长（101 字节，上限 100 字节）"
    # Bytes, not characters: 3 bytes per character here.
    assert not guard.check_now("SELECT '" + "中" * 31 + "'").ok


def test_huge_in_list_is_refused_fast() -> None:
    # 6.9 MB of IN (...) froze the worker for 25 s when it was parsed in full.
    sql = "SELECT 1 FROM t WHERE a IN (" + ",".join(["123456"] * 1_000_000) + ")"
    started = time.perf_counter()
    result = check_sql(sql)
    assert not result.ok
    assert result.reason.startswith("SQL 过长")
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + "NOT " * 10_000 + "TRUE",
        "SELECT " + "1 + " * 15_000 + "1",
        "SELECT " + "- " * 20_000 + "1",
        "SELECT 1 FROM t WHERE " + " AND ".join(["a = 1"] * 6_000),
    ],
)
def test_deep_trees_are_refused_not_raised(sql: str) -> None:
    result = check_sql(sql)  # a RecursionError must not escape
    assert isinstance(result, SqlCheck)
    if not result.ok:
        assert result.reason


def test_extra_functions_extend_the_allow_list() -> None:
    assert not SqlGuard().check_now("SELECT my_fn(1)").ok
    guard = SqlGuard.from_settings(Settings(sql_extra_functions=" my_fn , Other_Fn"))
    assert guard.check_now("SELECT my_fn(1), other_fn(2)").ok


def test_system_relations_can_be_allowed() -> None:
    sql = "SELECT table_name FROM information_schema.tables"
    assert not SqlGuard().check_now(sql).ok
    guard = SqlGuard.from_settings(
        Settings(sql_allowed_system_relations="information_schema.tables")
    )
    assert guard.check_now(sql).ok
    assert not guard.check_now("SELECT * FROM information_schema.columns").ok


def test_unknown_node_classes_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # A node class sqlglot adds later is not on the list: the guard fails closed.
    allowed = tree_check.ALLOWED_NODES - {exp.Column}
    monkeypatch.setattr(tree_check, "ALLOWED_NODES", allowed)
    assert check_sql("SELECT a FROM t").reason == "不支持的 SQL 语法: Column"


async def test_check_parses_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    guard = SqlGuard()
    seen: list[int] = []
    original = guard.check_now

    def record(sql: str) -> SqlCheck:
        seen.append(threading.get_ident())
        return original(sql)

    monkeypatch.setattr(guard, "check_now", record)
    result = await guard.check("SELECT 1")
    assert result.ok and result.statement == "SELECT 1"
    assert seen and seen[0] != threading.get_ident()


async def test_oversized_sql_is_refused_without_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    guard = SqlGuard()
    monkeypatch.setattr(guard, "check_now", lambda sql: pytest.fail("parsed"))
    result = await guard.check("SELECT " + "1" * 10_000_000)
    assert result.reason.startswith("SQL 过长")


# --- regeneration is faithful ---------------------------------------------------------------


def test_corpus_is_large_enough() -> None:
    assert len(ANALYTIC) >= 60


@pytest.mark.parametrize("sql", ANALYTIC)
def test_corpus_is_accepted_and_regeneration_is_stable(sql: str) -> None:
    result = check_sql(sql)
    assert result.ok, result.reason
    again = check_sql(result.statement)
    assert again.ok and again.statement == result.statement


async def _describe_and_fetch(conn: asyncpg.Connection, sql: str) -> tuple[list, list]:
    async with conn.transaction(readonly=True):
        prepared = await conn.prepare(sql)
        columns = [(a.name, a.type.oid) for a in prepared.get_attributes()]
        rows = [tuple(r) for r in await prepared.fetch()]
    return columns, rows


async def test_regenerated_corpus_returns_the_same_results(business_db_url: str) -> None:
    conn = await asyncpg.connect(business_db_url)
    try:
        for sql in ANALYTIC:
            statement = check_sql(sql).statement
            assert await _describe_and_fetch(conn, statement) == await _describe_and_fetch(
                conn, sql
            ), (sql, statement)
    finally:
        await conn.close()


# --- fail closed, bounded work --------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT éROW(1)[x]1e5->>0/* */ AS z",  # sqlglot parses a part with a second parser
        'SELECT v::"text""a""b"{x} FROM hostile_canary',
        "SELECT (1,2) FROM hostile_canary%AT TIME ZONE 'UTC'FROM",  # ValueError in sqlglot
    ],
)
def test_inputs_that_crashed_the_guard_are_refused(sql: str) -> None:
    result = check_sql(sql)
    assert not result.ok and result.reason and not result.statement


def test_any_exception_in_the_check_is_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    guard = SqlGuard()

    def broken(tree: exp.Expression) -> str:
        raise KeyError("a sqlglot defect")

    monkeypatch.setattr(guard, "_regenerate", broken)
    result = guard.check_now("SELECT 1")
    assert not result.ok and result.reason == refusals.MSG_GUARD_FAILED


def test_the_parse_budget_works_in_any_parser_instance() -> None:
    dialect = GuardDialect()
    # sqlglot enters a parser of its own through parse_into(), never through parse().
    parsed = dialect.parser().parse_into(exp.DataType, dialect.tokenize("varchar(10)"))
    assert isinstance(parsed[0], exp.DataType)


@pytest.mark.parametrize("n", [17, 400, 800, 3300])
@pytest.mark.parametrize("gap", ["", " ", " /* c */ ", "\n-- c\n"])
def test_subscript_chains_are_refused_before_parsing(n: int, gap: str) -> None:
    # 400 subscripts took 9 s of guard CPU, 800 took 33 s.
    sql = "SELECT x" + ("[1]" + gap) * n + " FROM t"
    started = time.perf_counter()
    result = check_sql(sql)
    assert result.reason == refusals.MSG_SUBSCRIPTS
    assert time.perf_counter() - started < 0.1


def test_subscript_chains_through_parentheses_count() -> None:
    sql = "x"
    for _ in range(30):
        sql = "(" + sql + "[1]" * 8 + ")"
    started = time.perf_counter()
    assert check_sql("SELECT " + sql).reason == refusals.MSG_SUBSCRIPTS
    assert time.perf_counter() - started < 0.1


def test_short_subscript_chains_are_accepted() -> None:
    assert check_sql("SELECT x" + "[1]" * 16 + " FROM t").ok
    assert check_sql("SELECT (x[1])[2], a[1] + b[2][3], j['a']['b'] FROM t").ok
    assert check_sql("SELECT " + ", ".join(["x[1][2]"] * 300) + " FROM t").ok


async def test_checks_run_on_the_guards_own_threads() -> None:
    guard = SqlGuard()
    names: list[str] = []
    original = guard.check_now

    def record(sql: str) -> SqlCheck:
        names.append(threading.current_thread().name)
        return original(sql)

    guard.check_now = record  # type: ignore[method-assign]
    assert (await guard.check("SELECT 1")).ok
    assert names and names[0].startswith("sql-guard")


async def test_a_full_guard_queue_refuses_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    monkeypatch.setattr(sql_guard, "guard_queue", lambda: queue)
    queue = GuardQueue(threads=1, limit=3)
    release = threading.Event()
    guard = SqlGuard()
    original = guard.check_now

    def slow(sql: str) -> SqlCheck:
        release.wait(10)
        return original(sql)

    guard.check_now = slow  # type: ignore[method-assign]
    pending = [asyncio.create_task(guard.check("SELECT 1")) for _ in range(3)]
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    refused = await guard.check("SELECT 1")
    assert refused.reason == refusals.MSG_GUARD_BUSY
    assert time.perf_counter() - started < 0.05
    release.set()
    assert all(r.ok for r in await asyncio.gather(*pending))
    assert (await guard.check("SELECT 1")).ok  # the slots are given back
    queue.executor.shutdown()


# --- every call resolves to the built-in ------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT \"PG_CATALOG\".lower('a')",
        "SELECT \"Pg_Catalog\".lower('a')",
        'SELECT * FROM "PG_CATALOG".generate_series(1, 2) AS g',
        "SELECT myschema.count(*) FILTER (WHERE true) FROM t",
        "SELECT myschema.mode() WITHIN GROUP (ORDER BY a) FROM t",
        'SELECT "PG_CATALOG".count(*) FILTER (WHERE true) FROM t',
    ],
)
def test_only_the_real_pg_catalog_qualifies_a_call(sql: str) -> None:
    assert check_sql(sql).reason.startswith("禁止调用带模式限定的函数")


@pytest.mark.parametrize(
    ("sql", "statement"),
    [
        ("SELECT lower(v) FROM t", "SELECT pg_catalog.lower(v) FROM t"),
        ("SELECT \"pg_catalog\".lower('a')", "SELECT pg_catalog.lower('a')"),
        ("SELECT PG_CATALOG.upper('a')", "SELECT pg_catalog.upper('a')"),
        (
            "SELECT round(avg(a), 2), coalesce(nullif(b, 0), greatest(c, 1)) FROM t",
            "SELECT pg_catalog.round(pg_catalog.avg(a), 2), "
            "coalesce(nullif(b, 0), greatest(c, 1)) FROM t",
        ),
        (
            "SELECT count(*) FILTER (WHERE a > 1), mode() WITHIN GROUP (ORDER BY a), "
            "row_number() OVER (ORDER BY a) FROM t",
            "SELECT pg_catalog.count(*) FILTER(WHERE a > 1), pg_catalog.mode() WITHIN GROUP "
            "(ORDER BY a), pg_catalog.row_number() OVER (ORDER BY a) FROM t",
        ),
        (
            "SELECT * FROM generate_series(1, 3) g, unnest(ARRAY[1]) WITH ORDINALITY u(x, n)",
            "SELECT * FROM pg_catalog.generate_series(1, 3) AS g, "
            "pg_catalog.unnest(ARRAY[1]) WITH ORDINALITY AS u(x, n)",
        ),
    ],
)
def test_calls_are_regenerated_qualified_with_pg_catalog(sql: str, statement: str) -> None:
    result = check_sql(sql)
    assert result.statement == statement
    assert check_sql(result.statement).statement == statement


def test_extra_functions_stay_unqualified() -> None:
    guard = SqlGuard(extra_functions=["my_fn"])
    assert guard.check_now("SELECT my_fn(1)").statement == "SELECT my_fn(1)"


def _allowed_without_pg_proc_row() -> str:
    return (
        "SELECT coalesce(array_agg(n ORDER BY n), '{}') FROM unnest($1::text[]) n "
        "WHERE NOT EXISTS (SELECT 1 FROM pg_proc p WHERE p.proname = n "
        "AND p.pronamespace = 'pg_catalog'::regnamespace)"
    )


PG15_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.mark.parametrize("server", ["pg15", "pg18"])
async def test_grammar_constructs_are_exactly_the_names_without_a_function(
    server: str, embedded_pg_url: str
) -> None:
    # Every other allowed name is called as pg_catalog.<name>(...): it must exist there.
    from citu.sql.functions import ALLOWED_FUNCTIONS, GRAMMAR_CONSTRUCTS

    url = PG15_URL if server == "pg15" else embedded_pg_url
    try:
        conn = await asyncpg.connect(url, timeout=5)
    except (OSError, asyncpg.PostgresError):
        pytest.skip(f"{server} not reachable")
    try:
        version = await conn.fetchval("SHOW server_version_num")
        assert version.startswith("15" if server == "pg15" else "18")
        names = sorted(ALLOWED_FUNCTIONS)
        missing = await conn.fetchval(_allowed_without_pg_proc_row(), names)
    finally:
        await conn.close()
    assert set(missing) == GRAMMAR_CONSTRUCTS


async def test_a_planted_overload_in_public_is_not_called(business_admin_url: str) -> None:
    import uuid

    from citu.db.embedded import with_database

    admin = await asyncpg.connect(business_admin_url, timeout=5)
    name = f"citu_overload_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = await asyncpg.connect(with_database(business_admin_url, name))
        try:
            await conn.execute(
                "CREATE TABLE t (v varchar); INSERT INTO t VALUES ('ABC');"
                "CREATE FUNCTION public.lower(varchar) RETURNS text LANGUAGE sql "
                "AS $$ SELECT 'planted' $$;"
            )
            assert await conn.fetchval("SELECT lower(v) FROM t") == "planted"
            assert await conn.fetchval(check_sql("SELECT lower(v) FROM t").statement) == "abc"
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# --- size-amplifying functions ------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT length(repeat('x', 400000000))",
        "SELECT length(lpad('', 200000000, 'x'))",
        "SELECT length(rpad('', 10001, 'x'))",
        "SELECT cardinality(array_fill(0, ARRAY[100000000]))",
        "SELECT cardinality(array_fill(0, ARRAY[1000, 1000]))",
        "SELECT length(format('%*s', 300000000, 'x'))",
        "SELECT length(format('%1$*2$s', 'x', 300000000))",
        "SELECT length(format('%300000000s', 'x'))",
        "SELECT format(f, 1) FROM t",
        "SELECT length(string_agg(repeat('x', 1000000), '')) FROM generate_series(1, 400)",
        "SELECT length(string_agg(repeat('x', 1000), '')) FROM generate_series(1, 400)",
        "SELECT repeat('x', n) FROM t",
        "SELECT repeat('x', 5000 + 5000)",
        "SELECT repeat(repeat('x', 100), 10000)",
        "SELECT repeat('0123456789', 2000)",  # 20,000 characters
        "SELECT repeat(v, 1000) FROM t",  # a column of unknown width
        "SELECT array_fill(0, d) FROM t",
    ],
)
def test_size_amplifying_calls_need_small_literal_sizes(sql: str) -> None:
    result = check_sql(sql)
    assert not result.ok
    assert "不超过" in result.reason or "常量" in result.reason


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT lpad(code, 6, '0'), rpad(name, 20) FROM t",
        "SELECT repeat('-', 20), repeat('ab', 5000), repeat(v, 3) FROM t",
        "SELECT array_fill(0, ARRAY[3, 3]), array_fill(0, ARRAY[10000])",
        "SELECT format('%s: %10s|%-5s %1$s %%', a, b, c) FROM t",
        "SELECT string_agg(lpad(code, 6, '0'), ',') FROM t",
    ],
)
def test_ordinary_padding_and_formatting_are_accepted(sql: str) -> None:
    assert check_sql(sql).ok, check_sql(sql).reason


def test_the_size_bound_is_a_setting() -> None:
    guard = SqlGuard.from_settings(Settings(sql_max_function_size=50))
    assert guard.check_now("SELECT lpad(code, 50, '0') FROM t").ok
    assert not guard.check_now("SELECT lpad(code, 51, '0') FROM t").ok
