"""``citu pipeline run``: the data pipeline without the server; prints the task summary as JSON."""

from __future__ import annotations

import argparse
import asyncio
import sys

from citu.pipeline.steps import STEP_NAMES
from citu.settings import Settings


async def _pipeline_run(args: argparse.Namespace) -> int:
    import json

    from citu.logging.setup import configure_logging
    from citu.pipeline.engine import RunOptions
    from citu.services import Services

    settings = Settings()
    configure_logging(settings)
    services = Services(settings)
    await services.start()
    try:
        pipeline = services.pipeline
        task_id = args.task_id
        if task_id:
            await pipeline.require_task(task_id)
        else:
            body = {
                "task_name": args.task_name,
                "business_context": args.business_context,
                "db_connection": args.db_connection,
                "enable_sql_validation": not args.no_validation,
                "enable_llm_repair": not args.no_repair,
            }
            body = {key: value for key, value in body.items() if value is not None}
            created = await pipeline.create_task(body, created_type="manual", prefix="manual")
            task_id = created["task_id"]
        if args.tables:
            await pipeline.create_table_list(task_id, args.tables)
        options = RunOptions(
            mode="step" if args.step else "complete",
            step=args.step,
            backup_vector_tables=args.backup_vector_tables,
            truncate_vector_tables=args.truncate_vector_tables,
            skip_training=args.skip_training,
        )
        await (await pipeline.runner.execute(task_id, options))
        status = await pipeline.task_status(task_id)
    finally:
        await services.close()
    summary = {
        "task_id": task_id,
        "status": status["status"],
        "step_status": status["step_status"],
        "error_message": status["error_message"],
        "directory": pipeline.paths.output_directory(task_id),
    }
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0 if status["status"] in ("completed", "partial_completed") else 1


def pipeline_run(args: argparse.Namespace) -> int:
    if args.step and args.step not in STEP_NAMES:
        print(f"citu: unknown step {args.step!r}; one of {', '.join(STEP_NAMES)}", file=sys.stderr)
        return 2
    if not args.tables and not args.task_id:
        print("citu: give --tables (or --task-id of a task that has a table list)", file=sys.stderr)
        return 2
    from citu.local_servers import servers_for_command

    with servers_for_command(Settings()):
        return asyncio.run(_pipeline_run(args))


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's sub-commands to ``citu``'s parser."""
    pipeline_cmd = commands.add_parser(
        "pipeline",
        help="run the data pipeline without the server",
        description="Run the data pipeline without the server.",
    )
    pipeline_commands = pipeline_cmd.add_subparsers(
        dest="pipeline_command", required=True, metavar="COMMAND"
    )
    run_cmd = pipeline_commands.add_parser(
        "run",
        help="schema → DDL/docs → question/SQL pairs → validation → training",
        description="Generate DDL and documentation for tables, question/SQL pairs, validate"
        " them and load them as training data; prints the task summary as JSON.",
    )
    run_cmd.add_argument(
        "--tables", metavar="NAMES", help="comma-separated table names (schema.table or table)"
    )
    run_cmd.add_argument(
        "--step",
        metavar="STEP",
        help=f"run only this step: {', '.join(STEP_NAMES)}",
    )
    run_cmd.add_argument(
        "--task-id", metavar="ID", help="re-run an existing task instead of creating one"
    )
    run_cmd.add_argument("--task-name", metavar="NAME", help="name of the new task")
    run_cmd.add_argument(
        "--business-context", metavar="TEXT", help="what the database is about (for the model)"
    )
    run_cmd.add_argument(
        "--db-connection", metavar="URL", help="business database URL (default: configured)"
    )
    run_cmd.add_argument("--no-validation", action="store_true", help="skip sql_validation")
    run_cmd.add_argument("--no-repair", action="store_true", help="no LLM repair of bad SQL")
    run_cmd.add_argument(
        "--backup-vector-tables", action="store_true", help="back up the vector tables first"
    )
    run_cmd.add_argument(
        "--truncate-vector-tables",
        action="store_true",
        help="back up, then empty the vector tables before loading",
    )
    run_cmd.add_argument(
        "--skip-training",
        action="store_true",
        help="load no training data (the vector table flags still apply)",
    )
    # An earlier spelling of --skip-training, kept working but not shown.
    run_cmd.add_argument(
        "--no-training", action="store_true", dest="skip_training", help=argparse.SUPPRESS
    )
    run_cmd.set_defaults(func=pipeline_run)
