"""PostgreSQL as the guard parses and regenerates it."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres

from citu.sql.refusals import MSG_TOO_COMPLEX, Refused

_STEPS_PER_TOKEN = 20
_STEPS_BASE = 1000


class GuardDialect(Postgres):
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
                raise Refused(MSG_TOO_COMPLEX)
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


def regenerate(tree: exp.Expression, dialect: GuardDialect) -> str:
    """The SQL that runs: written from the checked tree, without comments or the client's text."""
    return tree.sql(dialect=dialect, comments=False, normalize_functions=False)
