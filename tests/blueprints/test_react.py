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


async def until(predicate) -> None:
    """Wait for a condition instead of guessing a sleep (the machine may be busy)."""
    import asyncio

    async with asyncio.timeout(10):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.02)


async def ask(client, question=QUESTION, **fields):
    response = await client.post("/api/v0/ask_react_agent", json={"question": question, **fields})
    return response.status_code, await response.get_json()


async def test_question_answered_through_the_three_tools(client, fake_llm, business_db_url):
    import asyncpg

    conn = await asyncpg.connect(business_db_url)
    count = await conn.fetchval("SELECT count(*) FROM bss_branch WHERE service_name = '南城服务区'")
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
    assert meta["execution_path"] == [
        "agent",
        "prepare_tool_input",
        "tools",
        "format_final_response",
    ]
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


async def test_follow_up_on_the_same_thread_sees_the_history(client, fake_llm):
    script_sql_turn(fake_llm, "南城服务区共有5个档口。")
    _, first = await ask(client, user_id="wang1")
    thread = first["data"]["conversation_id"]

    follow_up = "这个服务区有哪些档口？"
    fake_llm.reply_tool_call("generate_sql", {"question": "改写过的问题"})
    fake_llm.reply(f"```sql\n{SQL};\n```")
    fake_llm.reply_tool_call("run_sql", {"sql": SQL})
    fake_llm.reply("有5个档口。")
    before = len(fake_llm.requests)
    status, body = await ask(client, follow_up, thread_id=thread)

    assert status == 200, body
    assert body["data"]["conversation_id"] == thread and body["data"]["user_id"] == "wang1"
    meta = body["data"]["react_agent_meta"]
    assert meta["conversation_rounds"] == 2 and meta["context_injected"] is True
    assert meta["sql_execution_count"] == 2
    # The agent's first LLM call of the turn carried the earlier question and answer.
    sent = [m.get("content") for m in fake_llm.requests[before]["messages"]]
    assert QUESTION in sent and "南城服务区共有5个档口。" in sent and follow_up in sent
    # generate_sql got the verbatim question plus the earlier turn to resolve "这个服务区".
    sql_prompt = fake_llm.requests[before + 1]["messages"][-1]["content"]
    assert "Previous conversation context:" in sql_prompt
    assert f"human: {QUESTION}" in sql_prompt and "ai: 南城服务区共有5个档口。" in sql_prompt
    assert f"human: {follow_up}" in sql_prompt and "改写过的问题" not in sql_prompt


async def test_history_survives_an_app_restart(settings, fake_llm):
    from citu.app import create_app

    script_sql_turn(fake_llm, "共有5个档口。")
    app = create_app(settings)
    async with app.test_app():
        _, first = await ask(app.test_client(), user_id="li")
    thread = first["data"]["conversation_id"]

    fake_llm.reply("您刚才问的是南城服务区的档口数量。")
    app = create_app(settings)
    async with app.test_app():
        client = app.test_client()
        status, body = await ask(client, "我刚才问了什么？", thread_id=thread)
        history = await (await client.get(f"/api/v0/react/conversations/{thread}")).get_json()

    assert status == 200 and body["data"]["react_agent_meta"]["conversation_rounds"] == 2
    sent = [m.get("content") for m in fake_llm.requests[-1]["messages"]]
    assert QUESTION in sent and "共有5个档口。" in sent
    assert [m["content"] for m in history["data"]["messages"]] == [
        QUESTION,
        "共有5个档口。",
        "我刚才问了什么？",
        "您刚才问的是南城服务区的档口数量。",
    ]


async def test_a_second_turn_on_a_busy_thread_gets_409(client, fake_llm):
    import asyncio

    fake_llm.hang(3.0, "第一个回答")
    thread = "zhang:20250730101522123"
    first = asyncio.create_task(ask(client, "第一个问题", thread_id=thread))
    await until(lambda: len(fake_llm.requests) == 1)  # the first turn now waits on the LLM
    status, body = await ask(client, "第二个问题", thread_id=thread)
    other_status, _ = await ask(client, "别的会话", user_id="zhang")

    assert status == 409
    assert body["success"] is False and body["code"] == 409 and body["retry_suggested"] is True
    assert body["data"]["conversation_id"] == thread and body["data"]["user_id"] == "zhang"
    assert other_status == 200  # other threads are not blocked
    first_status, first_body = await first
    assert first_status == 200 and first_body["data"]["response"] == "第一个回答"
    # The lease is released: the thread takes the next turn.
    fake_llm.reply("第三个回答")
    status, body = await ask(client, "第三个问题", thread_id=thread)
    assert status == 200 and body["data"]["react_agent_meta"]["conversation_rounds"] == 2


