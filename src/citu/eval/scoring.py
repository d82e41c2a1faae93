"""Execution accuracy by result equivalence: is the predicted result the gold one?

Two results are equivalent when, after matching columns by their values (names and column
order are ignored), their rows are the same multiset; the order of rows matters only when the
gold SQL's top-level query has ORDER BY. Values compare loosely where databases and drivers
differ but answers do not: numbers within a tolerance whatever their type (int, float,
Decimal, or the text of a number), NULL equal to NULL, dates as their ISO text. Duplicates
count; an empty result equals an empty result. Extra or missing columns make a difference.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlglot
from sqlglot import exp

REL_TOL = 1e-6
ABS_TOL = 1e-9
MAX_COLUMN_ASSIGNMENTS = 2000  # column matchings tried before giving up (bounded work)
GREEDY_BUCKET_LIMIT = 64  # rows per bucket matched pairwise when sorting is not enough

Row = Sequence[Any]
# A comparable form of a value: (kind, value); kinds never compare across each other.
_NULL, _NUMBER, _BOOL, _TEXT = 0, 1, 2, 3
Canon = tuple[int, Any]


@dataclass(frozen=True)
class Verdict:
    """``equal`` and, when not, why (shown in reports)."""

    equal: bool
    reason: str = ""


def result_rows(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """The runner's rows (dicts by column name) as lists in column order."""
    return [[row.get(name) for name in columns] for row in rows]


