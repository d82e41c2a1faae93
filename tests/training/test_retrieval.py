"""Retrieval over the real store with the fake's n-gram embeddings."""

from __future__ import annotations

import pytest

from citu.training.retrieval import RetrievedContext, Retriever, keep_by_threshold
from citu.training.vector_store import Hit

QUESTIONS = [
    (
        "2025年1月各服务区的营业收入是多少？",
        "SELECT service_name, sum(pay_sum) FROM bss_business_day_data GROUP BY 1",
    ),
    ("哪个公司管理的服务区最多？", "SELECT company_id, count(*) FROM bss_service_area GROUP BY 1"),
    (
        "车流量最大的服务区是哪个？",
        "SELECT service_area_id, sum(customer_count) FROM bss_car_day_count GROUP BY 1",
    ),
    (
        "每条路段有几个服务区？",
        "SELECT section_route_id, count(*) FROM bss_section_route_area_link GROUP BY 1",
    ),
]


@pytest.fixture
def training(services):
    return services.training


@pytest.fixture
def retriever(services) -> Retriever:
    return services.retriever


async def fill(training):
    for question, sql in QUESTIONS:
        await training.add_question_sql(question, sql)
    await training.add_ddl(
        "CREATE TABLE bss_service_area (id int, service_area_name text) -- 服务区表"
    )
    await training.add_documentation("服务区营业收入按日统计在 bss_business_day_data 中")
    await training.add_error_sql("2025年1月各服务区的营业收入是多少", "SELECT * FROM revenue")


async def test_near_duplicate_question_comes_first(training, retriever, settings):
    await fill(training)
    await training.add_error_sql("哪个公司管理的服务区最多", "SELECT max(company) FROM x")
    # Stored sql/error_sql documents are the JSON of question and SQL (the old layout), so a
    # bare question scores lower against them than against another bare question.
    settings.result_vector_error_sql_score_threshold = 0.4
    context = await retriever.retrieve("2025年1月各个服务区营业收入是多少")
    assert isinstance(context, RetrievedContext)
    first = context.question_sql[0]
    assert first["question"] == QUESTIONS[0][0] and first["sql"] == QUESTIONS[0][1]
    similarities = [p["similarity"] for p in context.question_sql]
    assert similarities == sorted(similarities, reverse=True)
    assert similarities[0] > similarities[1] + 0.2
    # Soft threshold: none passes 0.65, so half of the hits (rounded up) are kept.
    assert len(context.question_sql) == 2
    assert context.ddl and context.documentation
    # Hard threshold for wrong-SQL examples: only the matching one.
    assert [(e["question"], e["sql"]) for e in context.error_sql] == [
        ("2025年1月各服务区的营业收入是多少", "SELECT * FROM revenue")
    ]
    assert context.error_sql[0]["similarity"] >= 0.4


async def test_thresholds_and_top_k_come_from_settings(training, retriever, settings):
    await fill(training)
    settings.enable_result_vector_score_threshold = False
    settings.n_results = 3
    context = await retriever.retrieve("完全无关的天气问题")
    assert len(context.question_sql) == 3  # unfiltered top-k
    assert context.error_sql == []  # the error-SQL threshold is a hard one

    settings.enable_error_sql_prompt = False
    context = await retriever.retrieve("2025年1月各服务区的营业收入是多少")
    assert context.error_sql == []

    settings.enable_result_vector_score_threshold = True
    settings.result_vector_sql_score_threshold = 0.0
    settings.n_results = 6
    context = await retriever.retrieve("完全无关的天气问题")
    assert len(context.question_sql) == 4  # everything passes a zero threshold


async def test_empty_store_retrieves_nothing(retriever):
    assert await retriever.retrieve("任何问题") == RetrievedContext()


def test_keep_by_threshold_keeps_at_least_half():
    hits = [Hit(str(i), s) for i, s in enumerate([0.3, 0.9, 0.2, 0.1, 0.4])]
    assert [h.similarity for h in keep_by_threshold(hits, 0.5, True)] == [0.9, 0.4, 0.3]
    assert [h.similarity for h in keep_by_threshold(hits, 0.25, True)] == [0.9, 0.4, 0.3]
    assert [h.similarity for h in keep_by_threshold(hits, 0.15, True)] == [0.9, 0.4, 0.3, 0.2]
    assert keep_by_threshold(hits, 0.99, False) == hits
    assert keep_by_threshold([], 0.5, True) == []
