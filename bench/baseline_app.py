"""The old design, rebuilt for comparison: a Flask app whose ``ask_agent`` runs an async agent
through ``asyncio.run`` on every request (a new event loop, a new compiled graph and a new HTTP
client each time, as the old service did).

Served the ways the old service was:

    gunicorn -k gthread -w 1 --threads 8 bench.baseline_app:app     (WSGI, a thread pool)
    hypercorn bench.baseline_app:asgi_app                           (asgiref's WsgiToAsgi)

Settings come from the environment: ``BASELINE_LLM_BASE_URL`` (the fake OpenAI server's
``/v1``), ``BASELINE_LLM_API_KEY``.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from typing import TypedDict

import httpx
from asgiref.wsgi import WsgiToAsgi
from flask import Flask, jsonify, request
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph

app = Flask("baseline")


class AgentState(TypedDict, total=False):
    question: str
    answer: str


class BaselineAgent:
    """One LLM call per question, inside a LangGraph graph compiled per request."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.api_key = api_key

    async def ask(self, question: str) -> str:
        # A client bound to this request's loop: a shared one would outlive asyncio.run's loop.
        async with httpx.AsyncClient(timeout=60) as http:
            llm = ChatOpenAI(
                model="fake-llm",
                base_url=self.base_url,
                api_key=self.api_key,
                http_async_client=http,
                max_retries=0,
            )

            async def chat(state: AgentState) -> AgentState:
                reply = await llm.ainvoke(
                    [SystemMessage("你是数据助手。"), HumanMessage(state["question"])]
                )
                return {"answer": str(reply.content)}

            graph = StateGraph(AgentState)
            graph.add_node("chat", chat)
            graph.add_edge(START, "chat")
            graph.add_edge("chat", END)
            result = await graph.compile().ainvoke({"question": question})
            return result["answer"]


agent = BaselineAgent(
    os.environ.get("BASELINE_LLM_BASE_URL", "http://127.0.0.1:8765/v1"),
    os.environ.get("BASELINE_LLM_API_KEY", "bench"),
)


@app.post("/api/v0/ask_agent")
def ask_agent():
    body = request.get_json(silent=True) or {}
    question = body.get("question")
    if not question:
        return jsonify({"code": 400, "success": False, "message": "请求参数错误"}), 400
    answer = asyncio.run(agent.ask(question))  # the old pattern: a new event loop per request
    data = {
        "type": "CHAT",
        "response": answer,
        "conversation_id": body.get("conversation_id"),
        "timestamp": datetime.now().isoformat(),
    }
    return jsonify({"code": 200, "success": True, "message": "操作成功", "data": data})


@app.get("/health")
def health():
    return jsonify({"status": "healthy", "timestamp": datetime.now().isoformat()})


asgi_app = WsgiToAsgi(app)
