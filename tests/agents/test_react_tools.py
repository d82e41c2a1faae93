"""The ReAct SQL tools against the demo business database, and SQL extraction."""

from __future__ import annotations

import json

import pytest

from citu.agents.react.tools import ReactSqlTools
from citu.agents.sql_generation import SqlGenerator
from citu.db.pools import open_business_pool


@pytest.fixture
async def tools(settings):
    pool = await open_business_pool(settings.business_db_url, settings)
    yield ReactSqlTools(None, lambda: pool, settings)
    await pool.close()


async def test_valid_sql(tools):
    assert (
        await tools.valid_sql("SELECT count(*) FROM bss_branch")
        == "SQL验证通过：语法正确且字段存在"
    )
    assert (await tools.valid_sql("SELECT nope FROM bss_branch")).startswith(
        "SQL验证失败：字段不存在。详细错误："
    )
    assert (await tools.valid_sql("SELECT * FROM no_table")).startswith("SQL验证失败：表不存在。")
    assert (await tools.valid_sql("DELETE FROM bss_branch")).startswith("SQL验证失败：")
    assert (
        await tools.valid_sql("SELECT * FROM bss_branch LIMIT 5 OFFSET 2;  ")
    ) == "SQL验证通过：语法正确且字段存在"


async def test_run_sql(tools):
    content, artifact = await tools.run_sql("SELECT classify AS 业态 FROM bss_branch WHERE false")
    assert json.loads(content) == {"status": "success", "data": [], "message": "查询无结果"}
    assert artifact["columns"] == ["业态"] and artifact["rows"] == []
    content, artifact = await tools.run_sql("SELECT 1 AS 一, 'a' AS 二")
    assert content == '[{"一": 1, "二": "a"}]'
    assert artifact["sql"] == "SELECT 1 AS 一, 'a' AS 二" and artifact["total_row_count"] == 1
    content, artifact = await tools.run_sql("DROP TABLE bss_branch")
    assert json.loads(content)["status"] == "error" and artifact is None
    content, _ = await tools.run_sql("SELECT * FROM no_table")
    assert "no_table" in json.loads(content)["error_message"]


class StubRetriever:
    """Stands in for citu.training.retrieval.Retriever (same ``retrieve`` contract)."""

    def __init__(self) -> None:
        self.questions: list[str] = []

    async def retrieve(self, question):
        from types import SimpleNamespace

        self.questions.append(question)
        return SimpleNamespace(
            question_sql=[
                {
                    "question": "档口总数？",
                    "sql": "SELECT count(*) FROM bss_branch",
                    "similarity": 0.9,
                }
            ],
            ddl=["CREATE TABLE bss_branch (id varchar(32), branch_name varchar(255));"],
            documentation=["bss_branch 是档口信息表"],
            error_sql=[
                {"question": "档口数", "sql": "SELECT count(*) FROM branch", "similarity": 0.95},
            ],
        )


async def test_generate_sql_builds_its_prompt_from_retrieval(services, settings, fake_llm):
    retriever = StubRetriever()
    generator = SqlGenerator(services.llm, retriever, services.require_business_db, settings)
    tools = ReactSqlTools(generator, services.require_business_db, settings)
    fake_llm.reply(
        "<think>想一想 SELECT 0;</think>\n```sql\nSELECT count(*) AS 档口数量 FROM bss_branch\n```"
    )

    sql = await tools.generate_sql("南城有几个档口？", [{"type": "human", "content": "你好"}])

    assert sql == "SELECT count(*) AS 档口数量 FROM bss_branch"
    assert retriever.questions[0].startswith("Previous conversation context:\nhuman: 你好")
    messages = fake_llm.requests[-1]["messages"]
    system = messages[0]["content"]
    assert "===Tables \nCREATE TABLE bss_branch" in system
    assert "===Additional Context \n\nbss_branch 是档口信息表" in system
    assert "错误的SQL: SELECT count(*) FROM branch" in system
    assert [m["role"] for m in messages[1:]] == ["user", "assistant", "user"]
    assert messages[2]["content"] == "SELECT count(*) FROM bss_branch"


async def test_generate_sql_without_sql_in_the_answer(services, settings, fake_llm):
    generator = SqlGenerator(services.llm, StubRetriever(), services.require_business_db, settings)
    tools = ReactSqlTools(generator, services.require_business_db, settings)
    fake_llm.reply("抱歉，无法根据现有表结构回答。")
    assert (
        await tools.generate_sql("天气如何？", [])
        == "Database query failed. Reason: 抱歉，无法根据现有表结构回答。"
    )
    fake_llm.fail(400)
    assert (await tools.generate_sql("x", [])).startswith("SQL generation failed: ")
