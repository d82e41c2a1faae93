"""Logging: console plus daily-rotated files in the log directory, with request ids.

Child loggers (``citu.agents.ask`` → agent.log, ``citu.agents.react`` → react_agent.log,
``citu.pipeline`` → data_pipeline.log) also reach app.log through ``citu``.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from citu.redaction import redact, redactor
from citu.settings import Settings

__all__ = ["RedactFilter", "RequestIdFilter", "configure_logging", "install_redaction", "redact"]

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Loggers of libraries that may log a URL with credentials, a request's headers, SQL or an
# upstream error body; their records are redacted even when a handler is not ours.
THIRD_PARTY_LOGGERS = (
    "httpx",
    "httpcore",
    "openai",
    "langchain",
    "langchain_core",
    "langchain_openai",
    "langgraph",
    "asyncpg",
    "psycopg",
    "psycopg.pool",
    "redis",
    "sqlglot",
    "asyncio",
    "hypercorn.error",
    "hypercorn.access",
    "quart.app",
    "quart.serving",
)


def _dsn_password(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


_traceback_formatter = logging.Formatter()


# Logging runs on the event loop: a record's text is cut before the redaction regexes see it
# (a multi-megabyte model reply took seconds to redact). The redaction sees a margin past the
# cut, so a secret that straddles it is masked whole before the cut, not half-shown.
LOG_MAX_CHARS = 8 * 1024
LOG_MAX_TRACE_CHARS = 32 * 1024
_REDACT_MARGIN = 1024


def redact_bounded(text: str, limit: int = LOG_MAX_CHARS) -> str:
    """``redact(text)``, cut to ``limit`` characters with a note of the original length."""
    if len(text) <= limit:
        return redact(text)
    head = redact(text[: limit + _REDACT_MARGIN])[:limit]
    return f"{head}…[truncated, {len(text)} chars]"


class RedactFilter(logging.Filter):
    """Rewrites the record so no secret reaches any handler: the message with its arguments, the
    traceback (an exception's text often quotes a URL or an upstream error body) and the stack.

    The redacted traceback is stored as ``exc_text``, which every ``logging.Formatter`` prints
    instead of formatting ``exc_info`` again.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_citu_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact_bounded(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact_bounded(
                record.exc_text or _traceback_formatter.formatException(record.exc_info),
                LOG_MAX_TRACE_CHARS,
            )
        elif record.exc_text:
            record.exc_text = redact_bounded(record.exc_text, LOG_MAX_TRACE_CHARS)
        if record.stack_info:
            record.stack_info = redact_bounded(record.stack_info, LOG_MAX_TRACE_CHARS)
        record._citu_redacted = True
        return True


def install_redaction(*logger_names: str) -> None:
    """Put the redaction filter on every handler known now and on the named loggers (a
    logger's own filter also covers handlers a library installs later, as hypercorn does)."""
    names = set(logger_names) | set(logging.root.manager.loggerDict)
    loggers = [logging.getLogger(name) for name in names] + [logging.getLogger()]
    for logger in loggers:
        if isinstance(logger, logging.PlaceHolder):
            continue
        if logger.name in logger_names and not _has_redaction(logger.filters):
            logger.addFilter(RedactFilter())
        for handler in logger.handlers:
            if not _has_redaction(handler.filters):
                handler.addFilter(RedactFilter())


def _has_redaction(filters: list) -> bool:
    return any(isinstance(f, RedactFilter) for f in filters)


def configure_logging(settings: Settings) -> None:
    redactor.add_secrets(
        (
            settings.llm_api_key,
            settings.embedding_api_key,
            settings.admin_api_key,
            settings.smtp_password,
        )
    )
    # A short database password ("postgres") would mask ordinary words; the DSN patterns
    # still mask it inside URLs.
    redactor.add_secrets(
        (_dsn_password(settings.database_url), _dsn_password(settings.business_db_url)),
        min_length=8,
    )
    log_dir = Path(settings.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    if settings.log_config:
        text = Path(settings.log_config).read_text(encoding="utf-8")
    else:
        text = (files("citu.logging") / "default.yaml").read_text(encoding="utf-8")
    text = text.replace("{log_dir}", log_dir.as_posix()).replace("{level}", settings.log_level)
    logging.config.dictConfig(yaml.safe_load(text))
    install_redaction(*THIRD_PARTY_LOGGERS)
