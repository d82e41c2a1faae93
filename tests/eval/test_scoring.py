"""The scorer over crafted result pairs: what counts as the same answer and what does not."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from citu.eval.scoring import compare_results, is_ordered, result_rows

GOLD = [["庐山服务区", Decimal("100.50"), 3], ["九江服务区", Decimal("80.25"), 2]]

CASES = [
    # (name, gold, predicted, ordered, equal)
    ("identical", GOLD, GOLD, False, True),
    ("rows reordered, no ORDER BY", GOLD, GOLD[::-1], False, True),
    ("rows reordered, ORDER BY", GOLD, GOLD[::-1], True, False),
    ("same order, ORDER BY", GOLD, GOLD, True, True),
    ("float noise", GOLD, [["庐山服务区", 100.50000001, 3], ["九江服务区", 80.25, 2.0]], False, True),
    ("beyond the tolerance", GOLD, [["庐山服务区", 100.51, 3], ["九江服务区", 80.25, 2]], False, False),
    ("tiny numbers, absolute tolerance", [[0.0]], [[1e-12]], False, True),
    ("tiny numbers, real difference", [[0.0]], [[1e-6]], False, False),
    ("numeric text vs number", GOLD, [["庐山服务区", "100.5", "3"], ["九江服务区", "80.2500", "2"]], False, True),
    ("text that is not a number", [["H01"]], [["H01.0"]], False, False),
    ("int vs Decimal vs float", [[1, Decimal("2.0"), 3.0]], [[Decimal("1"), 2, "3"]], False, True),
    ("NULL equals NULL", [[None, 1]], [[None, 1]], False, True),
    ("NULL vs zero", [[None]], [[0]], False, False),
    ("NULL vs empty text", [[None]], [[""]], False, False),
    ("duplicates counted", [[1], [1], [2]], [[1], [2], [2]], False, False),
    ("duplicates kept", [[1], [1], [2]], [[1], [2], [1]], False, True),
    ("missing duplicate", [[1], [1]], [[1]], False, False),
    ("columns renamed and reordered", GOLD, [[3, "庐山服务区", "100.50"], [2, "九江服务区", "80.25"]], False, True),
    ("reordered columns, ORDER BY", GOLD, [[3, "庐山服务区", 100.5], [2, "九江服务区", 80.25]], True, True),
    ("extra column", GOLD, [[*row, "x"] for row in GOLD], False, False),
    ("missing column", GOLD, [row[:2] for row in GOLD], False, False),
    ("empty vs empty", [], [], False, True),
    ("empty vs one row", [], [[1]], False, False),
    ("one row vs empty", [[1]], [], False, False),
    ("values swapped between rows", [["a", 1], ["b", 2]], [["a", 2], ["b", 1]], False, False),
    ("dates as text", [[dt.date(2025, 1, 1), 5]], [["2025-01-01", 5]], False, True),
    ("booleans are not numbers", [[True]], [[1]], False, False),
    ("noise swapping near-equal rows", [[1.0000001, "a"], [1.0, "b"]], [[1.0, "a"], [1.0000001, "b"]], False, True),
    ("same columns, cross-row mismatch", [[1, 2], [2, 1]], [[1, 1], [2, 2]], False, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("gold", "predicted", "ordered", "equal"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_result_equivalence(gold, predicted, ordered, equal):
    verdict = compare_results(gold, predicted, ordered=ordered)
    assert verdict.equal is equal, verdict.reason
    assert (verdict.reason == "") is equal


def test_the_reason_names_the_difference():
    assert "rows instead of" in compare_results([[1]], [[1], [2]]).reason
    assert "columns instead of" in compare_results([[1]], [[1, 2]]).reason
    assert (
        compare_results(GOLD, GOLD[::-1], ordered=True).reason == "same rows in a different order"
    )
    assert compare_results([[1]], [[2]]).reason == "different values"


def test_column_matching_is_bounded():
    # Ten identical columns: 10! assignments would match; the search stops after its budget
    # but the identity assignment, tried first, already matches.
    row = [1] * 10
    assert compare_results([row, row], [row, row]).equal
    assert not compare_results([row, row], [row, [1] * 9 + [2]]).equal


@pytest.mark.parametrize(
    ("sql", "ordered"),
    [
        ("SELECT a FROM t ORDER BY a", True),
        ("SELECT a FROM t", False),
        ("SELECT * FROM (SELECT a FROM t ORDER BY a LIMIT 3) s", False),
        ("WITH x AS (SELECT a FROM t ORDER BY a) SELECT a FROM x", False),
        ("WITH x AS (SELECT a FROM t) SELECT a FROM x ORDER BY a DESC", True),
        ("SELECT a FROM t UNION ALL SELECT b FROM u ORDER BY 1", True),
        ("SELECT COUNT(*) FROM t WHERE a IN (SELECT a FROM u ORDER BY a)", False),
        ("not sql at all ((", False),
    ],
)
def test_order_sensitivity_follows_the_top_level_order_by(sql: str, ordered: bool):
    assert is_ordered(sql) is ordered


def test_result_rows_follow_the_column_order():
    rows = [{"b": 2, "a": 1}]
    assert result_rows(["a", "b"], rows) == [[1, 2]]
