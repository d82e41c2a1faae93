"""Chart specs of the result shapes the console must draw, in the shared Vega-Lite subset.

Each spec is what the server's rules (``citu.charts``) pick for that result; the browser tests
draw these, and, where ``citu.charts`` is installed, also what ``chart_for`` makes of the same
results (``results()``), so the renderer is checked against the server's own output.
"""

from __future__ import annotations

from typing import Any

Spec = dict[str, Any]
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"


def spec(kind: str, mark: str, rows: list[dict], encoding: dict, **extra: Any) -> Spec:
    fields = sorted({def_["field"] for def_ in encoding.values()})
    return {
        "$schema": SCHEMA,
        "title": extra.pop("title", kind),
        "mark": {"type": mark},
        "data": {"values": rows},
        "encoding": encoding,
        **extra,
        "usermeta": {
            "citu": {"kind": kind, "rows": len(rows), "truncated": False, "fields": fields}
        },
    }


def _bar(rows: list[dict], category: str, measure: str, **extra: Any) -> Spec:
    encoding = {
        "x": {"field": category, "type": "nominal", "sort": "-y"},
        "y": {"field": measure, "type": "quantitative"},
    }
    return spec("bar", "bar", rows, encoding, **extra)


MONTHS = [f"2024-{m:02d}-01" for m in range(1, 13)]
AREAS = ["宜春服务区", "庐山服务区", "南昌南服务区", "鄱阳湖服务区", "井冈山服务区"]


def local_shapes() -> dict[str, Spec]:
    """Name → spec; the names say which result shape each stands for."""
    time_series = [{"月份": m, "营收": 1000 + 137 * i} for i, m in enumerate(MONTHS)]
    categories = [{"服务区": a, "营收": 5000 - 700 * i} for i, a in enumerate(AREAS)]
    shares = [{"支付方式": p, "金额": v} for p, v in [("微信", 620), ("支付宝", 300), ("现金", 80)]]
    two_measures = [{"订单数": 10 + 3 * i, "营收": 120 + 31 * i + (i % 3) * 9} for i in range(20)]
    grouped = [
        {"服务区": a, "微信": 300 + 50 * i, "支付宝": 200 + 20 * i} for i, a in enumerate(AREAS[:4])
    ]
    many = [{"档口": f"档口{i:02d}", "订单数": (i * 37) % 90 + 5} for i in range(60)]
    long_labels = [
        {"name": "A very long service area name that goes on and on " + str(i), "value": i + 3}
        for i in range(6)
    ]
    negative = [{"路段": f"S{i}", "同比增长": v} for i, v in enumerate([12.5, -3.2, 0, -15.8, 7.1])]
    nulls = [
        {"月份": m, "营收": None if i in (2, 5) else 800 + 50 * i} for i, m in enumerate(MONTHS[:8])
    ]
    chinese = [{"业态": n, "营业额": v} for n, v in [("餐饮", 900), ("便利店", 650), ("汽修", 120)]]
    time_encoding = {
        "x": {"field": "月份", "type": "temporal"},
        "y": {"field": "营收", "type": "quantitative"},
    }
    return {
        "time_series": spec("line", "line", time_series, time_encoding),
        "categories": _bar(categories, "服务区", "营收"),
        "shares": spec(
            "pie",
            "arc",
            shares,
            {
                "theta": {"field": "金额", "type": "quantitative"},
                "color": {"field": "支付方式", "type": "nominal"},
            },
        ),
        "two_measures": spec(
            "scatter",
            "point",
            two_measures,
            {
                "x": {"field": "订单数", "type": "quantitative"},
                "y": {"field": "营收", "type": "quantitative"},
            },
        ),
        "grouped_bar": spec(
            "grouped_bar",
            "bar",
            grouped,
            {
                "x": {"field": "服务区", "type": "nominal"},
                "y": {"field": "value", "type": "quantitative"},
                "color": {"field": "series", "type": "nominal"},
                "xOffset": {"field": "series"},
            },
            transform=[{"fold": ["微信", "支付宝"], "as": ["series", "value"]}],
        ),
        "one_value": spec(
            "kpi",
            "text",
            [{"总营收": 1234567.89}],
            {"text": {"field": "总营收", "type": "quantitative"}},
        ),
        "one_row": _bar([{"服务区": "宜春服务区", "营收": 4200}], "服务区", "营收"),
        "nulls": spec("line", "line", nulls, time_encoding),
        "many_categories": _bar(many, "档口", "订单数"),
        "long_labels": _bar(long_labels, "name", "value"),
        "negative_values": _bar(negative, "路段", "同比增长"),
        "chinese_labels": _bar(chinese, "业态", "营业额", title="各业态营业额"),
        "empty": _bar([], "服务区", "营收"),
    }


def results() -> dict[str, tuple[list[str], list[dict]]]:
    """The result (columns, rows) behind each local shape (its data is the result's rows; the
    grouped bar's fold happens in the browser)."""
    out = {}
    for name, shape in local_shapes().items():
        rows = shape["data"]["values"]
        columns = list(rows[0]) if rows else sorted(shape["usermeta"]["citu"]["fields"])
        out[name] = (columns, rows)
    return out
