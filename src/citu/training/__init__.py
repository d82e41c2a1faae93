"""Training data: the pgvector store, embeddings (with their Redis cache) and retrieval."""
