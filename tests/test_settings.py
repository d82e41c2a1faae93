from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from citu.settings import Settings, redact_url


def test_defaults_follow_the_old_service(monkeypatch):
    for name in ("CITU_REDIS_URL", "CITU_EMBEDDING_DIMENSION", "CITU_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    s = Settings(_env_file=None)
    assert s.redis_url == "redis://127.0.0.1:6379/1"
    assert s.embedding_dimension == 1024
    assert s.log_dir == Path("logs") and s.data_dir == Path("data")
    assert (s.api_max_return_rows, s.conversation_max_length, s.user_max_conversations) == (
        1000,
        10,
        5,
    )
    assert s.result_vector_sql_score_threshold == 0.65 and s.question_routing_mode == "hybrid"
    assert s.database_url is None and not s.llm_configured


def test_environment_and_dotenv(monkeypatch, tmp_path):
    monkeypatch.setenv("CITU_EMBEDDING_DIMENSION", "768")
    monkeypatch.setenv("CITU_ENABLE_QUESTION_ANSWER_CACHE", "true")
    env_file = tmp_path / ".env"
    env_file.write_text("CITU_LLM_BASE_URL=http://llm.local/v1\nCITU_LLM_MODEL=deepseek\n")
    s = Settings(_env_file=env_file)
    assert s.embedding_dimension == 768 and s.enable_question_answer_cache is True
    assert (
        s.llm_base_url == "http://llm.local/v1" and s.llm_model == "deepseek" and s.llm_configured
    )


def test_invalid_values_name_the_variable(monkeypatch):
    monkeypatch.setenv("CITU_EMBEDDING_DIMENSION", "many")
    with pytest.raises(ValidationError, match="embedding_dimension"):
        Settings(_env_file=None)
    monkeypatch.delenv("CITU_EMBEDDING_DIMENSION")
    with pytest.raises(ValidationError, match="CITU_QUESTION_ROUTING_MODE"):
        Settings(_env_file=None, question_routing_mode="everything")


def test_redact_url():
    assert redact_url("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_url("redis://127.0.0.1:6379/1") == "redis://127.0.0.1:6379/1"
    assert redact_url(None) is None
