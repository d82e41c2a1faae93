"""Allow-list check of SQL that a client or an LLM wants to run on the business database.

What runs is what was checked: the SQL sent to PostgreSQL is regenerated from the checked
sqlglot tree (no comments, no escapes, none of the client's text), so a construct that
sqlglot reads differently from PostgreSQL cannot smuggle anything past the check.

The check is an allow-list at every level: one query at the top (SELECT, WITH ... SELECT,
set operations, VALUES); every tree node of a known, harmless class (an unknown class, e.g.
from a newer sqlglot, is refused); every function a listed PostgreSQL built-in, checked by
its real name; every cast target an ordinary type; no system schema or catalog.

Work is bounded before sqlglot sees the text: a byte cap and a linear scan that caps
parenthesis and comment nesting and subscript chains and refuses Unicode-escape forms.
``SqlGuard.check`` runs the parse and the walk on the guard's own small thread pool (bounded queue)
so a large statement never stalls the event loop nor starves other thread users.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import SqlglotError

from citu.sql.functions import (
    ALLOWED_FUNCTIONS,
    CONCATENATING_AGGREGATES,
    GRAMMAR_CONSTRUCTS,
    SIZE_ARGUMENT,
)

if TYPE_CHECKING:
    from citu.settings import Settings

__all__ = ["SqlCheck", "SqlGuard", "check_sql", "default_guard"]

log = logging.getLogger("citu.sql_guard")

MSG_EMPTY = "SQL 语句为空"
MSG_SINGLE_READ = "只允许执行单条只读查询语句"
MSG_MULTI = "只允许执行单条只读查询语句，检测到多条语句"
MSG_UNICODE_ESCAPE = "不支持 Unicode 转义写法（U&'…'、U&\"…\"、UESCAPE）"
MSG_E_STRING = "E'…' 字符串只支持 \\\\ 转义，请改用普通字符串（如需特殊字符可用 chr()）"
MSG_NUL = "SQL 中不允许包含 NUL 字符"
MSG_UNTERMINATED = "SQL 中有未闭合的字符串、标识符或注释"
MSG_PARAMETER = "SQL 中不允许包含参数占位符"
MSG_UNSAFE_LITERAL = "SQL 中含反斜杠的字符串无法安全地重新生成，请改写（如用 chr(92)）"
MSG_NESTED_COMMENT = "不支持嵌套的块注释（/* /* … */ */）"
MSG_TOO_COMPLEX = "SQL 结构过于复杂，拒绝解析"
MSG_INTO = "禁止使用 SELECT ... INTO 创建表"
MSG_GUARD_FAILED = "SQL 无法被安全检查，拒绝执行"
MSG_GUARD_BUSY = "SQL 检查繁忙：排队的检查已达上限，请稍后重试"

DEFAULT_MAX_BYTES = 64 * 1024
DEFAULT_MAX_DEPTH = 32  # sqlglot's recursion runs out near 45 nested parentheses
# Parsing costs tens of microseconds per token in pure Python: this bounds one check's CPU.
DEFAULT_MAX_TOKENS = 10_000
# sqlglot's work grows faster than linearly with a chain of subscripts (x[1][1]...): 200 take
# seconds. PostgreSQL arrays have at most 6 dimensions; jsonb paths rarely go deeper than 16.
MAX_SUBSCRIPT_CHAIN = 16
# Result size (characters or array elements) a size-amplifying call may ask for: repeat(),
# lpad(), array_fill(), format('%*s') allocate it at once in the database backend.
DEFAULT_MAX_FUNCTION_SIZE = 10_000
# Inside a concatenating aggregate or another amplifying call the size is multiplied by the
# row count or the outer size: only small amounts (padding, separators) are allowed there.
NESTED_FUNCTION_SIZE = 100
MSG_SUBSCRIPTS = f"SQL 中连续下标过多（超过 {MAX_SUBSCRIPT_CHAIN} 个 [...]）"

# Messages for the statement classes people actually try; any other class gets a generic one.
_NAMED_REFUSALS: dict[type[exp.Expression], str] = {
    exp.Insert: "检测到写操作: INSERT",
    exp.Update: "检测到写操作: UPDATE",
    exp.Delete: "检测到写操作: DELETE",
    exp.Merge: "检测到写操作: MERGE",
    exp.TruncateTable: "检测到写操作: TRUNCATE",
    exp.Copy: "检测到写操作: COPY",
    exp.Create: "禁止执行非查询语句: CREATE",
    exp.Drop: "禁止执行非查询语句: DROP",
    exp.Alter: "禁止执行非查询语句: ALTER",
    exp.Grant: "禁止执行非查询语句: GRANT",
    exp.Revoke: "禁止执行非查询语句: REVOKE",
    exp.Set: "禁止执行非查询语句: SET",
    exp.Into: MSG_INTO,
    exp.Parameter: MSG_PARAMETER,
    exp.Placeholder: MSG_PARAMETER,
}

# Every sqlglot node class a checked query may contain. Anonymous, Table, DataType, Var,
# Literal and Dot get a closer look in ``_check_node``.
_ALLOWED_NODES: frozenset[type[exp.Expression]] = frozenset(
    {
        # query structure
        exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery,
        exp.With, exp.CTE, exp.TableAlias, exp.From, exp.Join, exp.Where, exp.Group,
        exp.Having, exp.Order, exp.Ordered, exp.Limit, exp.Offset, exp.Fetch,
        exp.LimitOptions, exp.Distinct, exp.Window, exp.WindowSpec, exp.Lateral, exp.Table,
        exp.Tuple, exp.Alias, exp.Column, exp.Identifier, exp.Star, exp.Filter,
        exp.WithinGroup, exp.GroupingSets, exp.Rollup, exp.Cube,
        # operators and predicates
        exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Neg, exp.Not, exp.And, exp.Or,
        exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ,
        exp.Is, exp.In, exp.Between, exp.Like, exp.ILike, exp.SimilarTo, exp.RegexpLike,
        exp.RegexpILike, exp.Escape, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Pow,
        exp.BitwiseAnd, exp.BitwiseOr, exp.BitwiseXor, exp.BitwiseNot,
        exp.BitwiseLeftShift, exp.BitwiseRightShift, exp.DPipe, exp.Any, exp.All,
        exp.Exists, exp.Bracket, exp.Slice, exp.Array, exp.Unnest, exp.AtTimeZone, exp.Collate,
        exp.Case, exp.If, exp.Kwarg,
        # syntax forms sqlglot keeps as typed nodes (ordinary calls stay Anonymous)
        exp.Anonymous, exp.Dot, exp.Cast, exp.DataType, exp.DataTypeParam, exp.Interval,
        exp.Var, exp.Extract, exp.Substring, exp.Trim, exp.StrPosition, exp.Overlay,
        exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentTime, exp.Localtimestamp,
        exp.Localtime,
        # JSON and array operators
        exp.JSONExtract, exp.JSONExtractScalar, exp.JSONBExtract, exp.JSONBExtractScalar,
        exp.JSONPath, exp.JSONPathKey, exp.JSONPathRoot, exp.JSONPathSubscript,
        exp.JSONBContains, exp.JSONBContainsTopKey, exp.JSONBContainsAnyTopKeys,
        exp.JSONBContainsAllTopKeys, exp.ArrayContainsAll, exp.ArrayContainedBy,
        exp.ArrayOverlaps,
    }
)  # fmt: skip

_TOP_LEVEL = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery)

# Cast targets: ordinary value types only.
_ALLOWED_TYPES = frozenset(
    exp.DataType.Type[name]
    for name in (
        "SMALLINT", "INT", "BIGINT", "DECIMAL", "DOUBLE", "FLOAT", "MONEY", "TEXT", "VARCHAR",
        "CHAR", "BPCHAR", "BOOLEAN", "DATE", "TIME", "TIMETZ", "TIMESTAMP", "TIMESTAMPTZ",
        "INTERVAL", "JSON", "JSONB", "UUID", "VARBINARY", "ARRAY",
    )
)  # fmt: skip

# System schemas and catalogs: catalog contents, server files and settings live there.
_SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})

_STEPS_PER_TOKEN = 20
_STEPS_BASE = 1000

_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z_ ]*")


class _Dialect(Postgres):
    """PostgreSQL as sqlglot reads it, except that ordinary function calls stay
    ``exp.Anonymous``: exact name for the allow-list, exact call when regenerated."""

    class Parser(Postgres.Parser):
        FUNCTIONS: dict = {}
        # Only calls with syntax of their own (CAST(x AS t), EXTRACT(f FROM x) ...).
        FUNCTION_PARSERS = {
            name: parse
            for name, parse in Postgres.Parser.FUNCTION_PARSERS.items()
            if name in {"CAST", "EXTRACT", "SUBSTRING", "TRIM", "POSITION", "OVERLAY"}
        }

        # sqlglot backtracks, exponentially on some inputs (nested ARRAY[...] doubles the work
        # per level), and a thread cannot be interrupted: parsing gets a budget of token
        # steps. Ordinary queries take under two steps per token.
        # ``_parse`` is the entry of ``parse`` and ``parse_into``: sqlglot builds parsers of its
        # own inside a parse (e.g. for a quoted type name) and enters through the latter.
        def _parse(self, parse_method, raw_tokens: list, sql: str | None = None) -> list:  # type: ignore[no-untyped-def]
            self._guard_budget = _STEPS_PER_TOKEN * len(raw_tokens) + _STEPS_BASE
            return super()._parse(parse_method, raw_tokens, sql)

        def _advance(self, times: int = 1) -> None:
            budget = getattr(self, "_guard_budget", _STEPS_BASE) - 1
            self._guard_budget = budget
            if budget < 0:
                raise _Refused(MSG_TOO_COMPLEX)
            super()._advance(times)

    class Generator(Postgres.Generator):
        # string_agg(DISTINCT a, ',') is valid PostgreSQL: written as given, not rewritten into
        # a CASE over a row (which PostgreSQL rejects).
        MULTI_ARG_DISTINCT = True
        TRANSFORMS = {
            **Postgres.Generator.TRANSFORMS,
            # sqlglot writes x ^ y as POWER(x, y), which would read back as a different node.
            exp.Pow: lambda self, e: self.binary(e, "^"),
            # sqlglot writes CURRENT_TIME(), which PostgreSQL does not accept.
            exp.CurrentTime: lambda self, e: (
                f"CURRENT_TIME({self.sql(e, 'this')})" if e.this else "CURRENT_TIME"
            ),
        }

        def literal_sql(self, expression: exp.Literal) -> str:
            text = expression.this or ""
            if expression.is_string and "\\" in text:
                # E'' reads the same whatever standard_conforming_strings says; in a plain
                # literal a backslash before a quote would end the string early when it is off.
                escaped = text.replace("\\", "\\\\").replace("'", "''")
                return f"E'{escaped}'"
            return super().literal_sql(expression)


@dataclass(frozen=True)
class SqlCheck:
    """The verdict: ``statement`` is the regenerated SQL to run, set only when ``ok``."""

    ok: bool
    reason: str = ""
    statement: str = ""


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _refuse(reason: str) -> SqlCheck:
    return SqlCheck(ok=False, reason=reason, statement="")


# --- the linear pre-scan ------------------------------------------------------------------

_SCAN = re.compile(
    r"""--|/\*|(?<![\w$])[uU]&['"]|(?<![\w$])[eE]'|['"()\[\]\x00]|(?<![\w$])\$|"""
    r"""(?<![\w$])[uU][eE][sS][cC][aA][pP][eE](?![\w$])"""
)
_COMMENT_MARK = re.compile(r"/\*|\*/")
_DOLLAR_TAG = re.compile(r"\$(?:[^\W\d]\w*)?\$")


def _skip_quoted(sql: str, start: int, quote: str) -> int:
    """Index after the literal whose opening ``quote`` is at ``start`` (doubled quotes escape)."""
    pos = start + 1
    while True:
        end = sql.find(quote, pos)
        if end < 0:
            raise _Refused(MSG_UNTERMINATED)
        if sql.startswith(quote, end + 1):
            pos = end + 2
            continue
        return end + 1


def _skip_comment(sql: str, start: int) -> int:
    """Index after the comment opened at ``start``. PostgreSQL nests block comments and sqlglot
    does not, so the two would disagree on where one ends: nesting is refused."""
    mark = _COMMENT_MARK.search(sql, start + 2)
    if mark is None:
        raise _Refused(MSG_UNTERMINATED)
    if mark.group() == "/*":
        raise _Refused(MSG_NESTED_COMMENT)
    return mark.end()


def prescan(sql: str, max_depth: int, *, regenerated: bool = False) -> None:
    """Raise ``_Refused`` for what must never reach the parser; linear in ``len(sql)``.

    Follows PostgreSQL's lexer for comments, strings, quoted identifiers and dollar quotes, so
    that parentheses inside them are not counted and escapes are found in code only. With
    ``regenerated``, checks citu's own output instead: a backslash in a plain literal would
    end the string early if standard_conforming_strings were off.
    """
    depth, pos = 0, 0
    # Subscripts in a row: ``chain`` counts them, ``after_close`` is where the last "]" ended
    # (moved past comments and blanks that follow it), -1 when something else came between.
    chain, after_close = 0, -1
    while (match := _SCAN.search(sql, pos)) is not None:
        token, start = match.group(), match.start()
        pos = match.end()
        adjacent = after_close >= 0 and not sql[after_close:start].strip()
        after_close = -1
        if token == "--":
            newline = sql.find("\n", pos)
            pos = len(sql) if newline < 0 else newline + 1
            after_close = pos if adjacent else -1
        elif token == "/*":
            pos = _skip_comment(sql, start)
            after_close = pos if adjacent else -1
        elif token[0] in "uU" and len(token) > 1:
            raise _Refused(MSG_UNICODE_ESCAPE)
        elif token in ("'", '"'):
            pos = _skip_quoted(sql, start, token)
            if regenerated and token == "'" and "\\" in sql[start:pos]:
                raise _Refused(MSG_UNSAFE_LITERAL)
        elif token[0] in "eE":
            pos = _skip_quoted(sql, start + 1, "'")
            # Only doubled backslashes (one literal backslash each, never escaping a quote):
            # sqlglot does not decode the other escapes as PostgreSQL does.
            if "\\" in sql[start:pos].replace("\\\\", ""):
                raise _Refused(MSG_E_STRING)
        elif token == "$":
            tag = _DOLLAR_TAG.match(sql, start)
            if tag is not None:  # "$1" (a parameter) is left to the parser, which refuses it
                end = sql.find(tag.group(), tag.end())
                if end < 0:
                    raise _Refused(MSG_UNTERMINATED)
                pos = end + len(tag.group())
        elif token in "([":
            depth += 1
            if depth > max_depth:
                raise _Refused(f"SQL 嵌套过深（括号嵌套超过 {max_depth} 层）")
            if token == "[":
                chain = chain + 1 if adjacent else 1
                if chain > MAX_SUBSCRIPT_CHAIN:
                    raise _Refused(MSG_SUBSCRIPTS)
        elif token in ")]":
            depth -= 1
            # "(x[1])[2]" chains too: a ")" right after a "]" keeps the chain going.
            if token == "]" or adjacent:
                after_close = pos
        else:  # NUL
            raise _Refused(MSG_NUL)


# --- the tree check -----------------------------------------------------------------------


class SqlGuard:
    """The allow-list SQL check, configured once from settings and shared by every caller."""

    def __init__(
        self,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_depth: int = DEFAULT_MAX_DEPTH,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        max_function_size: int = DEFAULT_MAX_FUNCTION_SIZE,
        extra_functions: Iterable[str] = (),
        allowed_relations: Iterable[str] = (),
    ) -> None:
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.max_tokens = max_tokens
        self.max_function_size = max_function_size
        self.functions = ALLOWED_FUNCTIONS | {n.strip().lower() for n in extra_functions if n}
        # "schema.table" or "table", lower-case: system relations a deployment allows.
        self.allowed_relations = frozenset(n.strip().lower() for n in allowed_relations if n)
        self._dialect = _Dialect()

    @classmethod
    def from_settings(cls, settings: Settings) -> SqlGuard:
        return cls(
            max_bytes=settings.sql_max_bytes,
            max_depth=settings.sql_max_depth,
            max_tokens=settings.sql_max_tokens,
            max_function_size=settings.sql_max_function_size,
            extra_functions=settings.sql_extra_functions.split(","),
            allowed_relations=settings.sql_allowed_system_relations.split(","),
        )

    @property
    def max_body_bytes(self) -> int:
        """The largest JSON request body that can carry an acceptable statement (JSON may
        escape one byte of SQL as six characters): a larger body need not be read."""
        return 6 * self.max_bytes + 4096

    def body_too_large(self, body_bytes: int) -> str:
        return f"SQL 过长（请求体 {body_bytes} 字节，SQL 上限 {self.max_bytes} 字节）"

    async def check(self, sql: str) -> SqlCheck:
        """``check_now`` on the guard's own threads (parsing is CPU work); oversized text is
        refused on the spot, without a thread.

        The guard's threads are few and its queue is bounded: a burst of slow checks waits
        for them (or is refused when the queue is full) instead of occupying the default
        executor that every other ``asyncio.to_thread`` user of the worker shares.
        """
        if len(sql) > self.max_bytes:  # characters <= bytes: surely too large
            return _refuse(f"SQL 过长（{len(sql)} 个字符，上限 {self.max_bytes} 字节）")
        queue = _guard_queue()
        if not queue.enter():
            return _refuse(MSG_GUARD_BUSY)
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(queue.executor, self.check_now, sql)
        finally:
            queue.leave()

    def check_now(self, sql: str) -> SqlCheck:
        """The verdict, computed in the calling thread (CPU-bound for large statements)."""
        try:
            return SqlCheck(ok=True, statement=self._checked_statement(sql))
        except _Refused as refusal:
            return _refuse(refusal.reason)
        except RecursionError:
            return _refuse(f"SQL 嵌套过深（括号嵌套超过 {self.max_depth} 层）")
        except SqlglotError as exc:
            return _refuse(f"SQL 解析失败: {_first_line(exc)}")
        except Exception:  # noqa: BLE001 - fail closed: a guard defect refuses, never runs
            log.warning("SQL guard failed on a statement; refused", exc_info=True)
            return _refuse(MSG_GUARD_FAILED)

    def _too_large(self, size: int) -> str:
        return f"SQL 过长（{size} 字节，上限 {self.max_bytes} 字节）"

    def _checked_statement(self, sql: str) -> str:
        if not sql or not sql.strip():
            raise _Refused(MSG_EMPTY)
        size = len(sql.encode("utf-8", "surrogatepass"))
        if size > self.max_bytes:
            raise _Refused(self._too_large(size))
        prescan(sql, self.max_depth)
        statement = self._regenerate(self._parse_one(sql))
        prescan(statement, max_depth=len(statement), regenerated=True)
        return statement

    def _parse_one(self, sql: str) -> exp.Expression:
        tokens = self._dialect.tokenize(sql)
        if len(tokens) > self.max_tokens:
            raise _Refused(f"SQL 过于复杂（超过 {self.max_tokens} 个词法单元）")
        parsed = self._dialect.parser().parse(tokens, sql)
        statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
        if not statements:
            raise _Refused(MSG_EMPTY)
        if len(statements) > 1:
            raise _Refused(MSG_MULTI)
        tree = statements[0]
        # Dollar-quoted and E'' strings (the latter with doubled backslashes only, see prescan)
        # become ordinary literals: no quoting form of the client's reaches the server.
        for literal in list(tree.find_all(exp.RawString)):
            literal.replace(exp.Literal.string(literal.name))
        for literal in list(tree.find_all(exp.ByteString)):  # E'...': sqlglot keeps \\ raw
            literal.replace(exp.Literal.string(literal.name.replace("\\\\", "\\")))
        for node in tree.walk():
            self._check_node(node)
        if not isinstance(tree, _TOP_LEVEL):
            raise _Refused(MSG_SINGLE_READ)
        for column in list(tree.find_all(exp.Column)):
            if not isinstance(column.this, (exp.Identifier, exp.Star)):
                column.replace(column.this)  # its pg_catalog qualifier is put on the call below
        for call in list(tree.find_all(exp.Anonymous)):
            self._check_size(call)
        for call in list(tree.find_all(exp.Anonymous, exp.Unnest)):
            _qualify(call)
        return tree

    def _regenerate(self, tree: exp.Expression) -> str:
        return tree.sql(dialect=self._dialect, comments=False, normalize_functions=False)

    def _check_node(self, node: exp.Expression) -> None:
        kind = type(node)
        if kind is exp.Command:
            keyword = str(node.this or "").split(maxsplit=1)[0].upper() or "UNKNOWN"
            raise _Refused(f"不支持的语句类型: {keyword[:40]}")
        if isinstance(node, exp.DataType) and (
            kind is not exp.DataType or node.this not in _ALLOWED_TYPES
        ):
            # reg* types look names up in the catalogs; other types' input functions (xml,
            # user-defined, pg_*) do more than read a value.
            raise _Refused(f"不支持的类型转换: {self._regenerate(node)[:60]}")
        if kind not in _ALLOWED_NODES:
            raise _Refused(_NAMED_REFUSALS.get(kind) or _unsupported(node))
        if kind is exp.Anonymous:
            self._check_function(node)
        elif kind is exp.Dot:
            self._check_dot(node)
        elif kind is exp.Table:
            self._check_relation(node)
        elif kind is exp.Var:
            if not _WORD.fullmatch(node.name):
                raise _Refused(f"不支持的 SQL 语法: {node.name[:40]}")
        elif kind is exp.Literal and not node.is_string and not _NUMBER.fullmatch(node.this):
            raise _Refused(f"不支持的数字写法: {node.this[:40]}")
        elif kind is exp.Column and not isinstance(node.this, (exp.Identifier, exp.Star)):
            # "schema.f(...) FILTER (...)" / "... WITHIN GROUP (...)" reads as a column whose
            # table is the schema: only pg_catalog, as for any qualified call.
            qualifier = node.args.get("table")
            if node.args.get("db") or qualifier is None or not _is_pg_catalog(qualifier):
                raise _Refused(f"禁止调用带模式限定的函数: {self._regenerate(node)[:80]}")
        elif kind is exp.Select and node.args.get("locks"):
            raise _Refused("禁止使用行锁: " + node.args["locks"][0].sql(dialect=self._dialect))

    def _check_function(self, node: exp.Anonymous) -> None:
        name = node.this
        if isinstance(name, exp.Identifier):
            # A quoted name is exact; the allow-list holds the lower-case real names.
            name = name.this if name.quoted else name.this.lower()
        elif isinstance(name, str):
            name = name.lower()
        else:
            raise _Refused(_unsupported(node))
        if name not in self.functions:
            raise _Refused(f"禁止调用函数: {name}")
        node.set("this", name)  # regenerated exactly as PostgreSQL resolves it

    def _check_dot(self, node: exp.Dot) -> None:
        # Only "pg_catalog.<allowed function>(...)": a schema-qualified call elsewhere could
        # reach any user-defined function.
        schema, call = node.this, node.expression
        if not isinstance(call, exp.Anonymous):
            raise _Refused(_unsupported(node))
        if isinstance(schema, exp.Column) and not schema.table:
            schema = schema.this
        if not _is_pg_catalog(schema):
            raise _Refused(f"禁止调用带模式限定的函数: {self._regenerate(node)[:80]}")

    def _check_relation(self, node: exp.Table) -> None:
        if not isinstance(node.this, exp.Identifier):
            # A function in FROM: its name is checked on its own, its qualifier here.
            db = node.args.get("db")
            if node.args.get("catalog") or (db is not None and not _is_pg_catalog(db)):
                raise _Refused(f"禁止调用带模式限定的函数: {self._regenerate(node)[:80]}")
            return
        if node.args.get("catalog"):
            raise _Refused(f"不支持跨数据库访问: {self._regenerate(node)[:80]}")
        name, schema = node.name.lower(), node.db.lower()
        qualified = f"{schema}.{name}" if schema else name
        system = schema in _SYSTEM_SCHEMAS or schema.startswith("pg_") or name.startswith("pg_")
        if system and qualified not in self.allowed_relations:
            raise _Refused(f"禁止访问系统表: {name if name.startswith('pg_') else qualified}")

    def _check_size(self, call: exp.Anonymous) -> None:
        """Refuse a size-amplifying call unless its size is a literal within the bound."""
        name = call.name
        if name not in SIZE_ARGUMENT and name != "format":
            return
        args = call.expressions
        if any(isinstance(a, exp.Kwarg) for a in args):
            raise _Refused(f"{name}() 不支持命名参数")
        nested = any(
            isinstance(p, exp.Anonymous)
            and (
                p.name in SIZE_ARGUMENT or p.name == "format" or p.name in CONCATENATING_AGGREGATES
            )
            for p in _ancestors(call)
        )
        bound = (
            min(self.max_function_size, NESTED_FUNCTION_SIZE) if nested else self.max_function_size
        )
        too_big = f"{name}() 的长度参数必须是不超过 {bound} 的整数常量" + (
            "（在聚合或同类函数内）" if nested else ""
        )
        if name == "format":
            _check_format(call, bound, too_big)
            return
        index = SIZE_ARGUMENT[name]
        if len(args) <= index:
            return  # PostgreSQL refuses the call itself
        if name == "array_fill":
            dims = args[index]
            if not isinstance(dims, exp.Array) or not dims.expressions:
                raise _Refused(
                    f"array_fill() 的维度必须写成整数常量数组，如 ARRAY[10]（元素总数不超过 {bound}）"
                )
            size = 1
            for dim in dims.expressions:
                size *= _int_literal(dim, too_big)
        else:
            size = _int_literal(args[index], too_big)
            value = args[0]
            if name == "repeat":
                # repeat's result is the count times the repeated text.
                size *= max(len(value.this), 1) if _is_string(value) else NESTED_FUNCTION_SIZE
        if size > bound:
            raise _Refused(too_big + f"（结果上限 {bound}）")


def _ancestors(node: exp.Expression) -> Iterable[exp.Expression]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _is_string(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and node.is_string


def _int_literal(node: exp.Expression, message: str) -> int:
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        return int(node.this)
    raise _Refused(message)


# A format() specifier: %[position$][flags][width]type; the width may be "*" (an argument).
_FORMAT_SPEC = re.compile(r"%(?:\d+\$)?-*(\*(?:\d+\$)?|\d+)?")


def _check_format(call: exp.Anonymous, bound: int, message: str) -> None:
    if not call.expressions:
        return
    text = call.expressions[0]
    if not _is_string(text):
        raise _Refused("format() 的格式串必须是字符串常量")
    for spec in _FORMAT_SPEC.finditer(text.this):
        width = spec.group(1)
        if width and (width.startswith("*") or int(width) > bound):
            raise _Refused(f"format() 的宽度必须是不超过 {bound} 的整数常量（不支持 *）")


def _is_pg_catalog(schema: exp.Expression) -> bool:
    """True for the system schema itself: a quoted name is exact ("PG_CATALOG" is another
    schema), an unquoted one folds to lower case as PostgreSQL folds it."""
    if not isinstance(schema, exp.Identifier):
        return False
    name = schema.this if schema.quoted else schema.this.lower()
    return name == "pg_catalog"


def _pg_catalog() -> exp.Identifier:
    return exp.Identifier(this="pg_catalog", quoted=False)


def _qualify(call: exp.Anonymous | exp.Unnest) -> None:
    """Regenerate a checked built-in call as ``pg_catalog.<name>(...)``: an overload planted in
    another schema of the search_path with an exact argument-type match would otherwise win."""
    if isinstance(call, exp.Unnest):
        # FROM unnest(...) [WITH ORDINALITY]: the table-function form, which takes a qualifier.
        alias = call.args.get("alias")
        offset = call.args.get("offset")
        if isinstance(offset, exp.Identifier):
            alias = alias.copy() if alias else exp.TableAlias()
            alias.set("columns", [*alias.columns, offset])
        table = exp.Table(
            this=exp.Anonymous(this="unnest", expressions=call.expressions),
            db=_pg_catalog(),
            alias=alias,
        )
        if offset:
            table.set("ordinality", True)
        call.replace(table)
        return
    parent = call.parent
    if isinstance(parent, exp.Dot) and parent.expression is call:
        parent.set("this", _pg_catalog())  # checked to be pg_catalog: written one way
    elif isinstance(parent, exp.Table) and parent.this is call:
        parent.set("db", _pg_catalog())
    elif call.name in ALLOWED_FUNCTIONS and call.name not in GRAMMAR_CONSTRUCTS:
        dot = exp.Dot(this=_pg_catalog(), expression=exp.Null())
        call.replace(dot)
        dot.set("expression", call)  # the node itself: calls nested in it are qualified too


def _unsupported(node: exp.Expression) -> str:
    return f"不支持的 SQL 语法: {type(node).__name__}"


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _first_line(exc: Exception) -> str:
    text = _ANSI.sub("", str(exc)).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


GUARD_THREADS = 2  # the machine's cores are few; checks beyond these wait in the queue
GUARD_QUEUE = 16  # checks running or waiting per process; more are refused at once


class _GuardQueue:
    """The guard's executor and a count of the checks running or waiting on it."""

    def __init__(self, threads: int, limit: int) -> None:
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sql-guard")
        self.limit = limit
        self._pending = 0
        self._lock = threading.Lock()  # event loops of several threads may share the queue

    def enter(self) -> bool:
        with self._lock:
            if self._pending >= self.limit:
                return False
            self._pending += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._pending -= 1


@cache
def _guard_queue() -> _GuardQueue:
    """Created on first use (no threads at import)."""
    return _GuardQueue(GUARD_THREADS, GUARD_QUEUE)


@cache
def default_guard() -> SqlGuard:
    """A guard with the default limits and lists, for callers not handed one."""
    return SqlGuard()


def check_sql(sql: str) -> SqlCheck:
    """The default guard's verdict, computed in the calling thread."""
    return default_guard().check_now(sql)
