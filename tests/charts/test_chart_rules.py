"""The rules pick the expected chart kind for each result shape, and the spec they build is
bounded, JSON-safe and names only the result's columns."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from citu.charts import chart_for, spec_problems
from citu.charts.profile import NOMINAL, QUANTITATIVE, TEMPORAL, profile_column
from citu.charts.shapes import SHAPES, shape

# (name, columns, rows, expected kind) beyond the named sample shapes
EXTRA_SHAPES = [
    (
        "dates_and_decimals_as_python_values",
        ["day", "amount"],
        [[dt.date(2025, 1, d), Decimal(f"{d}.25")] for d in range(1, 11)],
        "line",
    ),
    (
        "timestamps_as_strings",
        ["at", "visits"],
        [[f"2025-03-01 {h:02d}:00:00+08", h * 3] for h in range(24)],
        "line",
    ),
    ("all_null_measure", ["area", "revenue"], [["A", None], ["B", None]], None),
    ("numeric_strings", ["area", "revenue"], [["A", "12.50"], ["B", "7.25"]], "bar"),
    ("booleans", ["is_weekend", "avg_revenue"], [[True, 10.5], [False, 8.0]], "bar"),
    ("mixed_types", ["label", "n"], [["A", 1], [7, 2], [dt.date(2025, 1, 1), 3]], "bar"),
    ("duplicate_categories", ["area", "n"], [["A", 1], ["B", 5], ["A", 2]], "bar"),
    ("one_row_two_measures", ["jan", "feb", "growth"], [["10", "12", "2"]], None),
    ("list_of_numbers", ["n"], [[1], [2], [3]], None),
    ("year_integers", ["年份", "营收"], [[2021, 10], [2022, 12], [2023, 15]], "line"),
    ("integer_ids_are_labels", ["service_area_id", "revenue"], [[1, 5.0], [2, 7.5]], "bar"),
    ("codes_with_leading_zeros", ["code", "n"], [["007", 3], ["012", 4]], "bar"),
    (
        "two_labels_one_measure",
        ["area", "stall", "revenue"],
        [["A", "s1", 3], ["A", "s2", 4]],
        "bar",
    ),
    (
        "four_measures_with_label",
        ["a", "m1", "m2", "m3", "m4"],
        [["x", 1, 2, 3, 4], ["y", 1, 2, 3, 4]],
        None,
    ),
    ("fractions_of_one", ["channel", "share"], [["web", 0.25], ["app", 0.75]], "pie"),
    ("share_named_but_per_row_ratios", ["area", "wechat_ratio"], [["A", 0.5], ["B", 0.7]], "bar"),
    ("negative_share_is_no_pie", ["k", "v"], [["a", 150], ["b", -50]], "bar"),
    ("pie_needs_few_slices", ["k", "pct"], [[f"c{i}", 10] for i in range(10)], "bar"),
    (
        "too_many_series",
        ["day", "area", "n"],
        [["2025-01-01", f"a{i}", i] for i in range(12)],
        None,
    ),
    ("time_with_two_labels", ["day", "a", "b", "n"], [["2025-01-01", "x", "y", 1]] * 2, None),
    (
        "nan_and_infinity",
        ["x", "y"],
        [[float("nan"), 1.0], [2.0, float("inf")], [3.0, 4.0], [5.0, 6.0]],
        "scatter",
    ),
    ("duplicate_column_names", ["a", "a"], [[1, 2], [3, 4]], None),
    ("no_columns", [], [], None),
]

CASES = [(s.name, s.columns, s.rows, s.kind) for s in SHAPES] + EXTRA_SHAPES


def kind_of(spec):
    return spec["usermeta"]["citu"]["kind"] if spec else None


def test_at_least_twenty_shapes_and_twelve_named_ones():
    assert len(CASES) >= 20
    assert len(SHAPES) >= 12
    assert len({name for name, *_ in CASES}) == len(CASES)


@pytest.mark.parametrize(("name", "columns", "rows", "kind"), CASES, ids=[c[0] for c in CASES])
def test_rules_pick_the_expected_kind(name, columns, rows, kind):
    spec = chart_for(columns, rows)
    assert kind_of(spec) == kind
    if spec is not None:
        assert spec_problems(spec, columns, 200) == []
        json.dumps(spec, allow_nan=False)  # JSON-safe: Decimal, dates, NaN all converted


def test_bar_is_sorted_descending_and_truncated_to_the_top():
    spec = chart_for(shape("many_categories").columns, shape("many_categories").rows)
    values = [v["总营收"] for v in spec["data"]["values"]]
    assert values == sorted(values, reverse=True)
    assert len(values) == 20
    assert spec["encoding"]["x"]["sort"] == "-y"
    meta = spec["usermeta"]["citu"]
    assert meta["truncated"] is True
    assert meta["omitted_categories"] == 280
    assert meta["rows"] == 300


def test_duplicate_categories_are_summed_into_one_bar():
    spec = chart_for(["area", "n"], [["A", 1], ["B", 5], ["A", 2.5]])
    assert spec["data"]["values"] == [{"area": "B", "n": 5}, {"area": "A", "n": 3.5}]


def test_nulls_are_left_out_of_bars():
    spec = chart_for(shape("nulls").columns, shape("nulls").rows)
    labels = [v["服务区名称"] for v in spec["data"]["values"]]
    assert labels == ["庐山服务区", "南昌服务区"]


def test_line_is_in_time_order_with_iso_dates_and_numbers():
    rows = [[dt.date(2025, 1, 3), Decimal("3.5")], [dt.date(2025, 1, 1), Decimal("1.25")]]
    spec = chart_for(["day", "amount"], rows)
    assert spec["data"]["values"] == [
        {"day": "2025-01-01", "amount": 1.25},
        {"day": "2025-01-03", "amount": 3.5},
    ]
    assert spec["encoding"]["x"] == {"field": "day", "type": "temporal"}


def test_long_series_are_sampled_evenly_within_the_bound():
    rows = [[f"2025-01-01T00:{m // 60:02d}:{m % 60:02d}", m] for m in range(1000)]
    spec = chart_for(["t", "n"], rows, max_points=50)
    values = spec["data"]["values"]
    assert len(values) == 50
    assert values[0]["n"] == 0 and values[-1]["n"] == 999  # the whole range is kept
    assert spec["usermeta"]["citu"]["truncated"] is True


def test_multi_series_line_colours_by_label():
    spec = chart_for(shape("multi_series").columns, shape("multi_series").rows)
    assert spec["encoding"]["color"] == {"field": "服务区名称", "type": "nominal"}


def test_grouped_bar_folds_its_measures_into_derived_fields():
    spec = chart_for(shape("grouped").columns, shape("grouped").rows)
    assert spec["transform"] == [{"fold": ["一月营收", "二月营收"], "as": ["series", "value"]}]
    assert spec["usermeta"]["citu"]["derived"] == ["series", "value"]
    assert spec["encoding"]["xOffset"] == {"field": "series"}
    assert spec["encoding"]["y"] == {"field": "value", "type": "quantitative"}


def test_derived_names_never_shadow_a_column():
    rows = [["a", 1, 2, "x"], ["b", 3, 4, "y"]]
    spec = chart_for(["value", "m1", "m2", "series"], rows)
    # "value" and "series" are labels here; two labels, two measures: no grouped bar
    assert spec is None
    spec = chart_for(["series", "m1", "m2"], [["a", 1, 2], ["b", 3, 4]])
    assert spec["transform"][0]["as"] == ["_series", "value"]
    assert spec_problems(spec, ["series", "m1", "m2"], 200) == []


def test_kpi_carries_the_one_value():
    spec = chart_for(shape("one_value").columns, shape("one_value").rows)
    assert spec["mark"] == {"type": "text"}
    assert spec["data"]["values"] == [{"日均营收": 78452.36}]


def test_pie_slices_are_the_parts():
    spec = chart_for(shape("shares").columns, shape("shares").rows)
    assert spec["mark"] == {"type": "arc"}
    assert spec["encoding"]["theta"]["field"] == "占比"
    assert sum(v["占比"] for v in spec["data"]["values"]) == pytest.approx(100)


def test_rows_may_be_lists_or_dicts():
    as_lists = chart_for(["a", "n"], [["x", 1], ["y", 2]])
    as_dicts = chart_for(["a", "n"], [{"a": "x", "n": 1}, {"a": "y", "n": 2}])
    assert as_lists == as_dicts


def test_database_type_names_override_the_values():
    rows = [["10", "1"], ["20", "2"]]
    assert kind_of(chart_for(["zip", "n"], rows)) == "scatter"
    assert kind_of(chart_for(["zip", "n"], rows, column_types={"zip": "varchar"})) == "bar"


@pytest.mark.parametrize(
    ("values", "db_type", "role"),
    [
        (["2025-01-01", None], None, TEMPORAL),
        (["2025-03"], None, TEMPORAL),
        (["1.5", "2"], None, QUANTITATIVE),
        (["1.5", "abc"], None, NOMINAL),
        ([True, False], None, NOMINAL),
        (["x"], "timestamp with time zone", TEMPORAL),
        ([1, 2], "text", NOMINAL),
    ],
)
def test_column_roles(values, db_type, role):
    assert profile_column("c", values, db_type).role == role


def test_validator_refuses_a_field_the_result_does_not_have():
    spec = chart_for(["a", "n"], [["x", 1], ["y", 2]])
    spec["encoding"]["y"]["field"] = "revenue"
    assert spec_problems(spec, ["a", "n"], 200) == ["y field 'revenue' is not a column"]


def test_validator_refuses_unknown_transforms_and_too_many_points():
    spec = chart_for(["a", "n"], [["x", 1], ["y", 2]])
    spec["transform"] = [{"calculate": "datum.n * 2", "as": "n2"}]
    spec["data"]["values"] *= 3
    problems = spec_problems(spec, ["a", "n"], 5)
    assert "unsupported transform ['as', 'calculate']" in problems
    assert "6 data points, more than 5" in problems


def test_a_spec_failing_its_check_is_dropped_and_logged(monkeypatch, caplog):
    import citu.charts as charts

    monkeypatch.setattr(charts, "spec_problems", lambda *_: ["x field 'ghost' is not a column"])
    assert charts.chart_for(["a", "n"], [["x", 1], ["y", 2]]) is None
    assert "chart dropped" in caplog.text
