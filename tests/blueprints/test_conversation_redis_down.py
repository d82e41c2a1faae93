"""Redis stopped mid-test: the conversation routes answer 503 envelopes, the agent-facing store
operations degrade, and the rest of the service keeps serving.

Uses its own throw-away redis-server on a free port; the machine's shared Redis is never touched.
"""

from __future__ import annotations

import asyncio
import time

from citu.app import create_app
from citu.blueprints.conversation import REDIS_DOWN_TEXT
from fakes.own_redis import own_redis  # noqa: F401 - fixture

ROUTES = [
    ("GET", "/api/v0/user/wang1/conversations", None),
    ("GET", "/api/v0/user/wang1/conversations/full", None),
    ("GET", "/api/v0/conversation/wang1:20250101000000000/messages", None),
    ("GET", "/api/v0/conversation/wang1:20250101000000000/context", None),
    ("GET", "/api/v0/conversation_stats", None),
    ("POST", "/api/v0/conversation_cleanup", {"user_id": "wang1"}),
    ("POST", "/api/v0/conversation_cleanup", {"conversation_id": "wang1:20250101000000000"}),
    ("POST", "/api/v0/conversation_cleanup", {"clear_all_agent_data": True}),
    ("POST", "/api/v0/conversation_cleanup", {"cleanup_invalid_refs": True}),
    ("POST", "/api/v0/conversation_limit_enforcement", {"dry_run": False}),
    ("GET", "/api/v0/embedding_cache_stats", None),
    ("POST", "/api/v0/embedding_cache_cleanup", None),
    ("GET", "/api/v0/qa_cache_stats", None),
    ("GET", "/api/v0/qa_cache_list", None),
    ("POST", "/api/v0/qa_cache_cleanup", None),
    ("GET", "/api/v0/cache_overview", None),
    ("GET", "/api/v0/cache_overview_full", None),
    ("GET", "/api/v0/cache_stats", None),
    ("GET", "/api/v0/cache_export", None),
    ("POST", "/api/v0/cache_preview_cleanup", {"older_than_hours": 1}),
    ("POST", "/api/v0/cache_cleanup", {"older_than_hours": 1}),
]


async def test_routes_answer_503_when_redis_stops(settings, own_redis):
    settings.redis_url = own_redis.url
    settings.redis_timeout = 1.0
    settings.enable_question_answer_cache = True
    app = create_app(settings)
    async with app.test_app():
        client = app.test_client()
        store = app.extensions["citu"].conversations
        cid = await store.create_conversation("wang1")
        assert await store.save_message(cid, "user", "q")
        response = await client.get("/api/v0/user/wang1/conversations")
        assert response.status_code == 200  # up: served normally

        own_redis.kill()
        started = time.monotonic()
        for method, path, body in ROUTES:
            response = await client.open(path, method=method, json=body)
            reply = await response.get_json()
            assert response.status_code == 503, (path, reply)
            assert reply["code"] == 503 and reply["success"] is False, path
            assert reply["message"] == "服务暂时不可用" and reply["data"]["can_retry"] is True
            assert reply["data"]["response"] == REDIS_DOWN_TEXT, path
        elapsed = time.monotonic() - started

        # The agent-facing operations degrade instead of failing the ask request.
        assert await store.get_context(cid) == ""
        assert await store.save_message(cid, "assistant", "a") is False
        new_id, status = await store.resolve_conversation_id("wang1", cid)
        assert new_id.startswith("wang1:") and status["status"] == "invalid_id_new"
        assert await store.get_cached_answer("q") is None
        assert await store.cache_answer("q", {"success": True}) is False

        # Nothing else breaks: the rest of the service still answers.
        health = await (await client.get("/health")).get_json()
        assert health["services"]["redis"] is False and health["services"]["database"] is True
    assert elapsed < len(ROUTES) * 2, f"503s took {elapsed:.1f}s"


async def test_routes_recover_when_redis_comes_back(settings, own_redis):
    settings.redis_url = own_redis.url
    app = create_app(settings)
    async with app.test_app():
        client = app.test_client()
        own_redis.kill()
        response = await client.get("/api/v0/conversation_stats")
        assert response.status_code == 503
        await asyncio.to_thread(own_redis.start)
        for _ in range(100):
            response = await client.get("/api/v0/conversation_stats")
            if response.status_code == 200:
                break
            await asyncio.sleep(0.05)
        assert response.status_code == 200
