"""``citu fake-llm``: the tests' fake OpenAI-compatible server, from a source checkout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def fake_llm(args: argparse.Namespace) -> int:
    """The tests' fake OpenAI server; it lives in the repository's tests/fakes."""
    tests_dir = Path(__file__).resolve().parents[3] / "tests"
    if not (tests_dir / "fakes" / "openai_fake.py").is_file():
        print("citu fake-llm runs from a source checkout (tests/fakes is missing)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(tests_dir))
    from fakes.openai_fake import main as fake_main

    argv = ["--host", args.host, "--port", str(args.port), "--latency", str(args.latency)]
    if args.demo:
        argv.append("--demo")
    if args.demo_overrides:
        argv += ["--demo-overrides", args.demo_overrides]
    fake_main(argv)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's sub-commands to ``citu``'s parser."""
    fake_cmd = commands.add_parser(
        "fake-llm",
        help="run the fake OpenAI-compatible server (a scripted stand-in, source checkout only)",
    )
    fake_cmd.add_argument("--demo", action="store_true", help="answer the curated demo questions")
    fake_cmd.add_argument("--demo-overrides", metavar="FILE", help="JSON question -> SQL map")
    fake_cmd.add_argument("--host", default="127.0.0.1")
    fake_cmd.add_argument("--port", type=int, default=8765)
    fake_cmd.add_argument("--latency", type=float, default=0.0, help="seconds added per reply")
    fake_cmd.set_defaults(func=fake_llm)
