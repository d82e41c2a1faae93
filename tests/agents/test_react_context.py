"""The character budget that bounds what the ReAct LLM sees."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from citu.agents.react.context import TRUNCATED, history_for_sql, total_chars, trim_for_llm


def tool_turn(n: int, result: str = "[]") -> list:
    return [
        HumanMessage(f"问题{n}", id=f"h{n}"),
        AIMessage(
            "",
            tool_calls=[{"name": "run_sql", "args": {"sql": "SELECT 1"}, "id": f"c{n}"}],
            id=f"a{n}",
        ),
        ToolMessage(result, tool_call_id=f"c{n}", name="run_sql", id=f"t{n}"),
        AIMessage(f"回答{n}", id=f"r{n}"),
    ]


def test_everything_fits_but_old_tool_traffic_is_dropped():
    messages = tool_turn(1) + tool_turn(2)[:3]
    sent = trim_for_llm(messages, 10_000)
    assert [m.id for m in sent] == ["h1", "r1", "h2", "a2", "t2"]


def test_oldest_turns_go_first():
    messages = [m for n in range(20) for m in tool_turn(n)] + [HumanMessage("现在的问题", id="now")]
    sent = trim_for_llm(messages, 25)
    assert sent[-1].id == "now" and total_chars(sent) <= 25
    assert [m.id for m in sent] == ["h18", "r18", "h19", "r19", "now"]


def test_a_huge_tool_result_is_truncated_not_dropped():
    big = "x" * 5000
    messages = tool_turn(1, big)[:3]
    sent = trim_for_llm(messages, 1000)
    assert total_chars(sent) <= 1000
    assert [m.id for m in sent] == ["h1", "a1", "t1"]
    assert sent[2].content.endswith(TRUNCATED)
    assert messages[2].content == big  # the stored message is untouched


def test_a_long_tool_loop_keeps_whole_call_and_reply_pairs():
    turn = [HumanMessage("问题", id="h")]
    for n in range(30):
        turn += tool_turn(n, "y" * 300)[1:3]
    sent = trim_for_llm(turn, 1000)
    assert total_chars(sent) <= 1000
    assert sent[0].id == "h" and sent[-1].id == "t29"
    calls = {m.tool_calls[0]["id"] for m in sent if isinstance(m, AIMessage)}
    replies = {m.tool_call_id for m in sent if isinstance(m, ToolMessage)}
    assert calls == replies and calls


def test_history_for_sql_keeps_questions_and_answers_before_the_current_question():
    messages = tool_turn(1) + tool_turn(2) + [HumanMessage("现在", id="now")]
    assert history_for_sql(messages, 1000) == [
        {"type": "human", "content": "问题1"},
        {"type": "ai", "content": "回答1"},
        {"type": "human", "content": "问题2"},
        {"type": "ai", "content": "回答2"},
    ]
    assert history_for_sql(messages, 6) == [
        {"type": "human", "content": "问题2"},
        {"type": "ai", "content": "回答2"},
    ]
