"""``citu eval run``: ask a golden set, write the JSON and HTML reports, gate on a baseline.

Exit codes: 0 done (and within the gate), 1 the gate failed, 2 bad arguments or input files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from citu.eval.clients import TARGETS, HttpClient, InProcessClient
from citu.eval.golden import DEMO_SET, GoldenSetError, load_set
from citu.eval.report import REPORT_FORMAT, compare, console_summary, gate, render_html
from citu.eval.runner import run_eval
from citu.settings import Settings

ADMIN_KEY_VARIABLE = "CITU_ADMIN_API_KEY"  # sent to --url when its run-SQL route is protected
BAR_WIDTH = 30
STARTUP_SECONDS = 600.0


def add_eval_parser(subparsers: Any) -> Any:
    """The ``eval`` command and its ``run`` sub-command; returns ``eval``'s sub-commands."""
    eval_cmd = subparsers.add_parser("eval", help="measure answer accuracy on a golden set")
    commands = eval_cmd.add_subparsers(dest="eval_command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="ask every question of a golden set and score the answers",
        description="Asks every question of a golden set on a target route (in this process"
        " with the current settings, or on a running server with --url), runs the predicted and"
        " the gold SQL read-only through the same guard and runner, and writes report.json and"
        " report.html to --out. With --baseline the run fails (exit 1) when accuracy drops more"
        " than --max-drop points or p95 latency rises more than --max-latency-rise percent.",
    )
    run.add_argument("--set", default=DEMO_SET, help="golden set file, or 'demo' (default)")
    run.add_argument("--target", choices=list(TARGETS), default="ask_agent")
    run.add_argument("--url", help=f"a running citu server (admin key from ${ADMIN_KEY_VARIABLE})")
    run.add_argument("--concurrency", type=_positive_int, default=4)
    run.add_argument("--out", type=Path, default=Path("eval-report"), help="report directory")
    run.add_argument("--baseline", type=Path, metavar="REPORT", help="an earlier report.json")
    run.add_argument("--max-drop", type=float, metavar="POINTS", help="allowed accuracy drop")
    run.add_argument(
        "--max-latency-rise", type=float, metavar="PCT", help="allowed p95 latency rise, %%"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    run.set_defaults(func=eval_run)
    return commands


def eval_run(args: argparse.Namespace) -> int:
    if args.url:
        return asyncio.run(run_command(args))
    from citu.local_servers import servers_for_command

    settings = Settings()
    with servers_for_command(settings):
        return asyncio.run(run_command(args, settings))


async def run_command(
    args: argparse.Namespace, settings: Settings | None = None, *, stderr: TextIO | None = None
) -> int:
    """The whole command; ``settings`` for the in-process app (tests pass their own)."""
    err = stderr or sys.stderr
    try:
        questions = load_set(args.set)
        baseline = _load_baseline(args.baseline) if args.baseline else None
    except (GoldenSetError, ValueError) as error:
        print(f"citu eval: {error}", file=err)
        return 2
    progress = None if args.no_progress else _progress_bar(err)
    options = {
        "target": args.target,
        "concurrency": args.concurrency,
        "on_progress": progress,
        "set_name": args.set if args.set == DEMO_SET else Path(args.set).name,
    }
    if args.url:
        async with HttpClient(args.url, admin_key=os.environ.get(ADMIN_KEY_VARIABLE)) as client:
            report = await run_eval(questions, client=client, **options)
    else:
        report = await _run_in_process(questions, settings or Settings(), options)
    failures: list[str] = []
    if baseline is not None:
        report["comparison"] = compare(report, baseline)
        failures = gate(report["comparison"], args.max_drop, args.max_latency_rise)
    _write(report, args.out)
    print(console_summary(report))
    print(f"reports: {args.out / 'report.json'}, {args.out / 'report.html'}")
    for failure in failures:
        print(f"citu eval: regression: {failure}", file=err)
    return 1 if failures else 0


async def _run_in_process(questions: list, settings: Settings, options: dict) -> dict:
    from citu.app import create_app

    app = create_app(settings)
    # A first start may load the demo training data through the embedding service: slow.
    serving = app.test_app_class(app, startup_timeout=STARTUP_SECONDS)
    async with serving, InProcessClient(app) as client:
        return await run_eval(questions, client=client, **options)


def _load_baseline(path: Path) -> dict[str, Any]:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"{path}: cannot read the baseline ({error.strerror})") from None
    if not isinstance(report, dict) or report.get("format") != REPORT_FORMAT:
        raise ValueError(f"{path}: not a {REPORT_FORMAT} report")
    return report


def _write(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, ensure_ascii=False, indent=1, default=str)
    (out / "report.json").write_text(text + "\n", encoding="utf-8")
    (out / "report.html").write_text(render_html(report), encoding="utf-8")


def _progress_bar(stream: TextIO):
    """Rewrites one stderr line per answered question (plain text, no dependency)."""

    def show(done: int, total: int) -> None:
        filled = BAR_WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        end = "\n" if done == total else ""
        stream.write(f"\r[{bar}] {done}/{total}{end}")
        stream.flush()

    return show


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
