"""The step registry is the only list of steps: every other list must be derived from it.

Each test fails when a step is added (or renamed) in one place only.
"""

from __future__ import annotations

import inspect
import pkgutil
import typing

import citu.pipeline.steps as steps_package
from citu.apidoc.pipeline import StepStatus
from citu.cli import build_parser
from citu.pipeline.schemas import ExecuteTaskIn
from citu.pipeline.steps import (
    REGISTRY,
    STEP_NAMES,
    STEPS_BY_NAME,
    TRAINING_STEP,
    enabled_steps,
)
from citu.pipeline.tasklog import parse_detailed


def test_every_entry_is_complete_and_unique():
    assert len(REGISTRY) >= 4
    assert len(set(STEP_NAMES)) == len(REGISTRY) == len(STEPS_BY_NAME)
    assert len({step.artifact_name for step in REGISTRY}) == len(REGISTRY)
    for step in REGISTRY:
        assert inspect.iscoroutinefunction(step.run), step.name
        assert step.artifact_name, step.name
    assert TRAINING_STEP in STEP_NAMES


def test_every_step_module_has_an_entry():
    runners = {step.run for step in REGISTRY}
    for module_info in pkgutil.iter_modules(steps_package.__path__):
        module = __import__(f"citu.pipeline.steps.{module_info.name}", fromlist=["run"])
        if hasattr(module, "run"):
            assert module.run in runners, f"steps/{module_info.name}.py has no registry entry"


def test_the_api_step_choices_are_the_registry():
    annotation = ExecuteTaskIn.model_fields["step_name"].annotation
    literal = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    assert typing.get_args(literal) == STEP_NAMES
    assert tuple(StepStatus.model_fields) == STEP_NAMES


def test_a_complete_run_is_every_step_unless_switched_off():
    assert enabled_steps({}) == list(STEP_NAMES)
    for step in REGISTRY:
        if step.switched_off_by:
            remaining = enabled_steps({step.switched_off_by: False})
            assert step.name not in remaining and len(remaining) == len(STEP_NAMES) - 1


def test_the_task_log_tags_every_step():
    lines = [
        f"2026-01-01 10:00:00 [INFO] citu.pipeline.engine: [{name}] work" for name in STEP_NAMES
    ]
    assert [entry["step"] for entry in parse_detailed("\n".join(lines))] == list(STEP_NAMES)
    for step in REGISTRY:
        for logger in step.legacy_loggers:
            line = f"2026-01-01 10:00:00 [INFO] {logger}: old work"
            assert parse_detailed(line)[0]["step"] == step.name


def test_the_cli_names_every_step():
    pipeline_run = build_parser().parse_args(["pipeline", "run", "--tables", "t"])
    assert pipeline_run.step is None
    help_text = _subcommand_help(["pipeline", "run"])
    for name in STEP_NAMES:
        assert name in help_text


def _subcommand_help(path: list[str]) -> str:
    parser = build_parser()
    for name in path:
        action = next(a for a in parser._actions if a.dest in ("command", "pipeline_command"))
        parser = action.choices[name]
    return parser.format_help()
