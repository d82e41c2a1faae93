"""``citu eval run`` is wired into the ``citu`` command with its options."""

from __future__ import annotations

from pathlib import Path

import pytest

from citu.cli import build_parser
from citu.eval.cli import eval_run


def test_eval_run_parses_every_option():
    args = build_parser().parse_args(
        ["eval", "run", "--set", "my.jsonl", "--target", "react", "--url", "http://h:1",
         "--concurrency", "6", "--out", "o", "--baseline", "b.json", "--max-drop", "2.5",
         "--max-latency-rise", "20", "--no-progress"]
    )  # fmt: skip
    assert args.func is eval_run
    assert (args.set, args.target, args.url, args.concurrency) == (
        "my.jsonl",
        "react",
        "http://h:1",
        6,
    )
    assert (args.out, args.baseline) == (Path("o"), Path("b.json"))
    assert (args.max_drop, args.max_latency_rise, args.no_progress) == (2.5, 20.0, True)


def test_eval_run_defaults():
    args = build_parser().parse_args(["eval", "run"])
    assert (args.set, args.target, args.url, args.concurrency) == ("demo", "ask_agent", None, 4)
    assert args.baseline is None and args.max_drop is None


@pytest.mark.parametrize(
    "argv",
    [["eval", "run", "--concurrency", "0"], ["eval", "run", "--target", "chat"], ["eval"]],
)
def test_bad_options_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
