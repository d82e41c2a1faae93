"""The question classifier's keyword rules, routing modes and LLM reply parsing."""

from __future__ import annotations

import pytest

from citu.agents.classifier import QuestionClassifier


@pytest.fixture
def classifier():
    return QuestionClassifier(None)


@pytest.mark.parametrize(
    ("question", "kind", "method"),
    [
        ("收入前三的服务区是哪些", "DATABASE", "rule_based_strong_business"),
        ("庐山服务区的微信支付和支付宝订单", "DATABASE", "rule_based_medium_business"),
        ("荔枝一般几月上市", "CHAT", "rule_based_non_business"),
        ("你好，介绍一下使用方法", "CHAT", "rule_based_chat"),
        ("那上个月呢", "UNCERTAIN", "rule_based_uncertain"),
        ("统计G70沿线的车流量", "DATABASE", "rule_based_strong_business"),  # upper-case keyword
    ],
)
def test_rules(classifier, question, kind, method):
    found = classifier.classify_with_rules(question)
    assert (found.question_type, found.method) == (kind, method)


def test_non_business_words_win(classifier):
    found = classifier.classify_with_rules("服务区的天气怎么样")
    assert found.question_type == "CHAT" and found.confidence == 0.85


async def test_direct_modes_skip_classification(classifier):
    found = await classifier.classify("荔枝", "database_direct")
    assert (found.question_type, found.confidence, found.method) == (
        "DATABASE",
        1.0,
        "direct_database",
    )
    found = await classifier.classify("收入排名", "chat_direct")
    assert (found.question_type, found.method) == ("CHAT", "direct_chat")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("分类: DATABASE\n理由: 查询营收\n置信度: 0.92", ("DATABASE", "查询营收", 0.92)),
        ("分类：CHAT\n理由：常识\n置信度：0.8", ("CHAT", "常识", 0.8)),  # full-width colons
        ("Classification: DATABASE\nReason: r\nConfidence: [1.7]", ("DATABASE", "r", 1.0)),
        ("分类: DATABASE\n置信度: 很高", ("DATABASE", "LLM响应解析失败", 0.5)),
        ("随便说说", ("CHAT", "LLM响应解析失败", 0.5)),
    ],
)
def test_llm_reply_parsing(classifier, reply, expected):
    found = classifier.parse_llm_reply(reply)
    assert (found.question_type, found.reason, found.confidence) == expected
    assert found.method == "enhanced_llm"


async def test_without_an_llm_the_llm_fallback_is_a_weak_chat(classifier):
    found = await classifier.classify("那上个月呢", "hybrid")
    assert found.method == "rule_based_uncertain"  # 0.2 > the fallback's 0.1
    found = await classifier.classify("那上个月呢", "llm_only")
    assert (found.question_type, found.confidence) == ("CHAT", 0.1)
