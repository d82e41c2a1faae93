"""Prompt texts of the question-answering agent (``ask_prompts.yaml``)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def _all() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("ask_prompts.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def prompt(section: str) -> dict[str, str]:
    """One section of the prompt file, e.g. ``prompt("summary")["system"]``."""
    return _all()[section]
