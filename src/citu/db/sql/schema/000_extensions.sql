-- pgvector backs the vector store; it must exist before any table that uses it.
CREATE EXTENSION IF NOT EXISTS vector;
