"""The console at /ui in Chromium against a real citu (hypercorn, the demo model): it paints
fast from local files only, answers a demo question with its rows, records a thumbs up, follows
a pipeline run to the end, reads health, works with the admin key, and logs no errors."""

from __future__ import annotations

import importlib.util
import json

import pytest

from citu.db.demo import DEMO_TABLES
from citu.db.demo_training import curated_pairs
from citu.sql.runner import run_read_only

PAGE_SIZE = 10  # rows per page of the console's result table


def _table_rows_script() -> str:
    return """
    return [...document.querySelectorAll('#answer-table tbody tr')]
      .map((tr) => [...tr.children].map((td) => td.textContent));
    """


def _cells(columns: list[str], rows: list[dict]) -> list[list[str]]:
    return [["∅" if row[c] is None else str(row[c]) for c in columns] for row in rows]


async def _ask(browser, question: str) -> None:
    await browser.fill("#question", question)
    await browser.click("#ask-form button[type=submit]")
    await browser.wait_for(
        "const s = document.getElementById('ask-answer').dataset.state;"
        "return s === 'done' || s === 'failed' ? s : null;",
        seconds=60,
    )


async def test_first_paint_is_fast_and_everything_is_local(browser):
    await browser.open("/ui")
    paint = await browser.run(
        "const p = performance.getEntriesByName('first-contentful-paint')[0]"
        " || performance.getEntriesByType('paint')[0]; return p ? p.startTime : null;"
    )
    print(f"/ui first contentful paint: {paint:.0f} ms")
    assert paint is not None and paint < 1000
    resources = await browser.run(
        "return performance.getEntriesByType('resource').map((r) => r.name);"
    )
    assert resources, "the page loads its CSS and modules"
    assert all(url.startswith(browser.base_url + "/") for url in resources), resources
    assert await browser.console_errors() == []


async def test_the_page_refuses_other_hosts_and_inline_scripts(browser):
    await browser.open("/ui")
    blocked = await browser.run_async(
        "const done = arguments[arguments.length - 1], seen = [];"
        "document.addEventListener('securitypolicyviolation', (e) => seen.push(e.violatedDirective));"
        "document.body.insertAdjacentHTML('beforeend',"
        ' \'<img src="http://192.0.2.1/x.png"><img src=x onerror="window.ran = 1">\');'
        "setTimeout(() => done({seen, ran: window.ran === 1}), 500);"
    )
    assert "img-src" in blocked["seen"] and blocked["ran"] is False, blocked


async def _choose_language(browser, lang: str) -> None:
    await browser.run(
        "const s = document.getElementById('lang'); s.value = arguments[0];"
        " s.dispatchEvent(new Event('change'));",
        lang,
    )


async def test_language_switch(browser):
    await browser.open("/ui")
    await _choose_language(browser, "en")
    assert await browser.run("return document.getElementById('tab-ask').textContent") == "Ask"
    await _choose_language(browser, "zh")
    assert await browser.run("return document.getElementById('tab-ask').textContent") == "提问"
    assert await browser.run("return document.documentElement.lang") == "zh-CN"


async def _pair_with_pages(business_db):
    """A curated question whose answer fills more than one page, else the first one."""
    pairs = curated_pairs()
    for pair in pairs:
        if pair.lang == "zh":
            result = await run_read_only(business_db, pair.sql)
            if len(result.rows) > PAGE_SIZE:
                return pair, result
    return pairs[0], await run_read_only(business_db, pairs[0].sql)