def is_ordered(sql: str) -> bool:
    """Whether the top-level query orders its result (ORDER BY outside any subquery)."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.SqlglotError:
        return False
    return tree is not None and tree.args.get("order") is not None and isinstance(tree, exp.Query)


def rows_equivalent(
    gold: Sequence[Row], predicted: Sequence[Row], *, ordered: bool = False
) -> bool:
    return compare_results(gold, predicted, ordered=ordered).equal


def compare_results(
    gold: Sequence[Row], predicted: Sequence[Row], *, ordered: bool = False
) -> Verdict:
    """Whether ``predicted`` is the answer ``gold`` is (see the module docstring)."""
    if not gold and not predicted:
        return Verdict(True)
    if len(gold) != len(predicted):
        return Verdict(False, f"{len(predicted)} rows instead of {len(gold)}")
    gold_c = [[canon(v) for v in row] for row in gold]
    pred_c = [[canon(v) for v in row] for row in predicted]
    width, pred_width = len(gold_c[0]), len(pred_c[0])
    if width != pred_width:
        return Verdict(False, f"{pred_width} columns instead of {width}")
    unordered_match = False
    for mapping in _column_matchings(gold_c, pred_c, width):
        projected = [[row[j] for j in mapping] for row in pred_c]
        if ordered:
            if all(_rows_close(g, p) for g, p in zip(gold_c, projected, strict=True)):
                return Verdict(True)
            unordered_match = unordered_match or _same_multiset(gold_c, projected)
        elif _same_multiset(gold_c, projected):
            return Verdict(True)
    if unordered_match:
        return Verdict(False, "same rows in a different order")
    return Verdict(False, "different values")


# ---- values -------------------------------------------------------------------------------


def canon(value: Any) -> Canon:
    """The comparable form of one value."""
    if value is None:
        return (_NULL, None)
    if isinstance(value, bool):
        return (_BOOL, value)
    if isinstance(value, (int, float, Decimal)):
        number = float(value)
        if math.isnan(number):
            return (_NULL, None)  # the runner reports NaN as NULL too
        return (_NUMBER, number)
    if isinstance(value, dt.datetime):
        return (_TEXT, str(value))
    if isinstance(value, dt.date):
        return (_TEXT, value.isoformat())
    text = str(value)
    number = _number_in(text)
    return (_NUMBER, number) if number is not None else (_TEXT, text)


def _number_in(text: str) -> float | None:
    """The number a text spells ("12.50", "-3", "1e5"), else None."""
    stripped = text.strip()
    if not stripped:
        return None
    try:
        number = Decimal(stripped)
    except InvalidOperation:
        return None
    return float(number) if number.is_finite() else None


def _close(a: Canon, b: Canon) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == _NUMBER:
        return math.isclose(a[1], b[1], rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return a[1] == b[1]


def _rows_close(a: Sequence[Canon], b: Sequence[Canon]) -> bool:
    return all(_close(x, y) for x, y in zip(a, b, strict=True))


# ---- multisets ----------------------------------------------------------------------------


def _bucket_key(row: Sequence[Canon]) -> tuple:
    """Everything but the numbers: rows in different buckets can never be equal."""
    return tuple((c[0],) if c[0] == _NUMBER else c for c in row)


def _numbers(row: Sequence[Canon]) -> tuple:
    return tuple(c[1] for c in row if c[0] == _NUMBER)


def _same_multiset(gold: list[list[Canon]], predicted: list[list[Canon]]) -> bool:
    buckets: dict[tuple, list[list]] = defaultdict(lambda: [[], []])
    for row in gold:
        buckets[_bucket_key(row)][0].append(row)
    for row in predicted:
        buckets[_bucket_key(row)][1].append(row)
    return all(_same_bucket(g, p) for g, p in buckets.values())


def _same_bucket(gold: list[list[Canon]], predicted: list[list[Canon]]) -> bool:
    if len(gold) != len(predicted):
        return False
    gold_sorted = sorted(gold, key=_numbers)
    pred_sorted = sorted(predicted, key=_numbers)
    if all(_rows_close(g, p) for g, p in zip(gold_sorted, pred_sorted, strict=True)):
        return True
    if len(gold) > GREEDY_BUCKET_LIMIT:
        return False
    # Noise can swap nearly equal numbers across rows; match row by row instead.
    unmatched = list(predicted)
    for row in gold:
        match = next((i for i, p in enumerate(unmatched) if _rows_close(row, p)), None)
        if match is None:
            return False
        unmatched.pop(match)
    return True


# ---- column matching ----------------------------------------------------------------------


def _column_sorted(rows: list[list[Canon]], index: int) -> list[Canon]:
    return sorted(
        (row[index] for row in rows), key=lambda c: (c[0], c[1] if c[1] is not None else 0)
    )


def _column_matchings(
    gold: list[list[Canon]], predicted: list[list[Canon]], width: int
) -> Iterator[list[int]]:
    """Assignments gold column -> predicted column whose value multisets agree, identity first,
    at most MAX_COLUMN_ASSIGNMENTS of them."""
    gold_cols = [_column_sorted(gold, i) for i in range(width)]
    pred_cols = [_column_sorted(predicted, j) for j in range(width)]
    candidates = [
        [j for j in _identity_first(i, width) if _rows_close(gold_cols[i], pred_cols[j])]
        for i in range(width)
    ]
    if any(not c for c in candidates):
        return
    budget = [MAX_COLUMN_ASSIGNMENTS]
    yield from _assign(candidates, 0, [], set(), budget)


def _identity_first(i: int, width: int) -> list[int]:
    return [i, *(j for j in range(width) if j != i)]


def _assign(
    candidates: list[list[int]], i: int, chosen: list[int], used: set[int], budget: list[int]
) -> Iterator[list[int]]:
    if i == len(candidates):
        budget[0] -= 1
        yield list(chosen)
        return
    for j in candidates[i]:
        if budget[0] <= 0:
            return
        if j in used:
            continue
        chosen.append(j)
        used.add(j)
        yield from _assign(candidates, i + 1, chosen, used, budget)
        chosen.pop()
        used.discard(j)


# ---- diffs for reports --------------------------------------------------------------------


def _display_key(row: Row) -> tuple:
    # Rounded for display only: numbers equal within the tolerance land on the same key.
    return tuple(
        ("n", float(f"{c[1]:.9g}")) if c[0] == _NUMBER else (str(c[0]), c[1])
        for c in (canon(v) for v in row)
    )


def row_diff(gold: Sequence[Row], predicted: Sequence[Row], limit: int = 20) -> dict[str, Any]:
    """Rows of one result missing from the other (as multisets, columns as they stand)."""
    gold_keys = Counter(_display_key(row) for row in gold)
    pred_keys = Counter(_display_key(row) for row in predicted)
    missing_keys, unexpected_keys = gold_keys - pred_keys, pred_keys - gold_keys
    missing = _pick(gold, missing_keys, limit)
    unexpected = _pick(predicted, unexpected_keys, limit)
    return {
        "missing": missing,
        "missing_count": sum(missing_keys.values()),
        "unexpected": unexpected,
        "unexpected_count": sum(unexpected_keys.values()),
    }


def _pick(rows: Sequence[Row], wanted: Counter, limit: int) -> list[list[Any]]:
    left = Counter(wanted)
    picked = []
    for row in rows:
        key = _display_key(row)
        if left[key] > 0 and len(picked) < limit:
            left[key] -= 1
            picked.append(list(row))
    return picked
