import pytest

from citu.agents.sql_guard import SqlCheck, check_sql

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
    "SELECT current_setting('TimeZone'), now()",
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


def test_statement_strips_outer_comments_and_semicolons() -> None:
    result = check_sql("  -- intro\n SELECT a /* keep */ FROM t ;; -- tail\n")
    assert result.statement == "SELECT a /* keep */ FROM t"


def test_statement_keeps_original_text() -> None:
    # sqlglot would rewrite date_part() to EXTRACT() (numeric instead of double precision).
    sql = "SELECT date_part('day', d) AS 日, x::numeric(10,2) FROM t"
    assert check_sql(sql).statement == sql


def test_parse_error_reason_has_no_ansi_codes() -> None:
    result = check_sql("SELECT (")
    assert result.reason.startswith("SQL 解析失败")
    assert "\x1b" not in result.reason
