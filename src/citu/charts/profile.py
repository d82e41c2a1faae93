"""What each result column holds: temporal, quantitative or nominal, with its cardinality.

A column's role comes from the database type name when the caller knows it, else from the
values. The runner hands numeric and date values over as text (``"7024226.1500"``,
``"2025-03-01"``), so text that reads as a plain number or an ISO date counts as one.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

TEMPORAL = "temporal"
QUANTITATIVE = "quantitative"
NOMINAL = "nominal"
EMPTY = "empty"  # every value is NULL: nothing to draw

# "0", "-12", "3.50"; a leading zero ("007", a code) keeps a string nominal.
_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?")
# "2025", "2025-03", "2025-03-01", "2025-03-01 08:00:00+08", "2025-03-01T08:00:00.5Z"
_ISO_DATE = re.compile(
    r"\d{4}-\d{2}(-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)?"
)
_YEAR_NAME = re.compile(r"(year|年份|年度|^年$)", re.IGNORECASE)
# Integer ids and codes are labels, not amounts.
_ID_NAME = re.compile(r"(^id$|_id$|^no$|编号|编码|代码|_code$|^code$)", re.IGNORECASE)

_DB_TEMPORAL = ("date", "timestamp")
_DB_QUANTITATIVE = ("int", "numeric", "decimal", "float", "double", "real", "money", "serial")


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    role: str
    distinct: int  # non-NULL distinct values
    non_null: int
    non_negative: bool  # every number >= 0 (quantitative columns only)
    max_label_chars: int


def number_of(value: Any) -> float | int | None:
    """The number a value stands for, or None (NULL, NaN, infinities, non-numbers, booleans)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        text = value.strip()
        return int(text) if "." not in text else float(text)
    return None


def is_temporal_value(value: Any) -> bool:
    if isinstance(value, (dt.date, dt.datetime)):
        return True
    return isinstance(value, str) and bool(_ISO_DATE.fullmatch(value.strip()))


def temporal_text(value: Any) -> str | None:
    """ISO text of a date-like value (what the chart carries)."""
    if value is None:
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value).strip()


def _value_kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return NOMINAL
    if isinstance(value, (dt.date, dt.datetime)):
        return TEMPORAL
    if isinstance(value, str):
        # A year alone ("2025") reads as a number first; the column name decides below.
        if number_of(value) is not None:
            return QUANTITATIVE
        return TEMPORAL if is_temporal_value(value) else NOMINAL
    if number_of(value) is not None:
        return QUANTITATIVE
    if isinstance(value, float):  # NaN or an infinity: no point to draw
        return None
    return NOMINAL


def _role_from_db_type(type_name: str) -> str | None:
    name = type_name.lower()
    if name.startswith(_DB_TEMPORAL):
        return TEMPORAL
    if name.startswith(_DB_QUANTITATIVE) or name in ("bigint", "smallint"):
        return QUANTITATIVE
    return NOMINAL if name else None


def _integer_hint(name: str, values: list[Any]) -> str | None:
    """A year column is time, an integer id is a label: the name says which."""
    numbers = [number_of(v) for v in values if v is not None]
    if not numbers or not all(isinstance(n, int) for n in numbers):
        return None
    if _YEAR_NAME.search(name) and all(1900 <= n <= 2100 for n in numbers):  # type: ignore[operator]
        return TEMPORAL
    return NOMINAL if _ID_NAME.search(name) else None


def _role_from_values(values: list[Any]) -> str:
    kinds = {_value_kind(v) for v in values} - {None}
    if not kinds:
        return EMPTY
    return kinds.pop() if len(kinds) == 1 else NOMINAL


def _column_role(name: str, values: list[Any], db_type: str | None) -> str:
    role = _role_from_values(values)
    if role == EMPTY:
        return EMPTY
    declared = _role_from_db_type(db_type) if db_type else None
    if role == QUANTITATIVE and declared in (None, QUANTITATIVE):
        return _integer_hint(name, values) or QUANTITATIVE
    return declared or role


def profile_column(name: str, values: list[Any], db_type: str | None = None) -> ColumnProfile:
    present = [v for v in values if v is not None]
    role = _column_role(name, values, db_type)
    numbers = [number_of(v) for v in present] if role == QUANTITATIVE else []
    if role == QUANTITATIVE and all(n is None for n in numbers):
        role = EMPTY  # declared numeric, yet nothing here is a number
    labels = {_hashable(v) for v in present}
    return ColumnProfile(
        name=name,
        role=role,
        distinct=len(labels),
        non_null=len(present),
        non_negative=all(n is None or n >= 0 for n in numbers),
        max_label_chars=max((len(str(v)) for v in present), default=0),
    )


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def profile_result(
    columns: list[str], rows: list[dict[str, Any]], column_types: dict[str, str] | None = None
) -> list[ColumnProfile]:
    types = column_types or {}
    return [
        profile_column(name, [row.get(name) for row in rows], types.get(name)) for name in columns
    ]
