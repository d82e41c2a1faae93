"""Bounds on size-amplifying calls: ``repeat()``, ``lpad()``, ``array_fill()``, ``format('%*s')``
allocate their result at once in the database backend, so their size must be a small constant."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlglot import exp

from citu.sql.functions import CONCATENATING_AGGREGATES, SIZE_ARGUMENT
from citu.sql.refusals import NESTED_FUNCTION_SIZE, Refused


def check_size(call: exp.Anonymous, max_function_size: int) -> None:
    """Refuse a size-amplifying call unless its size is a literal within the bound."""
    name = call.name
    if name not in SIZE_ARGUMENT and name != "format":
        return
    args = call.expressions
    if any(isinstance(a, exp.Kwarg) for a in args):
        raise Refused(f"{name}() 不支持命名参数")
    nested = any(
        isinstance(p, exp.Anonymous)
        and (p.name in SIZE_ARGUMENT or p.name == "format" or p.name in CONCATENATING_AGGREGATES)
        for p in _ancestors(call)
    )
    bound = min(max_function_size, NESTED_FUNCTION_SIZE) if nested else max_function_size
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
            raise Refused(
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
        raise Refused(too_big + f"（结果上限 {bound}）")


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
    raise Refused(message)


# A format() specifier: %[position$][flags][width]type; the width may be "*" (an argument).
_FORMAT_SPEC = re.compile(r"%(?:\d+\$)?-*(\*(?:\d+\$)?|\d+)?")


def _check_format(call: exp.Anonymous, bound: int, message: str) -> None:
    if not call.expressions:
        return
    text = call.expressions[0]
    if not _is_string(text):
        raise Refused("format() 的格式串必须是字符串常量")
    for spec in _FORMAT_SPEC.finditer(text.this):
        width = spec.group(1)
        if width and (width.startswith("*") or int(width) > bound):
            raise Refused(f"format() 的宽度必须是不超过 {bound} 的整数常量（不支持 *）")
