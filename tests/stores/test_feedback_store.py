"""FeedbackStore on its own (no web layer): promotion races and content already stored."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from citu.stores.feedback import FeedbackFilter, FeedbackStore


async def add_rows(store: FeedbackStore, count: int, *, thumbs_up: bool = True) -> list[int]:
    return [
        await store.add(f"第{n}个问题：服务区{n}的收入", f"SELECT {n} AS n", thumbs_up, "tester")
        for n in range(count)
    ]


async def vector_count(store: FeedbackStore) -> int:
    return await store.pool.fetchval("SELECT count(*) FROM langchain_pg_embedding")


async def test_concurrent_promotions_train_each_row_once(services):
    store, training = services.feedback, services.training
    ids = await add_rows(store, 6)
    first, second = await asyncio.gather(
        store.promote_to_training(ids, training), store.promote_to_training(ids, training)
    )
    assert sorted(first.positive + second.positive) == ids
    assert sorted(first.already_trained + second.already_trained) == ids
    assert await vector_count(store) == 6


async def test_row_edited_between_embedding_and_commit_is_not_marked(services):
    store, training = services.feedback, services.training
    edited, kept = await add_rows(store, 2)

    class EditWhileEmbedding:
        """The real training service; a user edits one row while its vector is computed."""

        async def prepare(self, items):
            prepared = await training.prepare(items)
            await store.update(edited, {"sql": "SELECT 'changed'"})
            return prepared

        store_prepared = training.store_prepared

    result = await store.promote_to_training([edited, kept], EditWhileEmbedding())
    assert result.positive == [kept] and result.errors == [edited]
    assert await vector_count(store) == 1
    rows, _ = await store.query(FeedbackFilter(is_in_training_data=True), page=1, page_size=10)
    assert [row["id"] for row in rows] == [kept]


async def test_content_already_in_the_vector_store_is_marked_without_embedding(services, fake_llm):
    store, training = services.feedback, services.training
    (feedback_id,) = await add_rows(store, 1)
    row = (await store.query(FeedbackFilter(), page=1, page_size=1))[0][0]
    await training.add_question_sql(row["question"], row["sql"])
    calls = len(fake_llm.embedding_requests)

    result = await store.promote_to_training([feedback_id], training)
    assert result.positive == [feedback_id]
    assert len(fake_llm.embedding_requests) == calls
    assert await vector_count(store) == 1


async def test_negative_feedback_goes_to_error_sql(services):
    store, training = services.feedback, services.training
    ids = await add_rows(store, 2, thumbs_up=False)
    result = await store.promote_to_training(ids, training)
    assert result.negative == ids and result.positive == []
    names = await store.pool.fetch(
        "SELECT c.name, e.cmetadata->>'id' AS id FROM langchain_pg_embedding e"
        " JOIN langchain_pg_collection c ON c.uuid = e.collection_id"
    )
    assert {row["name"] for row in names} == {"error_sql"}
    assert all(row["id"].endswith("-error_sql") for row in names)


@pytest.mark.parametrize("fields", [{}, {"create_time": datetime(2025, 1, 1)}])
async def test_update_refuses_fields_outside_the_whitelist(services, fields):
    store = services.feedback
    (feedback_id,) = await add_rows(store, 1)
    with pytest.raises(ValueError):
        await store.update(feedback_id, fields)


async def test_query_rejects_a_sort_column_outside_the_whitelist(services):
    store = services.feedback
    with pytest.raises(ValueError):
        await store.query(FeedbackFilter(), page=1, page_size=1, sort_by="question")
