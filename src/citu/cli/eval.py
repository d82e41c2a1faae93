"""``citu eval run`` and ``citu eval build``: the evaluation harness's commands."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``eval`` with its ``run`` and ``build`` sub-commands to ``citu``'s parser."""
    from citu.eval.build_cli import add_build_parser
    from citu.eval.cli import add_eval_parser

    add_build_parser(add_eval_parser(commands))
