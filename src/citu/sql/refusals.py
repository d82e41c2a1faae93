"""What the SQL guard refuses with, and the limits it refuses at: its messages (shown to the
client as the reason) and the verdict type."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

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


@dataclass(frozen=True)
class SqlCheck:
    """The verdict: ``statement`` is the regenerated SQL to run, set only when ``ok``."""

    ok: bool
    reason: str = ""
    statement: str = ""


class Refused(Exception):
    """Raised anywhere inside a check; ``reason`` is the text the client sees."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def refuse(reason: str) -> SqlCheck:
    return SqlCheck(ok=False, reason=reason, statement="")


def unsupported(node: exp.Expression) -> str:
    return f"不支持的 SQL 语法: {type(node).__name__}"


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def first_line(exc: Exception) -> str:
    text = _ANSI.sub("", str(exc)).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
