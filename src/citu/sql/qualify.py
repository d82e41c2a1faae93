"""Regeneration of checked built-in calls as ``pg_catalog.<name>(...)``."""

from __future__ import annotations

from sqlglot import exp

from citu.sql.functions import ALLOWED_FUNCTIONS, GRAMMAR_CONSTRUCTS


def is_pg_catalog(schema: exp.Expression) -> bool:
    """True for the system schema itself: a quoted name is exact ("PG_CATALOG" is another
    schema), an unquoted one folds to lower case as PostgreSQL folds it."""
    if not isinstance(schema, exp.Identifier):
        return False
    name = schema.this if schema.quoted else schema.this.lower()
    return name == "pg_catalog"


def _pg_catalog() -> exp.Identifier:
    return exp.Identifier(this="pg_catalog", quoted=False)


def qualify(call: exp.Anonymous | exp.Unnest) -> None:
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
