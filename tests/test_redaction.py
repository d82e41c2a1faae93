"""Secrets never reach a log file: messages, arguments, tracebacks, stacks, third-party loggers."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from citu.logging.setup import configure_logging
from citu.redaction import mask_dsn, redact
from citu.settings import Settings, redact_url

LLM_KEY = "canary-llm-key-4f9d2a"
EMBEDDING_KEY = "canary-emb-key-8c1e7b"
ADMIN_KEY = "canary-admin-key-3b6a0c"
DB_PASSWORD = "canary-db-pass-5e2f91"


@pytest.fixture
def log_dir(tmp_path: Path):
    settings = Settings(
        _env_file=None,
        llm_api_key=LLM_KEY,
        embedding_api_key=EMBEDDING_KEY,
        admin_api_key=ADMIN_KEY,
        business_db_url=f"postgresql://reader:{DB_PASSWORD}@db.example:5432/biz",
        log_dir=tmp_path / "logs",
    )
    configure_logging(settings)
    return tmp_path / "logs"


def _read_all(directory: Path) -> str:
    for name in ("citu", "citu.agents.react", "citu.agents.ask", "citu.pipeline"):
        for handler in logging.getLogger(name).handlers:
            handler.flush()
    return "\n".join(p.read_text(encoding="utf-8") for p in directory.glob("*.log"))


def _raise_with(text: str) -> None:
    raise RuntimeError(text)


@pytest.mark.parametrize(
    "logger_name,file_name",
    [("citu.errors", "app.log"), ("citu.agents.react", "react_agent.log")],
)
def test_traceback_with_key_is_redacted(log_dir: Path, logger_name: str, file_name: str) -> None:
    try:
        _raise_with(f"Error code: 401 - Incorrect API key provided: {LLM_KEY}")
    except RuntimeError:
        logging.getLogger(logger_name).exception("turn failed")
    _read_all(log_dir)
    text = (log_dir / file_name).read_text(encoding="utf-8")
    assert "Incorrect API key provided: ***" in text
    assert "Traceback" in text
    assert LLM_KEY not in text


def test_chained_exception_and_arguments_are_redacted(log_dir: Path) -> None:
    log = logging.getLogger("citu.agents.ask.llm")
    try:
        try:
            _raise_with(f"connect to postgresql://reader:{DB_PASSWORD}@db.example/biz failed")
        except RuntimeError as inner:
            raise ValueError(f"embedding {EMBEDDING_KEY} refused") from inner
    except ValueError as exc:
        log.error("call failed: %s (admin %s)", exc, ADMIN_KEY, exc_info=True)
    log.warning("stack here", stack_info=True, extra={"note": LLM_KEY})
    text = _read_all(log_dir)
    for secret in (LLM_KEY, EMBEDDING_KEY, ADMIN_KEY, DB_PASSWORD):
        assert secret not in text
    assert "The above exception was the direct cause" in text


def test_handler_installed_later_on_hypercorn_logger_is_redacted(log_dir: Path) -> None:
    # hypercorn replaces the handlers of its loggers when it starts serving.
    logger = logging.getLogger("hypercorn.error")
    buffer = io.StringIO()
    saved = logger.handlers
    logger.handlers = [logging.StreamHandler(buffer)]
    try:
        try:
            _raise_with(f"Authorization: Bearer {LLM_KEY}")
        except RuntimeError:
            logger.exception("Error in ASGI Framework")
    finally:
        logger.handlers = saved
    assert "Error in ASGI Framework" in buffer.getvalue()
    assert LLM_KEY not in buffer.getvalue()


@pytest.mark.parametrize(
    "name",
    ["httpx", "openai._base_client", "asyncpg.pool", "psycopg.pool", "langchain_openai.chat"],
)
def test_third_party_loggers_are_redacted(log_dir: Path, name: str) -> None:
    # They propagate to the root logger's console handler.
    buffer = io.StringIO()
    console = next(h for h in logging.getLogger().handlers if h.name == "console")
    saved = console.setStream(buffer)
    try:
        logging.getLogger(name).warning("request failed: api_key=%s", "sk-abcdefghijklmnop1234")
        logging.getLogger(name).warning("dsn %s", f"host=db password={DB_PASSWORD} dbname=biz")
    finally:
        console.setStream(saved)
    assert "request failed: api_key=***" in buffer.getvalue()
    assert "sk-abcdefghijklmnop1234" not in buffer.getvalue()
    assert DB_PASSWORD not in buffer.getvalue()


@pytest.mark.parametrize(
    "text,secret",
    [
        ("postgresql://u:hunter2pass@h:5432/db", "hunter2pass"),
        ("postgresql://u@h/db?sslmode=require&password=hunter2pass", "hunter2pass"),
        ("postgresql://u@h/db?sslpassword=hunter2pass&sslkey=/keys/k.pem", "hunter2pass"),
        ("postgresql://u@h/db?sslkey=/keys/secret.pem", "/keys/secret.pem"),
        ("postgresql://u@h/db?passfile=/home/u/.pgpass_prod", "/home/u/.pgpass_prod"),
        ("host=h user=u password=hunter2pass dbname=db", "hunter2pass"),
        ("Authorization: Bearer abcdef123456", "abcdef123456"),
        ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
        ("headers={'authorization': 'Bearer abcdef123456'}", "abcdef123456"),
        ('{"api_key": "abcdef123456"}', "abcdef123456"),
        ("api_key=abcdef123456&x=1", "abcdef123456"),
        ("X-Api-Key: abcdef123456", "abcdef123456"),
        ("key sk-proj-abcdefghijklmnop", "sk-proj-abcdefghijklmnop"),
        ("CITU_SMTP_PASSWORD=hunter2pass", "hunter2pass"),
    ],
)
def test_redact_shapes(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_redact_keeps_ordinary_text() -> None:
    text = (
        "SELECT count(*) FROM bss_business_day_data; max_tokens=512 error_type=llm_unavailable; "
        "basic information about the bearer of the card"
    )
    assert redact(text) == text


@pytest.mark.parametrize(
    "url,expected",
    [
        ("postgresql://u:p%40ss@h:5432/db", "postgresql://u:***@h:5432/db"),
        (
            "postgresql://u@h:5432/db?sslmode=require&password=s3cret",
            "postgresql://u@h:5432/db?sslmode=require&password=***",
        ),
        (
            "postgresql://u:x@h/db?sslpassword=a&sslkey=/k.pem&sslcert=/c.pem&passfile=/p",
            "postgresql://u:***@h/db?sslpassword=***&sslkey=***&sslcert=***&passfile=***",
        ),
        ("postgresql://h/db?application_name=citu", "postgresql://h/db?application_name=citu"),
        (None, None),
    ],
)
def test_mask_dsn_keeps_shape(url: str | None, expected: str | None) -> None:
    assert mask_dsn(url) == expected
    assert redact_url(url) == expected


async def test_hypercorn_own_logger_output_is_redacted(log_dir: Path, capsys) -> None:
    # What `citu serve` runs: hypercorn builds its loggers (errorlog/accesslog "-") after the
    # app configured logging, replacing their handlers with its own stream handlers.
    from hypercorn.config import Config
    from hypercorn.logging import Logger

    config = Config()
    config.errorlog = "-"
    config.accesslog = "-"
    logger = Logger(config)
    try:
        _raise_with(f"upstream said: Incorrect API key provided: {LLM_KEY}")
    except RuntimeError:
        await logger.exception("Error in ASGI Framework")
    await logger.info("request for /x?password=%s", DB_PASSWORD)
    out = capsys.readouterr()
    assert "Error in ASGI Framework" in out.err
    assert "Traceback" in out.err
    assert LLM_KEY not in out.err + out.out
    assert DB_PASSWORD not in out.err + out.out


def test_long_log_text_is_cut_before_redaction_and_secrets_at_the_cut_stay_masked() -> None:
    import time

    from citu.logging.setup import LOG_MAX_CHARS, redact_bounded

    secret_url = "postgresql://admin:hunter2secret@db.example:5432/x"
    text = "x" * (LOG_MAX_CHARS - 20) + secret_url + " tail " * 1_000_000
    started = time.perf_counter()
    out = redact_bounded(text)
    assert time.perf_counter() - started < 0.2
    assert len(out) < LOG_MAX_CHARS + 100
    assert "hunter2" not in out and "hunter" not in out
    assert out.endswith(f"[truncated, {len(text)} chars]")
    assert redact_bounded("short") == "short"
