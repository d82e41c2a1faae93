"""Secret masking for log lines, tracebacks and DSNs shown to clients.

Two tools: ``Redactor.redact`` for free text (a log line, a formatted traceback), which masks the
configured secret values exactly plus the usual secret shapes; and ``mask_dsn`` for a connection
URL a client may read back, which keeps the URL's shape and masks only the secret parts.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

MASK = "***"

# libpq connection parameters (and common aliases) whose value is a secret or points at one.
SECRET_DSN_PARAMS = frozenset(
    {"password", "sslpassword", "sslkey", "sslcert", "passfile", "pass", "pwd"}
)

# Matched anywhere in a name (``db_password``, ``client_secret``, ``X-Api-Key``): a leading
# ``[\w-]*`` would make the search quadratic in the length of every word.
_SECRET_NAME = (
    r"(?:password|passwd|secret|api[_-]?key|apikey|access[_-]?token|refresh[_-]?token"
    r"|auth[_-]?token|private[_-]?key|sslkey|sslcert|passfile|pwd)"
)
# Each pattern runs only when its trigger (a lower-case substring) is in the lower-cased text:
# most log lines hold none, and a case-insensitive alternation costs ~0.1 ms per line.
# Order matters: the DSN userinfo first, then bearer tokens, then name=value forms.
_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    # scheme://user:PASSWORD@host
    (
        ("://",),
        re.compile(r"(\b[a-zA-Z][\w+.-]*://[^\s:/@'\"]*:)([^@\s'\"]+)(@)"),
        rf"\1{MASK}\3",
    ),
    # Authorization: Bearer TOKEN / Basic CREDENTIALS ("basic" alone is an ordinary word)
    (("bearer",), re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=:-]{4,}"), rf"\1\2{MASK}"),
    (("basic",), re.compile(r"\b(Basic)(\s+)[A-Za-z0-9+/]{8,}={0,2}"), rf"\1\2{MASK}"),
    # Authorization: TOKEN (no scheme)
    (
        ("authorization",),
        re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?!(?:bearer|basic)\s)([^\s\"',}]+)"),
        rf"\1{MASK}",
    ),
    # password=..., ?sslpassword=..., "api_key": "...", 'secret': '...', X-Api-Key: ...
    (
        ("pass", "pwd", "secret", "key", "token", "sslcert"),
        re.compile(rf"(?i)({_SECRET_NAME}[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,;}}\]]+)"),
        rf"\1{MASK}",
    ),
    # OpenAI-style keys
    (("sk-",), re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"), f"sk-{MASK}"),
)


class Redactor:
    """Masks known secret values (exact match) and secret-shaped text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()

    def add_secrets(self, values: Iterable[str | None], *, min_length: int = 6) -> None:
        """Remember values to mask wherever they appear; too-short ones would mask ordinary
        words, so they are left to the shape patterns."""
        with self._lock:
            known = set(self._values)
            known.update(v for v in values if v and len(v) >= min_length)
            # Longest first, so a secret containing another is masked whole.
            self._values = tuple(sorted(known, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        lowered = text.lower()
        for triggers, pattern, replacement in _PATTERNS:
            if any(trigger in lowered for trigger in triggers):
                text = pattern.sub(replacement, text)
        return text


redactor = Redactor()


def redact(text: str) -> str:
    """``text`` with every configured secret and secret-shaped value masked."""
    return redactor.redact(text)


def mask_dsn(url: str | None) -> str | None:
    """A connection URL with its password masked, in the userinfo and in the query string
    (``?password=``, ``sslpassword``, ``sslkey``, ``sslcert``, ``passfile``); the shape stays
    (``postgresql://user:***@host:5432/db?sslmode=require&password=***``)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL we can take apart: mask by shape
        return redact(url)
    netloc = parts.netloc
    if password:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name.lower() in SECRET_DSN_PARAMS for name, _ in pairs):
            masked = [
                (name, MASK if name.lower() in SECRET_DSN_PARAMS else value)
                for name, value in pairs
            ]
            query = urlencode(masked, safe="*", quote_via=quote)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def mask_task_config(raw: bytes) -> bytes:
    """A ``task_config.json`` with its connection URL masked; files written before query-string
    passwords were masked may hold one. Anything unreadable is masked as text."""
    try:
        config = json.loads(raw)
        parameters = config.get("parameters") if isinstance(config, dict) else None
    except ValueError:
        return redact(raw.decode("utf-8", errors="replace")).encode()
    if isinstance(parameters, dict) and isinstance(parameters.get("db_connection"), str):
        parameters["db_connection"] = mask_dsn(parameters["db_connection"])
        return json.dumps(config, ensure_ascii=False, indent=2).encode()
    return raw
