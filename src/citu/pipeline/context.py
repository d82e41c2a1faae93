"""What every step receives: the task, its directory, connections, the LLM and the options."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from citu.pipeline.files import TaskPaths
from citu.pipeline.llm import PipelineLlm
from citu.settings import Settings
from citu.sql.guard import SqlGuard

log = logging.getLogger("citu.pipeline")


class StepError(Exception):
    """A step cannot go on; the message is stored as the step's error."""


@dataclass
class StepContext:
    task_id: str
    task_dir: Path
    paths: TaskPaths
    settings: Settings
    business_pool: asyncpg.Pool
    llm: PipelineLlm
    business_context: str
    db_name: str
    parameters: dict[str, Any]
    trainer: Any | None = None  # citu.training.service.TrainingService
    vector_pool: asyncpg.Pool | None = None  # citu's own database (vector tables)
    backup_vector_tables: bool = False
    truncate_vector_tables: bool = False
    skip_training: bool = False
    sql_guard: SqlGuard | None = None  # None: one built from ``settings``
    state: dict[str, Any] = field(default_factory=dict)  # handed from one step to the next

    def guard(self) -> SqlGuard:
        """The SQL guard that checks the pairs' SQL (the service's, or one from settings)."""
        if self.sql_guard is None:
            self.sql_guard = SqlGuard.from_settings(self.settings)
        return self.sql_guard

    def flag(self, name: str, default: bool = True) -> bool:
        value = self.parameters.get(name, default)
        return value if isinstance(value, bool) else default
