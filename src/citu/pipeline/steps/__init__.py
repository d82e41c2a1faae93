"""The pipeline's steps, in run order: the one table every other list of steps is derived from.

The task rows, the API's ``step_name`` choices, the CLI's ``--step`` check, the artifact names in
``task_result.json`` and the task log's step tags all read ``REGISTRY``. Adding a step is one
entry here (plus its module); ``tests/pipeline/test_step_registry.py`` fails if a list is missed.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from citu.pipeline.context import StepContext

StepFunction = Callable[["StepContext"], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class PipelineStep:
    name: str
    """The step's name in the API, the task tables, the CLI and the task log."""
    module: str
    """The module beside this one whose ``run(ctx)`` does the step's work."""
    artifact_name: str
    """The key of the step's artifact in ``task_result.json`` (the old orchestrator's name)."""
    switched_off_by: str | None = None
    """A task parameter that leaves the step out of a complete run when it is ``false``."""
    legacy_loggers: tuple[str, ...] = ()
    """Logger names the old pipeline wrote for this step, so its logs still get a step tag."""

    @property
    def run(self) -> StepFunction:
        # Imported on first use: the step names alone (CLI help, the API schema) stay cheap.
        return importlib.import_module(f"{__name__}.{self.module}").run


REGISTRY: tuple[PipelineStep, ...] = (
    PipelineStep(
        name="ddl_generation",
        module="ddl",
        artifact_name="ddl_md_generation",
        legacy_loggers=("DDLGenerator",),
    ),
    PipelineStep(
        name="qa_generation",
        module="qa",
        artifact_name="question_sql_generation",
        legacy_loggers=("QAGenerator", "QSGenerator"),
    ),
    PipelineStep(
        name="sql_validation",
        module="validation",
        artifact_name="sql_validation",
        switched_off_by="enable_sql_validation",
        legacy_loggers=("SQLValidator",),
    ),
    PipelineStep(
        name="training_load",
        module="training",
        artifact_name="training_data_load",
        switched_off_by="enable_training_data_load",
        legacy_loggers=("TrainingDataLoader", "VannaTrainer"),
    ),
)

STEP_NAMES: tuple[str, ...] = tuple(step.name for step in REGISTRY)
TRAINING_STEP = "training_load"  # the only step that honours the vector-table flags
STEPS_BY_NAME: dict[str, PipelineStep] = {step.name: step for step in REGISTRY}


def enabled_steps(parameters: dict[str, Any]) -> list[str]:
    """The steps a complete run executes, given the task's parameters."""
    return [
        step.name
        for step in REGISTRY
        if step.switched_off_by is None or parameters.get(step.switched_off_by, True) is not False
    ]
