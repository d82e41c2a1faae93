"""The tables a SQL statement reads, and those named in retrieved DDL texts."""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w.\"]+)", re.IGNORECASE)
_MARKDOWN_TABLE = re.compile(r"^#+\s*([A-Za-z_][\w.]*)", re.MULTILINE)


def sql_tables(sql: str) -> set[str]:
    """Lower-case names of the tables ``sql`` reads (CTE names left out); empty if unparsable."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.SqlglotError:
        return set()
    if tree is None:
        return set()
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names = {table.name.lower() for table in tree.find_all(exp.Table) if table.name}
    return names - ctes


def tables_in_texts(texts: list[str]) -> set[str]:
    """Table names of DDL statements (``CREATE TABLE x``) or table documents (``## x``)."""
    names: set[str] = set()
    for text in texts:
        for match in (*_CREATE_TABLE.findall(text), *_MARKDOWN_TABLE.findall(text)):
            names.add(match.strip('"').rsplit(".", 1)[-1].lower())
    return names
