"""The one settings object: environment variables prefixed ``CITU_`` plus an optional ``.env``.

Defaults follow the old service's ``app_config.py`` (see ../shared/spec); only connection
targets differ, because citu runs locally without configuration.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from citu.redaction import mask_dsn


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CITU_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- connections -------------------------------------------------------------------
    database_url: str | None = None  # citu's own PostgreSQL (pgvector); None → embedded
    business_db_url: str | None = None  # questions are answered from here; None → demo DB
    redis_url: str = "redis://127.0.0.1:6379/1"
    # Without CITU_REDIS_URL: "auto" starts the bundled redis-server when nothing answers on the
    # default address, "always" starts it regardless, "never" keeps the default address.
    embedded_redis: str = "auto"
    redis_timeout: float = 5.0
    redis_max_connections: int = 50  # per process; more concurrent commands wait for one
    db_pool_min: int = 1
    db_pool_max: int = 10
    business_pool_max: int = 10
    business_statement_timeout_ms: int = 30_000
    business_connect_timeout: float = 10.0
    business_reconnect_seconds: float = 5.0  # retry interval while unreachable at start
    demo_database_name: str = "citu_demo"
    # --- business database: least privilege and bounded work (citu.db.business) ----------
    # A superuser, a writer or a member of pg_*_server_* roles makes business SQL refused.
    allow_privileged_business_role: bool = False
    demo_reader_role: str = "citu_demo_reader"  # the embedded demo's SELECT-only login
    api_max_result_bytes: int = 8 * 1024 * 1024  # text size of the rows one query returns
    business_query_concurrency: int = 8  # per worker; keep below business_pool_max
    business_query_queue_timeout_seconds: float = 2.0  # then 503 with can_retry
    business_idle_in_transaction_timeout_ms: int = 60_000
    business_lock_timeout_ms: int = 5_000
    business_work_mem: str = "64MB"
    business_temp_file_limit: str = "256MB"  # per-session temporary files; "" leaves it alone

    # --- LLM and embeddings (OpenAI-compatible endpoints) ---------------------------------
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str = "qwen3-235b-a22b"
    llm_temperature: float = 0.6
    llm_timeout: float = 60.0
    llm_max_retries: int = 2
    llm_max_connections: int = 500  # concurrent HTTP connections to the LLM/embedding APIs
    embedding_base_url: str | None = None
    embedding_api_key: str | None = None
    embedding_model: str = "text-embedding-v4"
    embedding_dimension: int = 1024
    embedding_timeout: float = 30.0
    embedding_batch_size: int = 10

    # --- paths ----------------------------------------------------------------------------
    log_dir: Path = Path("logs")
    data_dir: Path = Path("data")
    log_config: Path | None = None  # a dictConfig YAML replacing the packaged default
    log_level: str = "INFO"

    # --- HTTP -----------------------------------------------------------------------------
    max_content_length: int = 16 * 1024 * 1024
    admin_api_key: str | None = None  # when set, administrative routes require it
    max_json_depth: int = 64  # nesting of arrays/objects in a JSON body (citu.inputs)
    max_question_chars: int = 2000  # a longer question is refused before it is stored
    protect_run_sql: bool = False  # citu_run_sql requires the admin key when true

    # --- SQL guard (client and LLM SQL run on the business database) -----------------------
    sql_max_bytes: int = 64 * 1024  # longer SQL is refused before parsing
    sql_max_depth: int = 32  # parenthesis / comment nesting, checked before parsing
    sql_max_tokens: int = 10_000  # bounds the CPU one check may take
    sql_max_function_size: int = 10_000  # result size repeat(), lpad(), array_fill() ... may ask
    sql_extra_functions: str = ""  # comma-separated function names added to the allow-list
    sql_allowed_system_relations: str = ""  # comma-separated, e.g. "information_schema.tables"

    # --- behaviour (app_config.py names, lower-cased) --------------------------------------
    question_routing_mode: str = "hybrid"
    enable_result_summary: bool = True
    api_max_return_rows: int = 1000
    display_result_thinking: bool = False
    enable_result_vector_score_threshold: bool = True
    result_vector_sql_score_threshold: float = 0.65
    result_vector_ddl_score_threshold: float = 0.5
    result_vector_doc_score_threshold: float = 0.5
    enable_error_sql_prompt: bool = True
    result_vector_error_sql_score_threshold: float = 0.8
    n_results: int = 6
    conversation_context_count: int = 2
    conversation_max_length: int = 10
    user_max_conversations: int = 5
    default_anonymous_user: str = "guest"
    enable_conversation_context: bool = True
    enable_question_answer_cache: bool = False
    enable_embedding_cache: bool = True
    conversation_ttl: int = 604_800
    user_conversations_ttl: int = 604_800
    question_answer_ttl: int = 86_400
    embedding_cache_ttl: int = 2_592_000
    embedding_cache_max_size: int = 5000
    training_upload_max_bytes: int = 500 * 1024
    training_batch_limit: int = 50
    checkpoint_keep_count: int = 10
    react_recursion_limit: int = 100
    react_trim_max_chars: int = 60_000  # characters of conversation sent to the ReAct LLM
    react_history_max_chars: int = 8_000  # earlier turns handed to generate_sql as context
    react_temperature: float = 0.1
    react_max_retries: int = 3  # LLM attempts per ReAct step (empty answers, network errors)
    react_retry_base_delay: float = 3.0  # seconds, doubled per attempt
    react_pool_max: int = 10  # psycopg connections of the checkpointer
    react_turn_lease_seconds: int = 900  # longest turn; a crashed worker's lock expires then too
    health_cache_seconds: float = 30.0
    # /health and agent_health ask the model and embedding endpoints at most this often
    endpoint_probe_cache_seconds: float = 60.0
    endpoint_probe_timeout: float = 5.0
    # ask_agent turns running their CPU-bound start at once; the rest queue in arrival order
    # until a running one begins its model call (citu.admission). 0 turns the gate off.
    ask_admission_limit: int = 8
    # ask_agent / direct ask (agent/config.py and Vanna defaults of the old service)
    allow_llm_to_see_data: bool = True  # intermediate SQL: the model may look at column values
    sql_repair_max_attempts: int = 2  # LLM repairs of SQL that EXPLAIN rejects
    sql_prompt_max_tokens: int = 14_000  # prompt budget, 4 characters per token
    summary_max_rows: int = 100  # rows shown to the LLM when summarising a result
    ask_auto_train: bool = False  # /api/v0/ask adds executed question/SQL pairs to training
    ask_cache_ttl: int = 3600  # /api/v0/ask_cached answers, per user and question
    ask_cache_max_entries: int = 1000
    ask_cache_max_bytes: int = 32 * 1024 * 1024  # answers kept by one worker, approximately
    # Answers with rows carry a declarative chart (citu.charts); false: no ``chart`` key at all.
    enable_charts: bool = True
    chart_max_points: int = 200  # data points one chart carries inline

    # live-schema fallback of the SQL prompt (citu.training.live_schema)
    schema_prompt_max_chars: int = 12_000  # catalog DDL in the prompt when retrieval has none
    schema_cache_seconds: float = 300.0  # how long a worker reuses its read of the catalog

    # --- operations: metrics, alerts, maintenance (citu/ops) -------------------------------
    metrics_window_size: int = 1000  # requests kept for GET /api/v0/metrics
    maintenance_cache_seconds: float = 2.0  # how long a worker trusts its copy of the switch
    alert_check_interval: float = 30.0  # seconds between evaluations (and memory samples)
    alert_min_requests: int = 50  # the error-rate rule needs this many requests in its window
    alert_error_rate_percent: float = 5.0
    alert_error_rate_window: float = 300.0
    alert_error_rate_cooldown: float = 900.0
    alert_response_time_seconds: float = 10.0
    alert_response_time_window: float = 180.0
    alert_response_time_cooldown: float = 600.0
    alert_memory_percent: float = 85.0
    alert_memory_window: float = 120.0
    alert_memory_cooldown: float = 1800.0
    alert_webhook_url: str | None = None  # POSTs each alert as JSON when set
    alert_email_enabled: bool = False
    alert_email_from: str = "citu@localhost"
    alert_email_to: str = ""  # comma-separated recipients
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_use_tls: bool = False  # implicit TLS (port 465); STARTTLS is used when offered
    alert_notify_timeout: float = 10.0

    # --- data pipeline (old data_pipeline/config.py SCHEMA_TOOLS_CONFIG) -------------------
    pipeline_business_context: str = "数据库管理系统"
    pipeline_max_tables: int = 20  # qs_generation.max_tables
    pipeline_theme_count: int = 5
    pipeline_questions_per_theme: int = 10
    pipeline_sample_rows: int = 20  # sample_data_limit
    pipeline_large_table_threshold: int = 1_000_000
    pipeline_enum_max_distinct: int = 20
    pipeline_max_concurrent_tables: int = 1
    pipeline_validation_concurrency: int = 5
    pipeline_validation_timeout_ms: int = 30_000
    pipeline_repair_batch_size: int = 2
    pipeline_repair_rounds: int = 1  # LLM repair passes over the still-failing SQL
    pipeline_llm_attempts: int = 3
    pipeline_llm_retry_delay: float = 1.0
    pipeline_table_list_max_bytes: int = 2 * 1024 * 1024  # file_upload.max_file_size_mb
    pipeline_upload_max_bytes: int = 10 * 1024 * 1024
    pipeline_table_list_max_names: int = 1000
    pipeline_allow_custom_db: bool = True  # accept a client-chosen db_connection
    pipeline_cancel_poll_seconds: float = 1.0
    pipeline_recovery_interval_seconds: float = 60.0  # sweep for runs of crashed workers
    pipeline_max_running_tasks: int = 3  # per process; each run holds one pooled connection

    @field_validator("question_routing_mode")
    @classmethod
    def _known_mode(cls, value: str) -> str:
        modes = {"database_direct", "chat_direct", "hybrid", "llm_only"}
        if value not in modes:
            raise ValueError(f"CITU_QUESTION_ROUTING_MODE must be one of {sorted(modes)}")
        return value

    @model_validator(mode="after")
    def _protected_run_sql_needs_a_key(self) -> Settings:
        # Without a key the admin check lets everyone through: refuse to start instead.
        if self.protect_run_sql and not self.admin_api_key:
            raise ValueError("CITU_PROTECT_RUN_SQL=true requires CITU_ADMIN_API_KEY")
        return self

    @field_validator("embedded_redis")
    @classmethod
    def _known_embedded_redis_mode(cls, value: str) -> str:
        if value not in ("auto", "always", "never"):
            raise ValueError("CITU_EMBEDDED_REDIS must be one of auto, always, never")
        return value

    @field_validator("business_query_concurrency", "api_max_result_bytes", "chart_max_points")
    @classmethod
    def _at_least_one(cls, value: int, info) -> int:
        if value < 1:
            raise ValueError(f"CITU_{info.field_name.upper()} must be at least 1")
        return value

    @field_validator("business_query_queue_timeout_seconds")
    @classmethod
    def _positive_wait(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("CITU_BUSINESS_QUERY_QUEUE_TIMEOUT_SECONDS must be greater than 0")
        return value

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url)

    @property
    def embedding_configured(self) -> bool:
        return bool(self.embedding_base_url)

    @property
    def alert_email_recipients(self) -> list[str]:
        return [a.strip() for a in self.alert_email_to.split(",") if a.strip()]


def redact_url(url: str | None) -> str | None:
    """A DSN with its password replaced (userinfo and ``?password=``-style query parameters),
    for logs and responses."""
    return mask_dsn(url)
