"""The ask agent's graph against the real demo business database and the HTTP fake LLM."""

from __future__ import annotations

import httpx
import pytest

from citu.agents.ask_graph import AskAgent
from citu.db.pools import open_business_pool
from citu.llm.calls import LlmTimeout, LlmUnavailable
from citu.llm.clients import build_text_model
from citu.settings import Settings
from fakes.ask_script import TOP3_SQL, kinds, script
from fakes.memory_stores import MemoryRetriever


@pytest.fixture
def agent_settings(fake_llm, business_db_url) -> Settings:
    return Settings(
        _env_file=None,
        business_db_url=business_db_url,
        llm_base_url=fake_llm.base_url,
        llm_api_key="k",
        llm_model="fake-llm",
        llm_max_retries=0,
        llm_timeout=5.0,
    )


@pytest.fixture
async def business_pool(agent_settings):
    pool = await open_business_pool(agent_settings.business_db_url, agent_settings)
    yield pool
    await pool.close()


@pytest.fixture
async def retriever():
    return MemoryRetriever()


@pytest.fixture
async def agent(agent_settings, business_pool, retriever):
    async with httpx.AsyncClient() as http:
        llm = build_text_model(agent_settings, http)
        yield AskAgent(llm, retriever, lambda: business_pool, agent_settings)


async def test_database_question_end_to_end(agent, fake_llm, business_pool, retriever):
    script(fake_llm)
    result = await agent.process_question("收入前三的服务区是哪些", "u:1", "hybrid")

    expected = await business_pool.fetch(TOP3_SQL)
    assert result["success"] is True and result["type"] == "DATABASE"
    assert result["sql"] == TOP3_SQL
    records = result["query_result"]
    assert records["columns"] == ["服务区名称", "总收入"]
    assert records["row_count"] == 3 and records["total_row_count"] == 3
    assert records["is_limited"] is False
    assert records["rows"][0] == {
        "服务区名称": expected[0]["服务区名称"],
        "总收入": format(expected[0]["总收入"], "f"),  # numeric as a fixed-point string
    }
    assert result["summary"] == result["response"] == "收入前三的服务区为庐山服务区等。"
    assert result["execution_path"] == [
        "start",
        "classify",
        "agent_sql_generation",
        "agent_sql_execution",
        "format_response",
    ]
    assert result["classification_info"]["method"] == "rule_based_strong_business"
    # Rules were confident: no LLM classification; retrieval saw the question.
    assert kinds(fake_llm) == ["sql", "summary"]
    assert retriever.questions == ["收入前三的服务区是哪些"]
    sql_request = fake_llm.requests[0]["messages"]
    assert "bss_business_day_data" in sql_request[0]["content"]  # DDL in the system prompt
    assert sql_request[1]["content"] == "各服务区的总收入"  # few-shot pair
    assert sql_request[-1]["content"] == "收入前三的服务区是哪些"


async def test_chat_question(agent, fake_llm):
    script(fake_llm)
    result = await agent.process_question("荔枝一般几月上市", "u:1", "hybrid")
    assert result == {
        "success": True,
        "response": "荔枝一般在5-7月上市。",
        "type": "CHAT",
        "execution_path": ["start", "classify", "agent_chat", "format_response"],
        "classification_info": {
            "confidence": 0.85,
            "reason": "包含非业务实体词: ['荔枝', '上市']",
            "method": "rule_based_non_business",
        },
    }
    assert kinds(fake_llm) == ["chat"]


@pytest.mark.parametrize(
    ("mode", "question", "expected_type", "method", "calls"),
    [
        ("database_direct", "荔枝一般几月上市", "DATABASE", "direct_database", ["sql", "summary"]),
        ("chat_direct", "收入前三的服务区是哪些", "CHAT", "direct_chat", ["chat"]),
        (
            "llm_only",
            "收入前三的服务区是哪些",
            "DATABASE",
            "enhanced_llm",
            ["classify", "sql", "summary"],
        ),
        ("hybrid", "庐山服务区", "DATABASE", "enhanced_llm", ["classify", "sql", "summary"]),
    ],
)
async def test_routing_modes(agent, fake_llm, mode, question, expected_type, method, calls):
    script(fake_llm)
    result = await agent.process_question(question, "u:1", mode)
    assert result["success"] is True and result["type"] == expected_type
    assert result["classification_info"]["method"] == method
    assert kinds(fake_llm) == calls


