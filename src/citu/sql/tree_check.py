"""The tree check: every node of the parsed statement is of an allowed class, every function
an allowed built-in called by its real name, every cast an ordinary type, every relation outside
the system schemas (unless a deployment allows it)."""

from __future__ import annotations

import re
from collections.abc import Set

from sqlglot import exp

from citu.sql.dialect import GuardDialect, regenerate
from citu.sql.qualify import is_pg_catalog
from citu.sql.refusals import MSG_INTO, MSG_PARAMETER, Refused, unsupported

# Messages for the statement classes people actually try; any other class gets a generic one.
NAMED_REFUSALS: dict[type[exp.Expression], str] = {
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
ALLOWED_NODES: frozenset[type[exp.Expression]] = frozenset(
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

TOP_LEVEL = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery)

# Cast targets: ordinary value types only.
ALLOWED_TYPES = frozenset(
    exp.DataType.Type[name]
    for name in (
        "SMALLINT", "INT", "BIGINT", "DECIMAL", "DOUBLE", "FLOAT", "MONEY", "TEXT", "VARCHAR",
        "CHAR", "BPCHAR", "BOOLEAN", "DATE", "TIME", "TIMETZ", "TIMESTAMP", "TIMESTAMPTZ",
        "INTERVAL", "JSON", "JSONB", "UUID", "VARBINARY", "ARRAY",
    )
)  # fmt: skip

# System schemas and catalogs: catalog contents, server files and settings live there.
SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})

_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z_ ]*")


class TreeCheck:
    """Checks one node at a time; raises :class:`Refused` with the reason."""

    def __init__(
        self, functions: Set[str], allowed_relations: Set[str], dialect: GuardDialect
    ) -> None:
        self.functions = functions
        self.allowed_relations = allowed_relations
        self.dialect = dialect

    def check_node(self, node: exp.Expression) -> None:
        kind = type(node)
        if kind is exp.Command:
            keyword = str(node.this or "").split(maxsplit=1)[0].upper() or "UNKNOWN"
            raise Refused(f"不支持的语句类型: {keyword[:40]}")
        if isinstance(node, exp.DataType) and (
            kind is not exp.DataType or node.this not in ALLOWED_TYPES
        ):
            # reg* types look names up in the catalogs; other types' input functions (xml,
            # user-defined, pg_*) do more than read a value.
            raise Refused(f"不支持的类型转换: {regenerate(node, self.dialect)[:60]}")
        if kind not in ALLOWED_NODES:
            raise Refused(NAMED_REFUSALS.get(kind) or unsupported(node))
        if kind is exp.Anonymous:
            self._check_function(node)
        elif kind is exp.Dot:
            self._check_dot(node)
        elif kind is exp.Table:
            self._check_relation(node)
        elif kind is exp.Var:
            if not _WORD.fullmatch(node.name):
                raise Refused(f"不支持的 SQL 语法: {node.name[:40]}")
        elif kind is exp.Literal and not node.is_string and not _NUMBER.fullmatch(node.this):
            raise Refused(f"不支持的数字写法: {node.this[:40]}")
        elif kind is exp.Column and not isinstance(node.this, (exp.Identifier, exp.Star)):
            # "schema.f(...) FILTER (...)" / "... WITHIN GROUP (...)" reads as a column whose
            # table is the schema: only pg_catalog, as for any qualified call.
            qualifier = node.args.get("table")
            if node.args.get("db") or qualifier is None or not is_pg_catalog(qualifier):
                raise Refused(f"禁止调用带模式限定的函数: {regenerate(node, self.dialect)[:80]}")
        elif kind is exp.Select and node.args.get("locks"):
            raise Refused("禁止使用行锁: " + node.args["locks"][0].sql(dialect=self.dialect))

    def _check_function(self, node: exp.Anonymous) -> None:
        name = node.this
        if isinstance(name, exp.Identifier):
            # A quoted name is exact; the allow-list holds the lower-case real names.
            name = name.this if name.quoted else name.this.lower()
        elif isinstance(name, str):
            name = name.lower()
        else:
            raise Refused(unsupported(node))
        if name not in self.functions:
            raise Refused(f"禁止调用函数: {name}")
        node.set("this", name)  # regenerated exactly as PostgreSQL resolves it

    def _check_dot(self, node: exp.Dot) -> None:
        # Only "pg_catalog.<allowed function>(...)": a schema-qualified call elsewhere could
        # reach any user-defined function.
        schema, call = node.this, node.expression
        if not isinstance(call, exp.Anonymous):
            raise Refused(unsupported(node))
        if isinstance(schema, exp.Column) and not schema.table:
            schema = schema.this
        if not is_pg_catalog(schema):
            raise Refused(f"禁止调用带模式限定的函数: {regenerate(node, self.dialect)[:80]}")

    def _check_relation(self, node: exp.Table) -> None:
        if not isinstance(node.this, exp.Identifier):
            # A function in FROM: its name is checked on its own, its qualifier here.
            db = node.args.get("db")
            if node.args.get("catalog") or (db is not None and not is_pg_catalog(db)):
                raise Refused(f"禁止调用带模式限定的函数: {regenerate(node, self.dialect)[:80]}")
            return
        if node.args.get("catalog"):
            raise Refused(f"不支持跨数据库访问: {regenerate(node, self.dialect)[:80]}")
        name, schema = node.name.lower(), node.db.lower()
        qualified = f"{schema}.{name}" if schema else name
        system = schema in SYSTEM_SCHEMAS or schema.startswith("pg_") or name.startswith("pg_")
        if system and qualified not in self.allowed_relations:
            raise Refused(f"禁止访问系统表: {name if name.startswith('pg_') else qualified}")
