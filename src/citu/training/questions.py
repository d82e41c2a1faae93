"""Generating the business question of a SQL example with the LLM, when a training pair
omits it: one short Chinese question ending with a question mark."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from citu.errors import BadRequest, ServiceUnavailable
from citu.llm.calls import complete
from citu.llm.text import drop_thinking

SYSTEM_PROMPT = (
    "你是一名数据分析专家。请根据用户给出的SQL查询语句，推断出它所回答的业务问题。"
    "要求：只输出这个问题本身，不要解释，不要出现表名或字段名，用中文表达，以问号结尾。"
)
MSG_NO_LLM = "SQL缺少对应的question，且未配置LLM，无法自动生成问题：请提供question字段"


def clean_question(text: str) -> str:
    """The LLM's answer without thinking, quotes and extra lines, ending with a question mark."""
    text = drop_thinking(text).strip()
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = line.strip("\"'“”`").strip()
    if line and not line.endswith(("?", "？")):
        line += "?"
    return line


async def generate_question(llm: ChatOpenAI | None, sql: str) -> str:
    """Ask the LLM which question ``sql`` answers; 400 when no LLM is configured."""
    if llm is None:
        raise BadRequest(MSG_NO_LLM, missing_params=["question"])
    answer = await complete(llm, [SystemMessage(SYSTEM_PROMPT), HumanMessage(sql)])
    question = clean_question(answer)
    if not question or question == "?":
        raise ServiceUnavailable("LLM未能根据SQL生成问题，请提供question字段")
    return question