async def test_hybrid_keeps_the_rule_result_when_the_llm_is_less_sure(agent, fake_llm):
    # "你好" scores 0.48 by rules; an unparsable LLM answer is worth 0.5 and wins (old behaviour),
    # a confident-but-lower LLM answer does not.
    script(fake_llm, classify="分类: DATABASE\n理由: x\n置信度: 0.3")
    result = await agent.process_question("你好", "u:1", "hybrid")
    assert result["type"] == "CHAT"
    assert result["classification_info"]["method"] == "rule_based_chat"


async def test_broken_sql_is_repaired_on_the_second_try(agent, fake_llm):
    script(
        fake_llm,
        sql="SELECT service_nam AS 服务区名称 FROM bss_business_day_data LIMIT 2;",
        repairs=[
            "```sql\nSELECT service_nme AS 服务区名称 FROM bss_business_day_data LIMIT 2\n```",
            "```sql\nSELECT service_name AS 服务区名称 FROM bss_business_day_data "
            "ORDER BY service_name NULLS LAST LIMIT 2\n```",
        ],
    )
    result = await agent.process_question("列出两个服务区", "u:1", "database_direct")

    assert result["success"] is True
    assert result["sql"].startswith("SELECT service_name AS 服务区名称")
    assert result["query_result"]["row_count"] == 2
    assert "sql_repair_success" in result["execution_path"]
    assert kinds(fake_llm) == ["sql", "repair", "repair", "summary"]
    # Each repair prompt carries the database's own error text for the SQL it repairs.
    first, second = (r for r in fake_llm.requests if "rejected this SQL" in str(r["messages"]))
    assert 'column "service_nam" does not exist' in first["messages"][1]["content"]
    assert 'column "service_nme" does not exist' in second["messages"][1]["content"]


async def test_repair_gives_up_after_two_attempts(agent, fake_llm):
    script(
        fake_llm, sql="SELECT nope FROM bss_company;", repairs=["SELECT nope2 FROM bss_company;"]
    )
    result = await agent.process_question("公司", "u:1", "database_direct")
    assert result["success"] is False and result["sql_generation_failed"] is True
    assert result["validation_error_type"] == "syntax_repair_failed"
    assert result["response"].startswith("SQL语法修复失败: 修复后的SQL仍然无效: ")
    # PostgreSQL's own text (it may quote data) feeds the repair loop, never the client.
    assert "does not exist" not in result["response"]
    assert kinds(fake_llm) == ["sql", "repair", "repair"]
    assert result["sql_validation_info"]["sql_repair_attempted"] is True


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("DELETE FROM bss_company;", "检测到写操作: DELETE"),
        ("```sql\nSELECT 1; DROP TABLE bss_company;\n```", "只允许执行单条只读查询语句"),
        ("WITH x AS (UPDATE bss_company SET version = 2 RETURNING id) SELECT * FROM x;", "UPDATE"),
        ("SELECT pg_sleep(10);", "禁止调用函数: pg_sleep"),
    ],
)
async def test_unsafe_sql_is_refused_with_its_reason(agent, fake_llm, business_pool, sql, reason):
    script(fake_llm, sql=sql)
    before = await business_pool.fetchval("SELECT count(*) FROM bss_company")
    result = await agent.process_question("删除公司", "u:1", "database_direct")
    assert result["success"] is False
    assert result["validation_error_type"] == "forbidden_keywords"
    assert result["response"].startswith("不允许的操作: ") and reason in result["response"]
    assert result["execution_path"][-2:] == ["forbidden_keywords_failed", "format_response"]
    assert kinds(fake_llm) == ["sql"]  # refused before any repair or execution
    assert await business_pool.fetchval("SELECT count(*) FROM bss_company") == before


async def test_explanation_instead_of_sql_is_a_chat_like_answer(agent, fake_llm):
    script(fake_llm, sql="<think>SELECT 1;</think>\n抱歉，数据库中没有天气数据。")
    result = await agent.process_question("明天服务区天气", "u:1", "database_direct")
    assert result["success"] is True and result["type"] == "DATABASE"
    assert result["response"] == "抱歉，数据库中没有天气数据。 请尝试提问其它问题。"
    assert result["sql"] is None


async def test_execution_error_reaches_the_result(agent, fake_llm):
    # EXPLAIN accepts it; the cast fails only on the data ('H01').
    script(fake_llm, sql="SELECT company_no::int AS 编号 FROM bss_company;")
    result = await agent.process_question("公司编号", "u:1", "database_direct")
    assert result["success"] is False
    assert result["error"] == "SQL执行失败: SQL执行出错：数据格式无效"
    assert "H01" not in result["error"]
    assert result["execution_path"][-2:] == ["agent_sql_execution_error", "format_response"]


