"""``/ask_cached``'s per-process answers stay within their entry and byte budgets."""

from __future__ import annotations

from citu.agents.direct_ask import Answer, AnswerCache


def answer(rows: int) -> Answer:
    return Answer("SELECT 1", {"columns": ["x"], "rows": [{"x": "y" * 100}] * rows}, None)


def test_the_cache_stays_within_its_byte_budget():
    cache = AnswerCache(ttl=60, max_entries=1000, max_bytes=10_000)
    for n in range(200):
        cache.put(f"user{n}", f"question {n}", answer(10))
        assert cache.size <= 10_000
    assert 0 < len(cache) < 200
    assert cache.get("user199", "question 199") is not None  # the newest stays
    assert cache.get("user0", "question 0") is None  # the oldest went first


def test_an_answer_larger_than_the_budget_is_not_kept():
    cache = AnswerCache(ttl=60, max_entries=10, max_bytes=1_000)
    cache.put("u", "q", answer(100))
    assert len(cache) == 0 and cache.size == 0


def test_replacing_an_answer_does_not_count_it_twice():
    cache = AnswerCache(ttl=60, max_entries=10, max_bytes=100_000)
    cache.put("u", "q", answer(5))
    once = cache.size
    cache.put("u", "Q ", answer(5))  # the same normalised question
    assert cache.size == once and len(cache) == 1
