"""Cost of the log redaction filter per record: an ordinary line, a line with secret-shaped
text (two DSNs, one with ``?password=``), and a record carrying a traceback.

Every record of every handler passes through ``RedactFilter``, so its cost is paid on each log
line. Usage (from the repository root)::

    PYTHONPATH=src python bench/redaction.py
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

from citu.logging.setup import RedactFilter
from citu.redaction import redactor


def _record(msg: str, args: tuple = (), exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("citu.bench", logging.INFO, __file__, 1, msg, args, exc_info)


def _per_record_us(make: Callable[[], logging.LogRecord], count: int) -> float:
    redaction = RedactFilter()
    records = [make() for _ in range(count)]
    started = time.perf_counter()
    for record in records:
        redaction.filter(record)
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    redactor.add_secrets(["bench-llm-key-0123456789", "bench-embedding-key-9876543210"])
    try:
        raise RuntimeError("Error code: 401 - Incorrect API key provided: bench-llm-key-0123456789")
    except RuntimeError:
        exc_info = sys.exc_info()
    cases = {
        "ordinary line": (lambda: _record("QA cache hit for %s", ("guest:20261207",)), 20000),
        "line with two DSNs": (
            lambda: _record(
                "services started: database=%s business=%s",
                ("postgresql://u:pw@h/db", "postgresql://u@h/b?password=x"),
            ),
            20000,
        ),
        "record with a traceback": (lambda: _record("turn failed", (), exc_info), 2000),
    }
    for name, (make, count) in cases.items():
        print(f"{name:26s} {_per_record_us(make, count):8.1f} µs per record")


if __name__ == "__main__":
    main()
