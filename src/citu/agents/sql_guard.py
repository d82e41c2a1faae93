"""Static safety check for SQL that an LLM or a client wants to run on the business database.

This is the first of two layers: the runner (``sql_runner``) additionally executes inside a
READ ONLY transaction with a statement timeout, over the extended protocol (one statement only).
A first-keyword check is not enough, so the whole sqlglot tree is inspected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

__all__ = ["SqlCheck", "check_sql"]

MSG_EMPTY = "SQL 语句为空"
MSG_SINGLE_READ = "只允许执行单条只读查询语句"
MSG_MULTI = "只允许执行单条只读查询语句，检测到多条语句"

# Statements that change data (also refused when nested in a CTE).
_WRITE_NODES: dict[type[exp.Expression], str] = {
    exp.Insert: "INSERT",
    exp.Update: "UPDATE",
    exp.Delete: "DELETE",
    exp.Merge: "MERGE",
    exp.TruncateTable: "TRUNCATE",
    exp.Copy: "COPY",
}

# DDL / DCL / session / transaction control and other non-query statements sqlglot knows.
_STATEMENT_NODES: dict[type[exp.Expression], str] = {
    exp.Create: "CREATE",
    exp.Drop: "DROP",
    exp.Alter: "ALTER",
    exp.Grant: "GRANT",
    exp.Revoke: "REVOKE",
    exp.Comment: "COMMENT",
    exp.Refresh: "REFRESH",
    exp.Analyze: "ANALYZE",
    exp.Transaction: "BEGIN",
    exp.Commit: "COMMIT",
    exp.Rollback: "ROLLBACK",
    exp.Set: "SET",
    exp.Use: "USE",
    exp.Pragma: "PRAGMA",
    exp.Kill: "KILL",
    exp.Cache: "CACHE",
    exp.Uncache: "UNCACHE",
    exp.LoadData: "LOAD DATA",
    exp.Declare: "DECLARE",
    exp.Execute: "EXECUTE",
    exp.Describe: "DESCRIBE",
    exp.Show: "SHOW",
}

# Functions with side effects, that sleep/lock, touch the server's files, open other connections
# or execute SQL text of their own (which the guard cannot see). Matched case-insensitively.
_DENY_FUNCTIONS = frozenset(
    {
        "set_config",
        "nextval",
        "setval",
        "pg_notify",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_promote",
        "pg_switch_wal",
        "pg_start_backup",
        "pg_stop_backup",
        "pg_log_backend_memory_contexts",
        "pg_import_system_collations",
        "pg_truncate_visibility_map",
        "pg_stat_file",
        "pg_logdir_ls",
        "pg_prewarm",
        "pg_stat_statements_reset",
        "gin_clean_pending_list",
        "loread",
        "lowrite",
        "ts_stat",  # runs the SQL text passed as argument
        "ts_rewrite",  # the two-argument form runs a query
    }
)
_DENY_PREFIXES = (
    "pg_sleep",
    "pg_read_",
    "pg_ls_",
    "pg_file_",
    "pg_advisory",
    "pg_try_advisory",
    "pg_create_",
    "pg_drop_replication",
    "pg_copy_",
    "pg_replication_",
    "pg_logical_",
    "pg_stat_reset",
    "pg_wal_replay_",
    "pg_backup_",
    "lo_",
    "dblink",
    "query_to_",
    "cursor_to_",
    "table_to_xml",
    "schema_to_xml",
    "database_to_xml",
    "brin_",
)

# Catalogs holding password hashes, FDW credentials or server configuration.
_DENY_TABLES = frozenset(
    {
        "pg_authid",
        "pg_shadow",
        "pg_user_mapping",
        "pg_user_mappings",
        "pg_hba_file_rules",
        "pg_ident_file_mappings",
        "pg_file_settings",
        "pg_largeobject",
        "pg_statistic",
    }
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class SqlCheck:
    ok: bool
    reason: str = ""
    statement: str = ""


def _refuse(reason: str) -> SqlCheck:
    return SqlCheck(ok=False, reason=reason, statement="")


def _is_denied_function(name: str) -> bool:
    lowered = name.lower()
    return lowered in _DENY_FUNCTIONS or lowered.startswith(_DENY_PREFIXES)


def _function_names(node: exp.Func) -> list[str]:
    if isinstance(node, exp.Anonymous):
        return [node.name]
    # Typed functions: check every name sqlglot maps to this class.
    return [n for n in node.sql_names()]


def _inspect(tree: exp.Expression) -> str | None:
    """Return a refusal reason for the first forbidden construct anywhere in the tree."""
    for node in tree.walk():
        for cls, keyword in _WRITE_NODES.items():
            if isinstance(node, cls):
                return f"检测到写操作: {keyword}"
        if isinstance(node, exp.Command):
            keyword = str(node.this or "").split(maxsplit=1)[0].upper() or "UNKNOWN"
            return f"不支持的语句类型: {keyword}"
        for cls, keyword in _STATEMENT_NODES.items():
            if isinstance(node, cls):
                return f"禁止执行非查询语句: {keyword}"
        if isinstance(node, (exp.DML, exp.DDL)):  # catch-all for classes added by sqlglot later
            return f"禁止执行非查询语句: {type(node).__name__.upper()}"
        if isinstance(node, exp.Into):
            return "禁止使用 SELECT ... INTO 创建表"
        if isinstance(node, exp.Lock):
            return f"禁止使用行锁: {node.sql(dialect='postgres')}"
        if isinstance(node, (exp.Parameter, exp.Placeholder)):
            return "SQL 中不允许包含参数占位符"
        if isinstance(node, exp.Func):
            for name in _function_names(node):
                if _is_denied_function(name):
                    return f"禁止调用函数: {name.lower()}"
        if isinstance(node, exp.Table) and node.name.lower() in _DENY_TABLES:
            return f"禁止访问系统表: {node.name.lower()}"
    return None


def _statement_text(sql: str) -> str | None:
    """Original text of the statement, without surrounding comments and semicolons.

    The original text is executed rather than sqlglot's regenerated SQL, because regeneration
    changes semantics in places (e.g. date_part() becomes EXTRACT(), which returns numeric
    instead of double precision; 0x1F becomes a byte string). sqlglot's lexer follows
    PostgreSQL (nested comments, dollar quotes, standard strings), and the runner's extended
    protocol refuses a second statement anyway.
    """
    tokens = [t for t in Postgres().tokenize(sql) if t.token_type != TokenType.SEMICOLON]
    if not tokens:
        return None
    return sql[tokens[0].start : tokens[-1].end + 1]


def check_sql(sql: str) -> SqlCheck:
    """Accept exactly one read-only query (SELECT / set operation / WITH ... SELECT / VALUES)."""
    if not sql or not sql.strip():
        return _refuse(MSG_EMPTY)
    try:
        parsed = sqlglot.parse(sql, dialect="postgres")
        text = _statement_text(sql)
    except (SqlglotError, RecursionError) as exc:
        detail = _ANSI.sub("", str(exc)).splitlines()[0] if str(exc) else type(exc).__name__
        return _refuse(f"SQL 解析失败: {detail[:200]}")

    statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    if not statements or text is None:
        return _refuse(MSG_EMPTY)
    if len(statements) > 1:
        return _refuse(MSG_MULTI)

    tree = statements[0]
    reason = _inspect(tree)
    if reason:
        return _refuse(reason)
    # Allow-list the top level: sqlglot parses some statements (NOTIFY x, SAVEPOINT x) as an alias.
    if not isinstance(tree, (exp.Query, exp.Values)):
        return _refuse(MSG_SINGLE_READ)
    return SqlCheck(ok=True, reason="", statement=text)