async def test_empty_result_has_the_message_shape(agent, fake_llm):
    script(fake_llm, sql="SELECT company_name AS 公司 FROM bss_company WHERE false;")
    result = await agent.process_question("不存在的公司", "u:1", "database_direct")
    assert result["query_result"] == {
        "rows": [],
        "columns": [],
        "row_count": 0,
        "message": "查询执行成功，但没有找到符合条件的数据",
    }
    assert kinds(fake_llm) == ["sql"]  # no summary for an empty result


async def test_thinking_is_stripped_unless_configured(agent, fake_llm, agent_settings):
    script(fake_llm, chat="<think>推理过程</think>\n\n你好！")
    result = await agent.process_question("你好", "u:1", "chat_direct")
    assert result["response"] == "你好！"
    agent_settings.display_result_thinking = True
    result = await agent.process_question("你好", "u:1", "chat_direct")
    assert result["response"] == "<think>推理过程</think>\n\n你好！"


async def test_context_only_current_question_is_classified(agent, fake_llm):
    script(fake_llm)
    question = "\n[CONTEXT]\nUser: 荔枝好吃吗\nAssistant: 好吃\n\n[CURRENT]\n统计服务区的收入排名"
    result = await agent.process_question(question, "u:1", "hybrid")
    assert result["type"] == "DATABASE"  # 荔枝 in the context does not make it CHAT


async def test_stream_yields_a_progress_event_per_step(agent, fake_llm):
    script(fake_llm)
    events = [e async for e in agent.stream_question("收入前三的服务区是哪些", "u:1", "hybrid")]
    assert [e.get("node", e["type"]) for e in events] == [
        "classify_question",
        "agent_sql_generation",
        "agent_sql_execution",
        "format_response",
        "completed",
    ]
    assert events[0]["progress"]["details"] == "问题类型: DATABASE (置信度: 0.90)"
    assert events[1]["progress"]["display_name"] == "SQL生成成功"
    assert events[2]["progress"]["details"] == "查询完成，返回 3 行数据"
    assert events[-1]["result"]["query_result"]["row_count"] == 3


async def test_llm_timeout_raises_a_504_error(fake_llm, agent_settings, business_pool):
    agent_settings.llm_timeout = 0.3
    async with httpx.AsyncClient() as http:
        llm = build_text_model(agent_settings, http)
        agent = AskAgent(llm, MemoryRetriever(), lambda: business_pool, agent_settings)
        fake_llm.hang(5.0)
        with pytest.raises(LlmTimeout):
            await agent.process_question("你好", "u:1", "chat_direct")


async def test_llm_server_error_raises_a_503_error(agent, fake_llm):
    fake_llm.fail(500)
    with pytest.raises(LlmUnavailable) as caught:
        await agent.process_question("你好", "u:1", "chat_direct")
    assert caught.value.can_retry is True


async def test_summary_failure_keeps_the_rows(agent, fake_llm):
    script(fake_llm)
    fake_llm.when("数据分析助手", {"status": 500})
    fake_llm.reply(TOP3_SQL)  # FIFO first: the SQL prompt
    fake_llm.fail(503)  # then the summary fails
    result = await agent.process_question("收入", "u:1", "database_direct")
    assert result["success"] is True and result["query_result"]["row_count"] == 3
    assert (
        result["summary"] == "查询执行成功，共返回 3 条记录。数据已准备完毕，您可以查看详细结果。"
    )


async def test_intermediate_sql_shows_values_before_the_final_query(
    agent, fake_llm, agent_settings
):
    look = (
        "-- intermediate_sql\nSELECT DISTINCT service_area_name AS 名称 FROM bss_service_area "
        "WHERE service_area_name LIKE '%庐山%';"
    )
    final = "SELECT count(*) AS 档口数 FROM bss_branch WHERE service_name = '庐山服务区';"
    script(fake_llm, sql=[look, final])
    result = await agent.process_question("庐山有几个档口", "u:1", "database_direct")

    assert result["success"] is True and result["sql"] == final
    assert kinds(fake_llm) == ["sql", "sql", "summary"]
    second_system = fake_llm.requests[1]["messages"][0]["content"]
    assert "results of the intermediate SQL query" in second_system
    assert "| 庐山服务区 |" in second_system

    fake_llm.reset()
    agent_settings.allow_llm_to_see_data = False  # then the look-up itself is the answer's SQL
    script(fake_llm, sql=[look, final])
    result = await agent.process_question("庐山有几个档口", "u:1", "database_direct")
    assert kinds(fake_llm) == ["sql", "summary"] and "DISTINCT" in result["sql"]
