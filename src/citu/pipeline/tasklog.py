"""A task's own ``data_pipeline.log``: written while its run is active, parsed for the
``…/logs`` and ``…/logs/query`` routes.

Lines are written as ``YYYY-MM-DD HH:MM:SS [LEVEL] <logger>: [<step>] message``; the old
pipeline's ``<date> <time> [LEVEL] [<logger>] <file>.py:<line> - message`` lines are read too.
A handler is attached to ``citu.pipeline`` for the run only and accepts records of its own
task (a context variable), so concurrent runs in one process never mix their logs.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from citu.logging.setup import RedactFilter
from citu.pipeline.steps import REGISTRY, STEP_NAMES

current_task: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pipeline_task", default=None
)
current_step: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pipeline_step", default=None
)

LOG_FORMAT_1 = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) \[(\w+)\] (.+?): (.*)$")
LOG_FORMAT_2 = re.compile(
    r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) \[(\w+)\] (\[[^\]]+\] [^ ]+\.py:\d+) - (.*)$"
)
_STEP_PREFIX = re.compile(rf"^\[({'|'.join(STEP_NAMES)})\] ")
# Logger names of the old pipeline, for logs written before citu.
_LEGACY_STEPS = {logger: step.name for step in REGISTRY for logger in step.legacy_loggers}
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class _TaskFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        step = getattr(record, "pipeline_step", None)
        if step:
            head, sep, message = text.partition(": ")
            text = f"{head}{sep}[{step}] {message}"
        return text


class _TaskFilter(logging.Filter):
    def __init__(self, task_id: str) -> None:
        super().__init__()
        self.task_id = task_id

    def filter(self, record: logging.LogRecord) -> bool:
        if current_task.get() != self.task_id:
            return False
        record.pipeline_step = current_step.get()
        return True


@contextlib.contextmanager
def task_logging(task_id: str, log_file: Path) -> Iterator[None]:
    """Route ``citu.pipeline`` records of this task (this context) into its log file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(
        _TaskFormatter("%(asctime)s [%(levelname)s] %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    handler.addFilter(_TaskFilter(task_id))
    handler.addFilter(RedactFilter())
    logger = logging.getLogger("citu.pipeline")
    token = current_task.set(task_id)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        current_task.reset(token)


@contextlib.contextmanager
def step_logging(step: str) -> Iterator[None]:
    token = current_step.set(step)
    try:
        yield
    finally:
        current_step.reset(token)


def parse_simple(lines: list[str], level: str | None) -> list[dict[str, Any]]:
    """``…/logs``: the tail lines as entries; unmatched lines continue the previous message."""
    entries: list[dict[str, Any]] = []
    for line in lines:
        line = line.rstrip("\n")
        match = LOG_FORMAT_1.match(line)
        if match:
            entries.append(
                {
                    "timestamp": match.group(1),
                    "level": match.group(2),
                    "logger": match.group(3),
                    "message": match.group(4),
                }
            )
        elif entries:
            entries[-1]["message"] += "\n" + line
    if level:
        entries = [e for e in entries if e["level"] == level.upper()]
    return entries


def parse_detailed(text: str) -> list[dict[str, Any]]:
    """``…/logs/query``: every entry with its step (from the ``[step]`` prefix) and 1-based line number."""
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        match = LOG_FORMAT_2.match(line) or LOG_FORMAT_1.match(line)
        if not match:
            if entries:
                entries[-1]["message"] += "\n" + line
            continue
        logger, message = match.group(3), match.group(4)
        step = None
        prefixed = _STEP_PREFIX.match(message)
        if prefixed:
            step = prefixed.group(1)
        else:
            bare = logger.strip("[").split("]")[0].rsplit(".", 1)[-1]
            step = _LEGACY_STEPS.get(bare)
        entries.append(
            {
                "timestamp": match.group(1),
                "level": match.group(2),
                "logger": logger,
                "step": step,
                "message": message,
                "line_number": number,
            }
        )
    return entries


def parse_time(text: str) -> datetime | None:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None