async def test_demo_question_shows_its_rows_and_a_thumb_up_is_recorded(browser, console_app):
    services = console_app.extensions["citu"]
    pair, expected = await _pair_with_pages(services.business_db)
    await browser.open("/ui")
    await _ask(browser, pair.question)

    assert await browser.run("return document.getElementById('ask-answer').dataset.state") == "done"
    assert (
        await browser.run("return document.querySelector('#ask-answer pre.sql').textContent")
        == pair.sql
    )
    assert await browser.run("return document.querySelectorAll('#ask-progress li').length") > 0
    headers = await browser.run(
        "return [...document.querySelectorAll('#answer-table th')].map((th) => th.textContent);"
    )
    assert headers == expected.columns
    cells = _cells(expected.columns, expected.rows)
    assert await browser.run(_table_rows_script()) == cells[:PAGE_SIZE]
    if len(cells) > PAGE_SIZE:
        await browser.click("#answer-table .next")
        assert await browser.run(_table_rows_script()) == cells[PAGE_SIZE : 2 * PAGE_SIZE]

    await browser.click("#ask-answer .thumb-up")
    await browser.wait_for("return document.querySelector('.feedback-note').textContent")
    async with services.db.acquire() as conn:
        rows = await conn.fetch("SELECT question, sql, is_thumb_up, user_id FROM qa_feedback")
    assert [dict(r) for r in rows] == [
        {"question": pair.question, "sql": pair.sql, "is_thumb_up": True, "user_id": "guest"}
    ]
    assert await browser.console_errors() == []


@pytest.mark.skipif(
    importlib.util.find_spec("citu.charts") is None, reason="citu.charts is not in this build"
)
async def test_demo_answer_draws_its_chart(browser):
    await browser.open("/ui")
    await _ask(browser, "收入最高的前三个服务区是哪些？")
    marks = await browser.wait_for(
        "return document.querySelectorAll('#answer-chart svg .mark').length", seconds=10
    )
    assert marks >= 3
    assert await browser.console_errors() == []


async def test_a_pipeline_run_shows_its_steps_finishing(browser):
    await browser.open("/ui")
    await browser.click("#tab-pipeline")
    await browser.click("#list-tables")
    listed = await browser.wait_for(
        "return document.querySelector('#pipeline-form [name=tables]').value"
    )
    assert {f"public.{name}" for name in DEMO_TABLES} <= set(listed.split(", "))
    await browser.fill("#pipeline-form [name=task_name]", "浏览器测试")
    await browser.fill("#pipeline-form [name=business_context]", "高速公路服务区管理系统")
    await browser.fill("#pipeline-form [name=tables]", ", ".join(DEMO_TABLES))
    await browser.click("#pipeline-form button[type=submit]")

    status = await browser.wait_for(
        "const s = document.getElementById('task-status');"
        " return s && !['pending', 'in_progress'].includes(s.dataset.status) && s.dataset.status;",
        seconds=180,
    )
    steps = await browser.run(
        "return [...document.querySelectorAll('#task-steps li')]"
        ".map((li) => [li.dataset.step, li.dataset.status]);"
    )
    assert status == "completed", steps
    assert [name for name, _ in steps] == [
        "ddl_generation", "qa_generation", "sql_validation", "training_load"
    ]  # fmt: skip
    assert {state for _, state in steps} == {"completed"}
    assert await browser.run("return document.getElementById('task-logs').textContent")
    await browser.wait_for("return document.querySelectorAll('#task-list li').length")
    assert await browser.console_errors() == []


async def test_health_shows_each_component(browser):
    await browser.open("/ui")
    await browser.click("#tab-health")
    status = await browser.wait_for(
        "const s = document.getElementById('health-status'); return s && s.textContent;"
    )
    components = await browser.run(
        "return [...document.querySelectorAll('#health-table tbody tr')]"
        ".map((tr) => [tr.firstChild.textContent, tr.className]);"
    )
    assert status == "healthy"
    assert ["database", "up"] in components and ["redis", "up"] in components
    assert await browser.console_errors() == []


@pytest.fixture
def model_unreachable(settings) -> None:
    settings.llm_base_url = "http://127.0.0.1:9/v1"  # the discard port: nothing listens


