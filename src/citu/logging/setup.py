"""Logging: console plus daily-rotated files in the log directory, with request ids.

Child loggers (``citu.agents.ask`` → agent.log, ``citu.agents.react`` → react_agent.log,
``citu.pipeline`` → data_pipeline.log) also reach app.log through ``citu``.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import re
from importlib.resources import files
from pathlib import Path

import yaml

from citu.settings import Settings

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Passwords in DSNs and bearer-style keys; known secret values are added at setup.
_PATTERNS = [
    (re.compile(r"(\w+://[^:/@\s]*:)([^@\s]+)(@)"), r"\1***\3"),
    (
        re.compile(
            r"(?i)(api[_-]?key|password|secret|authorization)(\"?\s*[:=]\s*\"?)([^\s\"',}]+)"
        ),
        r"\1\2***",
    ),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"), "sk-***"),
]
_secrets: set[str] = set()


def redact(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, "***")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class RedactFilter(logging.Filter):
    """Rewrites the message so no secret reaches any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(settings: Settings) -> None:
    _secrets.update(
        s
        for s in (
            settings.llm_api_key,
            settings.embedding_api_key,
            settings.admin_api_key,
            settings.smtp_password,
        )
        if s and len(s) >= 4
    )
    log_dir = Path(settings.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    if settings.log_config:
        text = Path(settings.log_config).read_text(encoding="utf-8")
    else:
        text = (files("citu.logging") / "default.yaml").read_text(encoding="utf-8")
    text = text.replace("{log_dir}", log_dir.as_posix()).replace("{level}", settings.log_level)
    logging.config.dictConfig(yaml.safe_load(text))
