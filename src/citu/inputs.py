"""Client input, checked in one place before any handler sees it.

Every JSON body goes through ``loads`` (``Request.get_json`` and the routes that read their
body themselves), so no body can be nested deeper than a few dozen levels — Python's parser
recurses — or carry an integer beyond 64 bits, a non-finite number or a NUL character (which
PostgreSQL text cannot hold). ``install_input_checks`` adds the request hook that applies the
same field rules to path parameters and query strings: ids are at most ``MAX_ID_CHARS``
printable characters, questions at most ``CITU_MAX_QUESTION_CHARS``.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from quart import Quart, Request, current_app, has_app_context, request
from werkzeug.exceptions import RequestEntityTooLarge

from citu.errors import BadRequest

MAX_ID_CHARS = 128
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_QUESTION_CHARS = 2000
# Bodies up to this size are parsed on the event loop (well under a millisecond).
_INLINE_PARSE_BYTES = 64 * 1024

# Field names that carry an identifier wherever they appear (path, query string, top level of
# a JSON body): the ids of users, conversations, threads, tasks, feedback and executions.
ID_FIELDS = frozenset(
    {
        "user_id",
        "conversation_id",
        "thread_id",
        "task_id",
        "feedback_id",
        "execution_id",
        "session_id",
    }
)
QUESTION_FIELDS = frozenset({"question"})

# The characters that decide the nesting depth (brackets outside strings).
_SPECIAL = re.compile(r'[\[\]{}"\\]')
# ``\u0000`` preceded by an even number of backslashes is a NUL character, not literal text.
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
# Control characters a question may not hold; tab, newline and carriage return are text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def max_depth() -> int:
    return _setting("max_json_depth", DEFAULT_MAX_DEPTH)


def max_question_chars() -> int:
    return _setting("max_question_chars", DEFAULT_MAX_QUESTION_CHARS)


def _setting(name: str, default: int) -> int:
    settings = current_app.config.get("citu.settings") if has_app_context() else None
    return int(getattr(settings, name, default))


def too_deep(text: str, limit: int) -> bool:
    """Whether the JSON text nests arrays/objects deeper than ``limit``: checked before parsing,
    in one linear pass over the characters that matter (brackets, quotes, backslashes)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, in_string, escaped = 0, False, -1
    for match in _SPECIAL.finditer(text):
        at, char = match.start(), match.group()
        if at == escaped:
            continue
        if in_string:
            if char == "\\":
                escaped = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


MAX_QUERY_INT = 2**31 - 1


def lenient_query_int(value: Any, *, maximum: int = MAX_QUERY_INT) -> int | None:
    """A query-string integer as werkzeug's ``type=int`` reads it (empty or not a number: absent),
    except that a number out of 0..``maximum`` (negative, huge, infinite) is refused with a
    ``ValueError`` instead of reaching Redis or PostgreSQL."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        try:
            number = int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                return None
            if math.isfinite(as_float) and 0 <= as_float <= maximum:
                return None  # "1.5" was ignored before, and stays ignored
            raise ValueError(f"必须是0到{maximum}之间的整数") from None
    if not 0 <= number <= maximum:
        raise ValueError(f"必须是0到{maximum}之间的整数")
    return number


class _Numbers:
    """Parse hooks that note an integer beyond 64 bits or a number that is not finite (the
    offending field is looked up only then, so ordinary bodies are not walked twice)."""

    def __init__(self) -> None:
        self.bad = False

    def integer(self, text: str) -> int:
        value = int(text)
        if not INT64_MIN <= value <= INT64_MAX:
            self.bad = True
        return value

    def real(self, text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            self.bad = True
        return value

    def constant(self, text: str) -> float:
        self.bad = True
        return float(text)


def _out_of_range(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not INT64_MIN <= value <= INT64_MAX
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_out_of_range(v) for v in value.values())
    if isinstance(value, list):
        return any(_out_of_range(v) for v in value)
    return False


def _number_refusal(data: Any) -> BadRequest:
    fields = [k for k, v in data.items() if _out_of_range(v)] if isinstance(data, dict) else []
    text = f"请求体中的数字超出范围（整数需在 {INT64_MIN} 到 {INT64_MAX} 之间，不能是NaN或无穷大）"
    return BadRequest(text, invalid_params=fields[:1] or None)


def loads(text: str | bytes, *, depth: int | None = None) -> Any:
    """Parse a JSON body. ``ValueError`` for text that is not JSON (routes word that refusal
    themselves); ``BadRequest`` for JSON citu refuses: too deep, NUL, out-of-range numbers."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")  # UnicodeDecodeError is a ValueError
    limit = max_depth() if depth is None else depth
    if too_deep(text, limit):
        raise BadRequest(f"请求体JSON嵌套层级过深（最多{limit}层）")
    if "\\u0000" in text and _NUL_ESCAPE.search(text):  # the substring test is the fast path
        raise BadRequest("请求体不能包含NUL字符(\\u0000)")
    numbers = _Numbers()
    try:
        data = json.loads(
            text,
            parse_int=numbers.integer,
            parse_float=numbers.real,
            parse_constant=numbers.constant,
        )
    except RecursionError:  # a backstop: the depth check above should have refused it
        raise BadRequest(f"请求体JSON嵌套层级过深（最多{limit}层）") from None
    if numbers.bad:
        raise _number_refusal(data)
    if isinstance(data, dict):
        check_fields(data.items(), "body")
    return data


