"""``citu`` command line: serve the API, stop its embedded servers, prepare databases, run the
data pipeline, measure answer accuracy.

Each sub-command lives in a module of this package with a ``register(commands)`` function that
adds its parser; ``COMMANDS`` lists them in the order ``citu --help`` shows them. Adding a
sub-command is a new module and one entry there. Modules import their heavy dependencies inside
the command, so ``citu --help`` stays fast.
"""

from __future__ import annotations

import argparse

from citu.cli import database, eval, fake_llm, pipeline, serve, training
from citu.cli.serve import hypercorn_command, prepare_metrics_dir, supervise

__all__ = ["build_parser", "hypercorn_command", "main", "prepare_metrics_dir", "supervise"]

DESCRIPTION = "citu: a text-to-SQL service. Configuration comes from CITU_* environment variables."
EPILOG = "Run 'citu COMMAND --help' for a command's options."
COMMANDS = (
    serve.register,  # serve, stop
    database.register,  # init-db, db reader-role
    pipeline.register,  # pipeline run
    training.register,  # train-schema
    eval.register,  # eval run, eval build
    fake_llm.register,  # fake-llm
)


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("citu")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citu", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"citu {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