async def test_trimming_bounds_the_prompt_on_a_50_turn_thread(settings, fake_llm):
    from citu.app import create_app

    settings.react_trim_max_chars = 4000
    fake_llm.default_reply = "好的，" + "答" * 300
    app = create_app(settings)
    async with app.test_app():
        client = app.test_client()
        thread = "long:20250730101522123"
        for turn in range(50):
            status, _ = await ask(client, f"第{turn}个问题：" + "问" * 200, thread_id=thread)
            assert status == 200
        history = await (await client.get(f"/api/v0/react/conversations/{thread}")).get_json()

    sizes = [len("".join(m.get("content") or "" for m in r["messages"])) for r in fake_llm.requests]
    assert max(sizes) <= 4000
    last = fake_llm.requests[-1]["messages"]
    texts = [m.get("content") or "" for m in last]
    assert any(t.startswith("第49个问题") for t in texts)  # the current question is always sent
    assert not any(t.startswith("第0个问题") for t in texts)  # the oldest turns are not
    assert any(t.startswith("第48个问题") for t in texts)  # recent history is
    # Nothing is lost from the stored conversation.
    assert history["data"]["message_count"] == 100


async def test_stream_frames_in_order(client, fake_llm):
    script_sql_turn(fake_llm, "南城服务区共有5个档口。")
    response = await client.get(
        "/api/v0/ask_react_agent_stream", query_string={"question": QUESTION, "user_id": "wang1"}
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    raw = (await response.get_data()).decode()
    chunks = raw.split("\n\n")
    assert chunks[-1] == "" and all(c.startswith("data: ") for c in chunks[:-1])
    frames = [json.loads(c[len("data: ") :]) for c in chunks[:-1]]

    progress = [f for f in frames if f["data"]["type"] == "progress"]
    assert [(f["data"]["node"], f["data"]["display_name"]) for f in progress] == [
        ("agent", "准备生成SQL语句"),
        ("prepare_tool_input", "准备工具参数"),
        ("tools", "生成SQL语句"),
        ("update_state_after_tool", "检查结果"),
        ("agent", "准备验证SQL语法"),
        ("prepare_tool_input", "准备工具参数"),
        ("tools", "验证SQL语法"),
        ("update_state_after_tool", "检查结果"),
        ("agent", "准备执行SQL查询"),
        ("prepare_tool_input", "准备工具参数"),
        ("tools", "执行SQL查询"),
        ("update_state_after_tool", "检查结果"),
        ("agent", "AI分析中"),
        ("format_final_response", "生成回答"),
    ]
    first = progress[0]
    assert first["code"] == 200 and first["success"] is True
    assert first["message"] == "正在执行: 准备生成SQL语句"
    assert first["data"]["tool_name"] == "generate_sql" and "timestamp" in first["data"]
    thread = first["data"]["thread_id"]
    assert thread.startswith("wang1:")

    completed = frames[-1]
    assert frames.index(completed) == len(progress)  # completed is last, exactly once
    assert completed["message"] == "处理完成" and completed["data"]["type"] == "completed"
    data = completed["data"]
    assert data["response"] == "南城服务区共有5个档口。"
    assert data["conversation_id"] == thread and data["user_id"] == "wang1"
    assert data["sql"] == SQL and data["records"]["rows"] == [{"档口数量": 5}]
    assert data["react_agent_meta"]["tools_used"] == ["generate_sql", "valid_sql", "run_sql"]
    assert "南城服务区" in raw  # raw UTF-8, not \\u escapes


async def test_stream_validation_errors_are_in_band(client):
    response = await client.get("/api/v0/ask_react_agent_stream")
    assert response.status_code == 200
    frame = json.loads((await response.get_data()).decode().removeprefix("data: "))
    assert frame == {
        "code": 500,
        "success": False,
        "message": "处理失败",
        "data": {
            "type": "error",
            "error": "缺少必需参数：question",
            "timestamp": frame["data"]["timestamp"],
            "error_type": "invalid_request",
            "request_id": response.headers["X-Request-ID"],
        },
    }
    response = await client.get(
        "/api/v0/ask_react_agent_stream",
        query_string={"question": "hi", "user_id": "a", "thread_id": "b:20250730101522123"},
    )
    frame = json.loads((await response.get_data()).decode().removeprefix("data: "))
    assert frame["data"]["error"] == (
        "参数验证失败: 会话归属验证失败：会话ID [b:20250730101522123] 不属于当前用户 [a]"
    )


async def test_ask_validation_errors(client):
    response = await client.post(
        "/api/v0/ask_react_agent", data="{bad", headers={"Content-Type": "application/json"}
    )
    body = await response.get_json()
    assert response.status_code == 400 and body["message"] == "请求格式错误" and "details" in body
    response = await client.post("/api/v0/ask_react_agent", json={})
    assert (await response.get_json()) == {
        "code": 400,
        "message": "请求参数错误",
        "success": False,
        "error": "请求体不能为空",
    }
    status, body = await ask(client, "  ", user_id="u" * 51, thread_id="nocolon")
    assert status == 400 and body["message"] == "参数验证失败"
    assert body["error"] == (
        "问题不能为空; 用户ID长度不能超过50字符; 会话ID格式无效，期望格式为 user_id:timestamp"
    )
    status, body = await ask(client, "问" * 2001)
    assert status == 400 and body["error"] == "问题长度不能超过2000字符"


async def test_failed_sql_generation_falls_back_to_common_sense(client, fake_llm):
    fake_llm.reply_tool_call("generate_sql", {"question": "地球有多重？"})
    fake_llm.reply("抱歉，数据库中没有相关信息。")  # generate_sql's LLM: no SQL
    fake_llm.reply("地球质量约为5.97×10^24千克。")
    status, body = await ask(client, "地球有多重？")
    assert status == 200
    assert (
        body["data"]["response"] == "抱歉，数据库中没有相关信息。\n\n地球质量约为5.97×10^24千克。"
    )
    assert "sql" not in body["data"] and "records" not in body["data"]
    assert "无法从数据库中获得答案" in json.dumps(fake_llm.requests[-1], ensure_ascii=False)


async def test_llm_unreachable_ends_the_turn_with_an_apology(settings, fake_llm):
    from citu.app import create_app

    settings.react_retry_base_delay = 0
    settings.llm_base_url = "http://127.0.0.1:1/v1"  # nothing listens there
    app = create_app(settings)
    async with app.test_app():
        status, body = await ask(app.test_client(), "你好")
    # Network failures end the turn with an apology (the turn itself succeeds).
    assert status == 200
    assert (
        body["data"]["response"]
        == "抱歉，由于网络连接问题，无法完成此次请求。请稍后重试或检查网络连接。"
    )


async def test_llm_refusing_the_request_fails_the_turn_with_500(client, fake_llm):
    fake_llm.fail(400, "invalid_parameter_error")
    status, body = await ask(client, "你好", user_id="u1")
    assert status == 500
    assert body["code"] == 500 and body["message"] == "处理失败" and body["success"] is False
    # The provider's text stays in the log; the client gets citu's text and a code.
    assert body["retry_suggested"] is False and body["error"] == "AI服务暂时不可用，请稍后重试"
    assert "invalid_parameter_error" not in json.dumps(body)
    assert body["data"]["error_type"] == "llm_unavailable"
    assert body["data"]["user_id"] == "u1" and body["data"]["conversation_id"].startswith("u1:")


async def test_empty_llm_answers_are_retried_then_apologised_for(client, services, fake_llm):
    services.settings.react_retry_base_delay = 0
    for _ in range(3):
        fake_llm.reply("   ")
    status, body = await ask(client, "你好")
    assert status == 200
    assert (
        body["data"]["response"]
        == "抱歉，我现在无法正确处理您的问题。请稍后重试或重新表述您的问题。"
    )
    assert len(fake_llm.requests) == 3

    fake_llm.reply("")
    fake_llm.reply("第二次才回答")
    status, body = await ask(client, "你好")
    assert body["data"]["response"] == "第二次才回答"


async def test_llm_outage_after_the_query_still_returns_the_rows(client, services, fake_llm):
    services.settings.react_retry_base_delay = 0
    fake_llm.reply_tool_call("generate_sql", {"question": QUESTION})
    fake_llm.reply(f"```sql\n{SQL}\n```")
    fake_llm.reply_tool_call("run_sql", {"sql": SQL})
    for _ in range(3):
        fake_llm.fail(500)
    status, body = await ask(client)
    assert status == 200
    data = body["data"]
    assert data["response"].startswith(
        "抱歉，由于网络连接问题，无法生成完整的文字总结。不过查询已成功执行，结果如下：\n\n"
    )
    assert '"档口数量"' in data["response"] and data["records"]["columns"] == ["档口数量"]


async def read_frames(response) -> list[dict]:
    raw = (await response.get_data()).decode()
    return [json.loads(c.removeprefix("data: ")) for c in raw.split("\n\n") if c]


async def test_stream_turn_failure_ends_with_an_error_frame(client, fake_llm):
    fake_llm.fail(400, "bad tool message order")
    response = await client.get(
        "/api/v0/ask_react_agent_stream", query_string={"question": "你好", "user_id": "u"}
    )
    frames = await read_frames(response)
    assert response.status_code == 200
    last = frames[-1]
    assert last["code"] == 500 and last["message"] == "处理失败"
    assert (
        last["data"]["type"] == "error" and last["data"]["error"] == "AI服务暂时不可用，请稍后重试"
    )
    assert last["data"]["error_type"] == "llm_unavailable"
    assert "bad tool message order" not in json.dumps(frames)
    assert all(f["data"]["type"] == "progress" for f in frames[:-1])


async def test_stream_on_a_busy_thread(client, fake_llm):
    import asyncio

    fake_llm.hang(3.0, "先到的回答")
    thread = "zhao:20250730101522123"
    first = asyncio.create_task(ask(client, "先问", thread_id=thread))
    await until(lambda: len(fake_llm.requests) == 1)
    response = await client.get(
        "/api/v0/ask_react_agent_stream", query_string={"question": "后问", "thread_id": thread}
    )
    frames = await read_frames(response)
    assert [f["data"]["error"] for f in frames] == ["该会话已有请求正在处理，请等待完成后再提问"]
    assert (await first)[0] == 200


async def test_generate_sql_uses_the_trained_examples(client, services, fake_llm):
    training = services.training
    await training.add_question_sql("南城服务区有几个档口？", SQL)
    await training.add_ddl("CREATE TABLE bss_branch (id varchar(32), service_name varchar(255));")
    script_sql_turn(fake_llm)

    status, _ = await ask(client)

    assert status == 200
    sql_call = next(
        r for r in fake_llm.requests if "===Tables" in (r["messages"][0]["content"] or "")
    )
    messages = sql_call["messages"]
    assert "CREATE TABLE bss_branch" in messages[0]["content"]
    assert [m["content"] for m in messages[1:3]] == ["南城服务区有几个档口？", SQL]
    assert messages[-1]["content"] == QUESTION


async def test_a_turn_is_written_to_react_agent_log(client, fake_llm, settings):
    """react_agent.log, listed in the README, gets each turn and each tool it called."""
    import logging

    script_sql_turn(fake_llm)
    status, body = await ask(client, user_id="wang1")
    assert status == 200, body
    for handler in logging.getLogger("citu.agents.react").handlers:
        handler.flush()
    log_file = settings.log_dir / "react_agent.log"
    assert log_file.exists()
    text = log_file.read_text(encoding="utf-8")
    thread = body["data"]["conversation_id"]
    assert f"ReAct turn on {thread} started" in text
    assert f"ReAct turn on {thread} completed" in text
    for tool in ("generate_sql", "valid_sql", "run_sql"):
        assert f"ReAct turn on {thread}: tool {tool} called" in text
