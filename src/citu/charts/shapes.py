"""Named sample results (columns, rows) and the chart kind each should get.

The unit tests check the rules against them and the browser tests render each one, so every
shape is plain JSON data the way the SQL runner hands rows over (numbers of ``numeric`` columns
and dates as text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Shape:
    name: str
    columns: list[str]
    rows: list[dict[str, Any]]
    kind: str | None  # the expected usermeta.citu.kind; None: no chart
    about: str


def _rows(columns: list[str], *values: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in values]


def _days(count: int) -> list[str]:
    return [f"2025-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(count)]


def _time_series() -> Shape:
    cols = ["营业日期", "日营收"]
    rows = _rows(
        cols, *((d, f"{10000 + 350 * (i % 7) + 40 * i}.50") for i, d in enumerate(_days(30)))
    )
    return Shape("time_series", cols, rows, "line", "a date and a numeric amount per day")


def _categories() -> Shape:
    cols = ["service_area", "revenue"]
    areas = ["Lushan", "Yichun", "Nanchang", "Jiujiang", "Ganzhou", "Pingxiang"]
    rows = _rows(cols, *((a, f"{(i + 3) * 1234.5:.2f}") for i, a in enumerate(areas)))
    return Shape("categories", cols, rows, "bar", "a label and an amount per label")


def _shares() -> Shape:
    cols = ["支付方式", "占比"]
    rows = _rows(cols, ("微信", "46.5"), ("支付宝", "28.0"), ("现金", "10.5"), ("银联", "15.0"))
    return Shape("shares", cols, rows, "pie", "parts of one whole, adding up to 100")


def _two_measures() -> Shape:
    cols = ["订单数", "营收"]
    rows = _rows(
        cols, *((100 + 13 * i, f"{(100 + 13 * i) * 31.7 + (i % 5) * 90:.2f}") for i in range(25))
    )
    return Shape("two_measures", cols, rows, "scatter", "two amounts, no label")


def _one_value() -> Shape:
    cols = ["日均营收"]
    return Shape("one_value", cols, _rows(cols, ("78452.36",)), "kpi", "one row, one number")


def _empty() -> Shape:
    return Shape("empty", ["服务区名称", "总营收"], [], None, "the query found nothing")


def _one_row() -> Shape:
    cols = ["营业日期", "总营收"]
    rows = _rows(cols, ("2025-01-31", "912345.60"))
    return Shape("one_row", cols, rows, "kpi", "the best day: one row with a date and a number")


def _nulls() -> Shape:
    cols = ["服务区名称", "总营收"]
    rows = _rows(
        cols,
        ("庐山服务区", "5300.00"),
        ("宜春服务区", None),
        (None, "1200.00"),
        ("南昌服务区", "4100.25"),
    )
    return Shape("nulls", cols, rows, "bar", "NULL labels and NULL amounts")


def _many_categories() -> Shape:
    cols = ["档口名称", "总营收"]
    rows = _rows(cols, *((f"档口{i:03d}", str(1000 + (i * 37) % 997)) for i in range(300)))
    return Shape("many_categories", cols, rows, "bar", "300 labels: the top ones drawn")


def _long_labels() -> Shape:
    cols = ["product_description", "units_sold"]
    rows = _rows(
        cols,
        *(
            (f"Extra large family-size box of assorted item number {i} " * 2, 40 - 3 * i)
            for i in range(8)
        ),
    )
    return Shape("long_labels", cols, rows, "bar", "labels over 100 characters")


def _negative_values() -> Shape:
    cols = ["服务区名称", "环比增长额"]
    rows = _rows(
        cols,
        ("庐山服务区", "-1250.50"),
        ("宜春服务区", "830.00"),
        ("南昌服务区", "-75.25"),
        ("九江服务区", "2210.75"),
    )
    return Shape("negative_values", cols, rows, "bar", "amounts below zero")


def _chinese_labels() -> Shape:
    cols = ["服务区名称", "订单总数"]
    names = ["庐山服务区", "宜春服务区", "南昌西服务区", "九江服务区", "赣州服务区"]
    rows = _rows(cols, *((n, 1500 - 170 * i) for i, n in enumerate(names)))
    return Shape("chinese_labels", cols, rows, "bar", "Chinese column names and labels")


def _grouped() -> Shape:
    cols = ["服务区名称", "一月营收", "二月营收"]
    rows = _rows(
        cols,
        ("庐山服务区", "5300.00", "6100.00"),
        ("宜春服务区", "4200.50", "3900.00"),
        ("南昌服务区", "3100.00", "4400.75"),
    )
    return Shape("grouped", cols, rows, "grouped_bar", "one label and two amounts per label")


def _multi_series() -> Shape:
    cols = ["营业日期", "服务区名称", "日营收"]
    values = [
        (d, a, str(1000 + 50 * i + 300 * j))
        for i, d in enumerate(_days(10))
        for j, a in enumerate(["庐山", "宜春", "南昌"])
    ]
    return Shape("multi_series", cols, _rows(cols, *values), "line", "one line per label")


def _text_only() -> Shape:
    cols = ["服务区名称", "所属公司"]
    rows = _rows(cols, ("庐山服务区", "江西交投"), ("宜春服务区", "江西交投"))
    return Shape("text_only", cols, rows, None, "labels without an amount")


def _wide_table() -> Shape:
    cols = [f"col_{i}" for i in range(12)]
    rows = _rows(cols, *(tuple(i * j for j in range(12)) for i in range(5)))
    return Shape("wide_table", cols, rows, None, "twelve columns: a table, not a picture")


SHAPES: tuple[Shape, ...] = tuple(
    make()
    for make in (
        _time_series,
        _categories,
        _shares,
        _two_measures,
        _one_value,
        _empty,
        _one_row,
        _nulls,
        _many_categories,
        _long_labels,
        _negative_values,
        _chinese_labels,
        _grouped,
        _multi_series,
        _text_only,
        _wide_table,
    )
)


def shape(name: str) -> Shape:
    return next(s for s in SHAPES if s.name == name)
