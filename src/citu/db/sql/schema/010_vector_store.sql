-- Training data: the langchain-postgres (0.0.14) vector layout, so an existing deployment's
-- tables are used as they are and rows written by citu stay readable by langchain-postgres.
--
-- `embedding` keeps langchain-postgres' declaration without a fixed dimension: fixing it here
-- would need an ALTER of an existing deployment's table and would tie this file to one model.
-- The dimension comes from CITU_EMBEDDING_DIMENSION instead: at start the vector store checks the
-- stored rows against it and creates the HNSW (cosine) index over the expression
-- `(embedding::vector(<dim>))` (citu.training.vector_store.VectorStore.setup). An index on a
-- dimension-less column is impossible, an expression index is not: it also makes PostgreSQL refuse
-- a vector of another size on insert, and langchain-postgres' own queries still work (they just
-- don't use it).

CREATE TABLE IF NOT EXISTS langchain_pg_collection (
    uuid      UUID PRIMARY KEY,
    name      VARCHAR NOT NULL UNIQUE,
    cmetadata JSON
);

CREATE TABLE IF NOT EXISTS langchain_pg_embedding (
    id            VARCHAR PRIMARY KEY,
    collection_id UUID REFERENCES langchain_pg_collection (uuid) ON DELETE CASCADE,
    embedding     VECTOR,
    document      VARCHAR,
    cmetadata     JSONB
);

CREATE INDEX IF NOT EXISTS ix_cmetadata_gin
    ON langchain_pg_embedding USING gin (cmetadata jsonb_path_ops);

-- Finds an existing row with the same document (rows written before citu did not key their ids
-- on content) without reading every document of the collection; its leading column also serves
-- similarity searches in small collections, where an exact sort beats the HNSW graph.
CREATE INDEX IF NOT EXISTS ix_langchain_pg_embedding_document_md5
    ON langchain_pg_embedding (collection_id, md5(document));

INSERT INTO langchain_pg_collection (uuid, name, cmetadata)
VALUES (gen_random_uuid(), 'sql', NULL),
       (gen_random_uuid(), 'ddl', NULL),
       (gen_random_uuid(), 'documentation', NULL),
       (gen_random_uuid(), 'error_sql', NULL)
ON CONFLICT (name) DO NOTHING;

-- Listing training data parses the JSON documents of sql/error_sql rows; a malformed one must be
-- skipped (as the old service did), not fail the whole listing. PostgreSQL 16+ can test JSON
-- validity without an exception block (an inlined SQL function, ~10x faster on large stores);
-- older servers get the plpgsql fallback.
DO $do$
BEGIN
    IF current_setting('server_version_num')::int >= 160000 THEN
        EXECUTE $f$
            CREATE OR REPLACE FUNCTION citu_try_jsonb(value TEXT) RETURNS JSONB
            LANGUAGE sql IMMUTABLE PARALLEL SAFE
            AS 'SELECT CASE WHEN value IS JSON THEN value::jsonb END'
        $f$;
    ELSE
        EXECUTE $f$
            CREATE OR REPLACE FUNCTION citu_try_jsonb(value TEXT) RETURNS JSONB
            LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $body$
            BEGIN
                RETURN value::jsonb;
            EXCEPTION WHEN others THEN
                RETURN NULL;
            END
            $body$
        $f$;
    END IF;
END
$do$;
