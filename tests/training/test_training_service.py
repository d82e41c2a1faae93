"""TrainingService against the real store: the interface other areas use, idempotency, caller
transactions, batching, row formats."""

from __future__ import annotations

import json
import uuid

import pytest

from citu.training.models import InvalidTrainingData, TrainingItem

SQL = "SELECT count(*) AS 服务区数量 FROM bss_service_area"


@pytest.fixture
def training(services):
    return services.training


async def rows(services):
    return await services.db.fetch(
        "SELECT e.id, e.document, e.cmetadata, c.name, vector_dims(e.embedding) AS dim"
        " FROM langchain_pg_embedding e JOIN langchain_pg_collection c ON c.uuid = e.collection_id"
        " ORDER BY e.id"
    )


async def test_add_methods_write_the_old_row_formats(training, services):
    sql_id = await training.add_question_sql("服务区有多少个？", SQL)
    error_id = await training.add_error_sql("服务区有多少个", "SELEC 1")
    ddl_id = await training.add_ddl("CREATE TABLE a (id int)")
    doc_id = await training.add_documentation("服务区即休息区")
    assert sql_id.endswith("-sql") and error_id.endswith("-error_sql")
    assert ddl_id.endswith("-ddl") and doc_id.endswith("-doc")
    uuid.UUID(sql_id.removesuffix("-sql"))  # <uuid>-<suffix>

    by_id = {r["id"]: r for r in await rows(services)}
    sql_row = by_id[sql_id]
    assert sql_row["name"] == "sql" and sql_row["dim"] == 1024
    assert sql_row["document"] == json.dumps(
        {"question": "服务区有多少个？", "sql": SQL}, ensure_ascii=False
    )
    meta = json.loads(sql_row["cmetadata"])
    assert meta["id"] == sql_id and meta["createdat"]
    assert json.loads(by_id[error_id]["document"])["type"] == "error_sql"
    assert by_id[error_id]["name"] == "error_sql"
    assert json.loads(by_id[ddl_id]["cmetadata"]) == {"id": ddl_id}
    assert (
        by_id[doc_id]["document"] == "服务区即休息区" and by_id[doc_id]["name"] == "documentation"
    )


async def test_adding_twice_stores_once(training, services, fake_llm):
    first = await training.add_question_sql("服务区有多少个？", SQL)
    calls = len(fake_llm.embedding_requests)
    again = await training.add_question_sql(" 服务区有多少个？", SQL + " ;")
    assert again == first and len(await rows(services)) == 1
    assert len(fake_llm.embedding_requests) == calls  # a known item is not embedded again
    assert await training.add_question_sql("服务区有几个？", SQL) != first


async def test_rows_written_before_citu_are_recognised(training, services):
    document = json.dumps({"question": "q", "sql": "SELECT 1"}, ensure_ascii=False)
    legacy_id = f"{uuid.uuid4()}-sql"
    await services.db.execute(
        "INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata)"
        " SELECT $1, uuid, $2::real[]::vector, $3, $4::jsonb FROM langchain_pg_collection"
        " WHERE name = 'sql'",
        legacy_id,
        [1.0] + [0.0] * 1023,
        document,
        json.dumps({"id": legacy_id, "createdat": None}),
    )
    assert await training.add_question_sql("q", "SELECT 1") == legacy_id
    assert len(await rows(services)) == 1


async def test_write_sql_is_refused(training, services):
    for sql in ("DELETE FROM bss_company", "INSERT INTO a VALUES (1)", "SELECT 1; DROP TABLE a"):
        with pytest.raises(InvalidTrainingData):
            await training.add_question_sql("q", sql)
    with pytest.raises(InvalidTrainingData):
        await training.add_question_sql("", SQL)
    assert await rows(services) == []


async def test_items_join_the_callers_transaction(training, services, fake_llm):
    items = [
        TrainingItem("sql", SQL, "服务区有多少个？"),
        TrainingItem("error_sql", "SELEC 1", "服务区数量"),
    ]
    prepared = await training.prepare(items)  # embeddings outside the transaction
    calls = len(fake_llm.embedding_requests)
    async with services.db.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        stored = await training.store_prepared(prepared, conn=conn)
        assert [s.created for s in stored] == [True, True]
        await transaction.rollback()
    assert len(fake_llm.embedding_requests) == calls
    assert await rows(services) == []

    async with services.db.acquire() as conn, conn.transaction():
        sql_id = await training.add_question_sql("服务区有多少个？", SQL, conn=conn)
    assert [r["id"] for r in await rows(services)] == [sql_id]


async def test_batches_are_embedded_in_chunks(training, services, fake_llm, settings):
    items = [TrainingItem("ddl", f"CREATE TABLE t{i} (id int)") for i in range(12)]
    items.append(items[0])  # a repeat inside the batch is stored once
    results = await training.train_batch(items)
    assert [r.stored.created for r in results] == [True] * 12 + [False]
    assert results[12].stored.id == results[0].stored.id
    sizes = [len(r["input"]) for r in fake_llm.embedding_requests]
    assert sizes == [settings.embedding_batch_size, 12 - settings.embedding_batch_size]
    assert len(await rows(services)) == 12


async def test_batch_reports_embedding_failure_per_item(training, services, fake_llm):
    fake_llm.fail(503, endpoint="embeddings")
    results = await training.train_batch(
        [TrainingItem("ddl", "CREATE TABLE a (id int)"), "SQL字段是必需的"]
    )
    assert results[0].stored is None and "Embedding服务" in results[0].error
    assert results[1].error == "SQL字段是必需的"
    assert await rows(services) == []


async def test_wrong_dimension_from_the_model_is_an_error(training, services, settings):
    training.embedder.dimension = 8  # the model answers 1024: refuse rather than store
    results = await training.train_batch([TrainingItem("ddl", "CREATE TABLE a (id int)")])
    assert "Embedding维度不一致" in results[0].error
    assert await rows(services) == []
