"""chart.js in Chromium: every result shape draws (one screenshot each, under
tests/browser/artifacts/), and specs outside the supported subset show "no chart"."""

from __future__ import annotations

import importlib.util

import pytest

from browser.chart_shapes import local_shapes, results

# Loads chart.js as the console does and draws one spec into a box at the top of the page.
RENDER = """
const spec = arguments[0], done = arguments[arguments.length - 1];
import('/ui/static/chart.js').then((chart) => {
  let box = document.getElementById('chart-test');
  if (!box) {
    box = document.createElement('div');
    box.id = 'chart-test';
    box.style.cssText = 'width: 720px; background: #fff; padding: 8px';
    document.body.prepend(box);
  }
  const drawn = chart.renderChart(box, spec, {noChartText: 'no chart'});
  const labels = [...box.querySelectorAll('.axis-x text')].map((t) => t.firstChild.textContent);
  done({
    drawn,
    marks: box.querySelectorAll('svg .mark').length,
    negative: box.querySelectorAll('svg .negative').length,
    titled: box.querySelectorAll('svg text title').length,
    kind: box.querySelector('svg') ? box.querySelector('svg').dataset.kind : null,
    labels,
    text: box.textContent,
  });
}).catch((error) => done({error: String(error)}));
"""

# Shape → fewest marks drawn (bars, dots, slices, or the one KPI value); 0: "no chart".
EXPECTED_MARKS = {
    "time_series": 13,  # the line and its 12 points
    "categories": 5,
    "shares": 3,
    "two_measures": 20,
    "grouped_bar": 8,
    "one_value": 1,
    "one_row": 1,
    "nulls": 7,  # the line and the 6 points that are not NULL
    "many_categories": 60,
    "long_labels": 6,
    "negative_values": 5,
    "chinese_labels": 3,
    "empty": 0,
}


async def test_every_result_shape_draws(browser):
    await browser.open("/ui")
    shapes = local_shapes()
    assert len(shapes) >= 12 and set(shapes) == set(EXPECTED_MARKS)
    for name, spec in shapes.items():
        drawn = await browser.run_async(RENDER, spec)
        path = await browser.screenshot("#chart-test", f"chart-{name}")
        print(f"chart {name}: {path}")
        assert "error" not in drawn, (name, drawn)
        if EXPECTED_MARKS[name] == 0:
            assert not drawn["drawn"] and drawn["text"] == "no chart", (name, drawn)
            continue
        assert drawn["drawn"], (name, drawn)
        assert drawn["marks"] == EXPECTED_MARKS[name], (name, drawn)
        assert drawn["kind"] == spec["usermeta"]["citu"]["kind"]
    assert await browser.console_errors() == []


async def test_details_of_the_drawing(browser):
    await browser.open("/ui")
    shapes = local_shapes()

    negative = await browser.run_async(RENDER, shapes["negative_values"])
    assert negative["negative"] == 2
    assert negative["labels"] == ["S0", "S4", "S2", "S1", "S3"]  # sorted by value, descending

    long = await browser.run_async(RENDER, shapes["long_labels"])
    assert long["titled"] == 6 and all(label.endswith("…") for label in long["labels"])

    chinese = await browser.run_async(RENDER, shapes["chinese_labels"])
    assert chinese["labels"] == ["餐饮", "便利店", "汽修"] and "各业态营业额" in chinese["text"]

    many = await browser.run_async(RENDER, shapes["many_categories"])
    assert 0 < len(many["labels"]) < 60  # thinned out so they do not overlap


def _outside_the_subset() -> dict[str, object]:
    bar = local_shapes()["categories"]
    return {
        "unknown mark": {**bar, "mark": {"type": "rect"}},
        "unknown transform": {**bar, "transform": [{"filter": "datum.营收 > 0"}]},
        "field not in the data": {**bar, "encoding": {**bar["encoding"], "y": {"field": "利润"}}},
        "unknown channel": {**bar, "encoding": {**bar["encoding"], "size": {"field": "营收"}}},
        "data from a URL": {**bar, "data": {"url": "https://example.com/data.json"}},
        "an expression": {
            **bar,
            "encoding": {**bar["encoding"], "y": {"field": "营收", "expr": "1"}},
        },
        "an aggregate": {
            **bar,
            "encoding": {**bar["encoding"], "y": {"field": "营收", "aggregate": "sum"}},
        },
        "fold of a missing column": {
            **bar,
            "transform": [{"fold": ["营收", "利润"], "as": ["series", "value"]}],
        },
        "not a spec": "alert(1)",
    }


async def test_anything_outside_the_subset_shows_no_chart(browser):
    await browser.open("/ui")
    for reason, spec in _outside_the_subset().items():
        drawn = await browser.run_async(RENDER, spec)
        assert drawn.get("drawn") is False and drawn["text"] == "no chart", (reason, drawn)
    assert await browser.console_errors() == []


@pytest.mark.skipif(
    importlib.util.find_spec("citu.charts") is None, reason="citu.charts is not in this build"
)
async def test_what_the_server_rules_emit_draws(browser):
    from citu.charts import chart_for

    await browser.open("/ui")
    charted = []
    for name, (columns, rows) in results().items():
        spec = chart_for(columns, rows)
        if spec is None:
            continue
        drawn = await browser.run_async(RENDER, spec)
        await browser.screenshot("#chart-test", f"server-chart-{name}")
        assert drawn.get("drawn") and drawn["marks"] > 0, (name, spec, drawn)
        charted.append(name)
    assert len(charted) >= 8, charted  # most of these shapes have a chart
