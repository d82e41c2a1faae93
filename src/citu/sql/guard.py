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

This module strings the parts together: ``prescan`` (before parsing), ``dialect`` (parsing with
a step budget, regeneration), ``tree_check`` and ``sizes`` (the allow-lists), ``qualify``
(built-ins pinned to pg_catalog), ``guard_pool`` (the threads), ``refusals`` (the messages).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.errors import SqlglotError

from citu.sql.dialect import GuardDialect, regenerate
from citu.sql.functions import ALLOWED_FUNCTIONS
from citu.sql.guard_pool import guard_queue
from citu.sql.prescan import prescan
from citu.sql.qualify import qualify
from citu.sql.refusals import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_FUNCTION_SIZE,
    DEFAULT_MAX_TOKENS,
    MSG_EMPTY,
    MSG_GUARD_BUSY,
    MSG_GUARD_FAILED,
    MSG_MULTI,
    MSG_SINGLE_READ,
    Refused,
    SqlCheck,
    first_line,
    refuse,
)
from citu.sql.sizes import check_size
from citu.sql.tree_check import TOP_LEVEL, TreeCheck

if TYPE_CHECKING:
    from citu.settings import Settings

__all__ = ["SqlCheck", "SqlGuard", "check_sql", "default_guard"]

log = logging.getLogger("citu.sql_guard")


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
        self._dialect = GuardDialect()
        self._tree = TreeCheck(self.functions, self.allowed_relations, self._dialect)

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
            return refuse(f"SQL 过长（{len(sql)} 个字符，上限 {self.max_bytes} 字节）")
        queue = guard_queue()
        if not queue.enter():
            return refuse(MSG_GUARD_BUSY)
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(queue.executor, self.check_now, sql)
        finally:
            queue.leave()

    def check_now(self, sql: str) -> SqlCheck:
        """The verdict, computed in the calling thread (CPU-bound for large statements)."""
        try:
            return SqlCheck(ok=True, statement=self._checked_statement(sql))
        except Refused as refusal:
            return refuse(refusal.reason)
        except RecursionError:
            return refuse(f"SQL 嵌套过深（括号嵌套超过 {self.max_depth} 层）")
        except SqlglotError as exc:
            return refuse(f"SQL 解析失败: {first_line(exc)}")
        except Exception:  # noqa: BLE001 - fail closed: a guard defect refuses, never runs
            log.warning("SQL guard failed on a statement; refused", exc_info=True)
            return refuse(MSG_GUARD_FAILED)

    def _too_large(self, size: int) -> str:
        return f"SQL 过长（{size} 字节，上限 {self.max_bytes} 字节）"

    def _checked_statement(self, sql: str) -> str:
        if not sql or not sql.strip():
            raise Refused(MSG_EMPTY)
        size = len(sql.encode("utf-8", "surrogatepass"))
        if size > self.max_bytes:
            raise Refused(self._too_large(size))
        prescan(sql, self.max_depth)
        statement = self._regenerate(self._parse_one(sql))
        prescan(statement, max_depth=len(statement), regenerated=True)
        return statement

    def _parse_one(self, sql: str) -> exp.Expression:
        tokens = self._dialect.tokenize(sql)
        if len(tokens) > self.max_tokens:
            raise Refused(f"SQL 过于复杂（超过 {self.max_tokens} 个词法单元）")
        parsed = self._dialect.parser().parse(tokens, sql)
        statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
        if not statements:
            raise Refused(MSG_EMPTY)
        if len(statements) > 1:
            raise Refused(MSG_MULTI)
        tree = statements[0]
        # Dollar-quoted and E'' strings (the latter with doubled backslashes only, see prescan)
        # become ordinary literals: no quoting form of the client's reaches the server.
        for literal in list(tree.find_all(exp.RawString)):
            literal.replace(exp.Literal.string(literal.name))
        for literal in list(tree.find_all(exp.ByteString)):  # E'...': sqlglot keeps \\ raw
            literal.replace(exp.Literal.string(literal.name.replace("\\\\", "\\")))
        for node in tree.walk():
            self._tree.check_node(node)
        if not isinstance(tree, TOP_LEVEL):
            raise Refused(MSG_SINGLE_READ)
        for column in list(tree.find_all(exp.Column)):
            if not isinstance(column.this, (exp.Identifier, exp.Star)):
                column.replace(column.this)  # its pg_catalog qualifier is put on the call below
        for call in list(tree.find_all(exp.Anonymous)):
            check_size(call, self.max_function_size)
        for call in list(tree.find_all(exp.Anonymous, exp.Unnest)):
            qualify(call)
        return tree

    def _regenerate(self, tree: exp.Expression) -> str:
        return regenerate(tree, self._dialect)


@cache
def default_guard() -> SqlGuard:
    """A guard with the default limits and lists, for callers not handed one."""
    return SqlGuard()


def check_sql(sql: str) -> SqlCheck:
    """The default guard's verdict, computed in the calling thread."""
    return default_guard().check_now(sql)
