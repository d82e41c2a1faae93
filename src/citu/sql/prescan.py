"""The linear pre-scan: what must never reach sqlglot's parser, found in one pass over the text.

sqlglot's work can grow faster than linearly (nesting, subscript chains) and some escape forms
read differently in sqlglot and PostgreSQL, so these are refused before parsing.
"""

from __future__ import annotations

import re

from citu.sql.refusals import (
    MAX_SUBSCRIPT_CHAIN,
    MSG_E_STRING,
    MSG_NESTED_COMMENT,
    MSG_NUL,
    MSG_SUBSCRIPTS,
    MSG_UNICODE_ESCAPE,
    MSG_UNSAFE_LITERAL,
    MSG_UNTERMINATED,
    Refused,
)

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
            raise Refused(MSG_UNTERMINATED)
        if sql.startswith(quote, end + 1):
            pos = end + 2
            continue
        return end + 1


def _skip_comment(sql: str, start: int) -> int:
    """Index after the comment opened at ``start``. PostgreSQL nests block comments and sqlglot
    does not, so the two would disagree on where one ends: nesting is refused."""
    mark = _COMMENT_MARK.search(sql, start + 2)
    if mark is None:
        raise Refused(MSG_UNTERMINATED)
    if mark.group() == "/*":
        raise Refused(MSG_NESTED_COMMENT)
    return mark.end()


def prescan(sql: str, max_depth: int, *, regenerated: bool = False) -> None:
    """Raise ``Refused`` for what must never reach the parser; linear in ``len(sql)``.

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
            raise Refused(MSG_UNICODE_ESCAPE)
        elif token in ("'", '"'):
            pos = _skip_quoted(sql, start, token)
            if regenerated and token == "'" and "\\" in sql[start:pos]:
                raise Refused(MSG_UNSAFE_LITERAL)
        elif token[0] in "eE":
            pos = _skip_quoted(sql, start + 1, "'")
            # Only doubled backslashes (one literal backslash each, never escaping a quote):
            # sqlglot does not decode the other escapes as PostgreSQL does.
            if "\\" in sql[start:pos].replace("\\\\", ""):
                raise Refused(MSG_E_STRING)
        elif token == "$":
            tag = _DOLLAR_TAG.match(sql, start)
            if tag is not None:  # "$1" (a parameter) is left to the parser, which refuses it
                end = sql.find(tag.group(), tag.end())
                if end < 0:
                    raise Refused(MSG_UNTERMINATED)
                pos = end + len(tag.group())
        elif token in "([":
            depth += 1
            if depth > max_depth:
                raise Refused(f"SQL 嵌套过深（括号嵌套超过 {max_depth} 层）")
            if token == "[":
                chain = chain + 1 if adjacent else 1
                if chain > MAX_SUBSCRIPT_CHAIN:
                    raise Refused(MSG_SUBSCRIPTS)
        elif token in ")]":
            depth -= 1
            # "(x[1])[2]" chains too: a ")" right after a "]" keeps the chain going.
            if token == "]" or adjacent:
                after_close = pos
        else:  # NUL
            raise Refused(MSG_NUL)