async def aloads(text: str | bytes) -> Any:
    """``loads`` for a handler: a large body is parsed off the event loop."""
    if len(text) <= _INLINE_PARSE_BYTES:
        return loads(text)
    return await asyncio.to_thread(loads, text)


async def read_json(req: Request, *, force: bool, silent: bool, cache: bool) -> Any:
    """``Request.get_json`` with ``loads`` as the parser (the one body reader of the app)."""
    if cache and req._cached_json[silent] is not Ellipsis:
        return req._cached_json[silent]
    if not (force or req.is_json):
        return None
    data = await req.get_data(cache=cache, as_text=True)
    try:
        result = await aloads(data)
    except ValueError as error:
        result = None if silent else req.on_json_loading_failed(error)
    if cache:
        req._cached_json[silent] = result
    return result


# ---- fields --------------------------------------------------------------------------------


def check_id(name: str, value: str) -> None:
    """An id is 1..128 printable characters (no NUL, newline or other control character)."""
    if len(value) > MAX_ID_CHARS:
        raise BadRequest(f"{name}长度不能超过{MAX_ID_CHARS}字符", invalid_params=[name])
    if not value.isprintable():
        raise BadRequest(f"{name}不能包含控制字符或不可见字符", invalid_params=[name])


def check_question(name: str, value: str) -> None:
    limit = max_question_chars()
    if len(value) > limit:
        raise BadRequest(f"问题长度不能超过{limit}字符", invalid_params=[name])
    if _CONTROL.search(value):
        raise BadRequest("问题不能包含控制字符", invalid_params=[name])


def check_fields(items: Iterable[tuple[str, Any]], where: str) -> None:
    for name, value in items:
        if not isinstance(value, str):
            continue
        if name in ID_FIELDS or where == "path":
            check_id(name, value)
        elif name in QUESTION_FIELDS:
            check_question(name, value)
        elif "\x00" in value:
            raise BadRequest(f"{name}不能包含NUL字符", invalid_params=[name])


def check_request_fields(view_args: Mapping[str, Any] | None, args: Mapping[str, str]) -> None:
    """Path parameters (each one an id) and the query string's id and question fields."""
    check_fields((view_args or {}).items(), "path")
    check_fields(((key, value) for key in args for value in args.getlist(key)), "query")


def install_input_checks(app: Quart) -> None:
    @app.before_request
    async def _check_request() -> None:
        # Quart enforces the body limit only when a handler reads the body: a route that
        # ignores its body, or parses a form, must refuse an over-size one just the same.
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        length = request.content_length
        if limit is not None and length is not None and length > limit:
            raise RequestEntityTooLarge()
        check_request_fields(request.view_args, request.args)