async def test_health_shows_what_is_down(model_unreachable, browser):
    await browser.open("/ui")
    await browser.click("#tab-health")
    status = await browser.wait_for(
        "const s = document.getElementById('health-status'); return s && s.textContent;"
    )
    down = await browser.run(
        "return [...document.querySelectorAll('#health-table tbody tr.down')]"
        ".map((tr) => tr.firstChild.textContent);"
    )
    assert status == "degraded"
    assert "llm" in down and "database" not in down
    assert await browser.run(
        "return document.querySelectorAll('#health-table .problems li').length"
    )


@pytest.fixture
def admin_key(settings) -> str:
    settings.admin_api_key = "console-test-key"
    return settings.admin_api_key


async def test_training_data_with_the_admin_key(admin_key, browser, tmp_path):
    question = "浏览器测试问题：服务区数量？"
    sql = "SELECT COUNT(*) AS 服务区数量 FROM bss_service_area;"
    await browser.open("/ui")
    await _choose_language(browser, "zh")
    await browser.click("#tab-training")
    await browser.fill("#training-add [name=question]", question)
    await browser.fill("#training-add [name=text]", sql)
    await browser.click("#training-add button[type=submit]")
    alert = await browser.wait_for(
        "const a = document.querySelector('#training-status [role=alert]');"
        " return a && a.textContent;"
    )
    assert "管理员密钥" in alert  # refused without the key

    await browser.fill("#admin-key", admin_key)
    await browser.click("#training-add button[type=submit]")
    await browser.wait_for(
        "return document.getElementById('training-status').textContent === arguments[0]",
        30.0,
        "已添加",
    )
    await browser.fill("#training-search [name=keyword]", "浏览器测试问题")
    await browser.click("#training-search button[type=submit]")
    # Adding reloaded the whole list: wait for the search's own answer, the one new item.
    await browser.wait_for(
        "return [...document.querySelectorAll('#training-results tbody tr td:nth-child(2)')]"
        ".map((td) => td.textContent).join('|') === arguments[0]",
        30.0,
        question,
    )

    await browser.run("window.confirm = () => true;")
    await browser.click("#training-results tbody tr button.danger")
    await browser.wait_for(
        "return document.querySelectorAll('#training-results tbody tr').length === 0"
    )

    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps([{"question": question, "sql": sql}], ensure_ascii=False))
    await browser.choose_file("#training-upload [name=file]", pairs)
    await browser.run(
        "document.querySelector('#training-upload [name=file_type]').value = 'sql_pair_json';"
    )
    await browser.click("#training-upload button[type=submit]")
    uploaded = await browser.wait_for(
        "return document.getElementById('training-status').textContent.startsWith('已上传')"
        " && document.getElementById('training-status').textContent"
    )
    assert "pairs.json" in uploaded
    await browser.click("#training-search button[type=submit]")
    await browser.wait_for(
        "return [...document.querySelectorAll('#training-results tbody tr td:nth-child(2)')]"
        ".map((td) => td.textContent).join('|') === arguments[0]",
        30.0,
        question,
    )
    # The refused call's 401 is in the browser's network log, not an error of the page.
    errors = [e for e in await browser.console_errors() if "401" not in e["message"]]
    assert errors == []


async def test_conversations_show_what_a_user_asked(browser):
    question = "收入最高的前三个服务区是哪些？"
    await browser.open("/ui")
    await browser.fill("#ask-user", "alice")
    await _ask(browser, question)
    assert (
        await browser.run("return document.getElementById('continue-conversation').disabled")
        is False
    )

    await browser.click("#tab-conversations")
    await browser.fill("#conversations-form [name=user_id]", "alice")
    await browser.click("#conversations-form button[type=submit]")
    await browser.wait_for("return document.querySelector('#conversation-list li button')")
    await browser.click("#conversation-list li button")
    texts = await browser.wait_for(
        "const m = [...document.querySelectorAll('#conversation-messages .message')];"
        " return m.length >= 2 && m.map((e) => e.className + ':' + e.children[1].textContent);"
    )
    assert texts[0] == f"message user:{question}"
    assert texts[1].startswith("message assistant:")
    assert await browser.console_errors() == []
