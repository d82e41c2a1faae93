"""The ReAct blueprint end to end: real graph, real PostgreSQL checkpointer, fake LLM."""

from __future__ import annotations

import json

QUESTION = "南城服务区有多少个档口？"
SQL = "SELECT count(*) AS 档口数量 FROM bss_branch WHERE service_name = '南城服务区'"


def script_sql_turn(fake_llm, answer: str = "南城服务区共有{n}个档口。") -> None:
    """One data question: generate_sql → valid_sql → run_sql → answer."""
    fake_llm.reply_tool_call("generate_sql", {"question": QUESTION})
    fake_llm.reply(f"```sql\n{SQL};\n```")  # the generate_sql tool's own LLM call
    fake_llm.reply_tool_call("valid_sql", {"sql": SQL})
    fake_llm.reply_tool_call("run_sql", {"sql": SQL})
    fake_llm.reply(answer)


async def ask(client, question=QUESTION, **fields):
    response = await client.post("/api/v0/ask_react_agent", json={"question": question, **fields})
    return response.status_code, await response.get_json()


async def test_question_answered_through_the_three_tools(client, fake_llm, business_db_url):
    import asyncpg

    conn = await asyncpg.connect(business_db_url)
    count = await conn.fetchval(
        "SELECT count(*) FROM bss_branch WHERE service_name = '南城服务区'"
    )
    await conn.close()
    script_sql_turn(fake_llm, f"南城服务区共有{count}个档口。")

    status, body = await ask(client, user_id="wang1")

    assert status == 200, body
    assert body["code"] == 200 and body["message"] == "处理成功" and body["success"] is True
    data = body["data"]
    assert data["response"] == f"南城服务区共有{count}个档口。"
    assert data["user_id"] == "wang1"
    thread = data["conversation_id"]
    user, stamp = thread.split(":")
    assert user == "wang1" and len(stamp) == 17 and stamp.isdigit()
    assert data["sql"] == SQL
    assert data["records"] == {
        "columns": ["档口数量"],
        "rows": [{"档口数量": count}],
        "total_row_count": 1,
        "is_limited": False,
    }
    meta = data["react_agent_meta"]
    assert meta["thread_id"] == thread
    assert meta["tools_used"] == ["generate_sql", "valid_sql", "run_sql"]
    assert meta["execution_path"] == ["agent", "prepare_tool_input", "tools", "format_final_response"]
    assert meta["conversation_rounds"] == 1
    assert meta["sql_execution_count"] == 1
    assert meta["context_injected"] is False
    assert meta["agent_version"] == "custom_react_v1"
    # human, 3 × (AI call + tool reply), final answer
    assert meta["total_messages"] == 8
    # The tool results reached the LLM: the last call saw the rows and the validation text.
    sent = [m.get("content") for m in fake_llm.requests[-1]["messages"]]
    assert "SQL验证通过：语法正确且字段存在" in sent
    assert json.dumps([{"档口数量": count}], ensure_ascii=False) in sent
