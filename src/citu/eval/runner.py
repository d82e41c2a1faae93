"""Ask every question of a golden set and score the answers: the run behind ``citu eval run``.

Questions run concurrently (at most ``concurrency`` at a time); a follow-up runs after its
parent, in the parent's conversation. Gold and predicted SQL both run through the client's
``run_sql`` (the service's one SQL guard and read-only runner). The report lists questions by
id, so two runs of the same set compare line by line.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from citu.eval.clients import TARGETS, Answer, EvalClient, SqlOutcome, Target
from citu.eval.golden import GoldenQuestion
from citu.eval.report import build_report
from citu.eval.scoring import compare_results, is_ordered, row_diff
from citu.eval.tables import sql_tables

log = logging.getLogger("citu.eval.runner")

PREVIEW_ROWS = 20  # rows of each result kept in the report
QUESTION_TIMEOUT_SECONDS = 300.0
MAX_USER_SUFFIX = 36


async def run_eval(
    questions: Sequence[GoldenQuestion],
    *,
    target: str,
    client: EvalClient,
    concurrency: int = 4,
    on_progress: Callable[[int, int], None] | None = None,
    cancel: asyncio.Event | None = None,
    set_name: str | None = None,
) -> dict[str, Any]:
    """Run ``questions`` against ``target`` and return the versioned JSON report."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; one of {', '.join(TARGETS)}")
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    route = TARGETS[target]
    started_at, started = datetime.now(UTC), time.perf_counter()
    slots = asyncio.Semaphore(concurrency)
    records: dict[str, dict[str, Any]] = {}
    progress = _Progress(len(questions), on_progress)
    run_token = secrets.token_hex(3)  # two runs of one set never share a user

    async def run_chain(chain: list[GoldenQuestion]) -> None:
        conversation: str | None = None
        # A user per conversation: a user's oldest conversations are dropped past a limit.
        user_id = conversation_user(run_token, chain[0].id)
        for question in chain:
            async with slots:  # checked once a slot is free: waiting runs may be cancelled
                if cancel is not None and cancel.is_set():
                    records[question.id] = _record(question, "skipped")
                else:
                    records[question.id], conversation = await _evaluate(
                        question, route, client, conversation, user_id
                    )
            progress.step()

    await asyncio.gather(*(run_chain(chain) for chain in conversations(questions)))
    ordered = [records[q.id] for q in sorted(questions, key=lambda q: q.id)]
    return build_report(
        ordered,
        set_name=set_name,
        target=target,
        mode=client.mode,
        concurrency=concurrency,
        started_at=started_at,
        duration_s=time.perf_counter() - started,
        cancelled=cancel is not None and cancel.is_set(),
    )


def conversations(questions: Sequence[GoldenQuestion]) -> list[list[GoldenQuestion]]:
    """Questions grouped by conversation: each root with its follow-ups, in set order."""
    root_of: dict[str, str] = {}
    chains: dict[str, list[GoldenQuestion]] = {}
    for question in questions:
        parent = question.follow_up_of
        root = root_of.get(parent, parent) if parent else question.id
        root_of[question.id] = root
        chains.setdefault(root, []).append(question)
    return list(chains.values())


def conversation_user(run_token: str, root_id: str) -> str:
    """The user id asking one conversation's questions (no colon: it separates conversation ids;
    at most 50 characters, the ReAct route's limit)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", root_id)[:MAX_USER_SUFFIX]
    return f"eval_{run_token}_{safe}"


class _Progress:
    def __init__(self, total: int, callback: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.callback = total, 0, callback

    def step(self) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total)


async def _evaluate(
    question: GoldenQuestion,
    target: Target,
    client: EvalClient,
    conversation: str | None,
    user_id: str,
) -> tuple[dict[str, Any], str | None]:
    """One question's record, and the conversation its follow-ups continue."""
    gold_tables = sorted(sql_tables(question.sql))
    # The gold result and the retrieval check do not depend on the answer: run them meanwhile.
    answer, gold, retrieval_hit = await asyncio.gather(
        _ask(question, target, client, conversation, user_id),
        client.run_sql(question.sql),
        _retrieval_hit(client, question, gold_tables),
    )
    predicted = await client.run_sql(answer.sql) if answer.sql else None
    record = _record(question, _status(answer, gold, predicted))
    record.update(_answer_fields(answer))
    record["gold"] = _result_fields(gold)
    record["predicted"] = _result_fields(predicted) if predicted is not None else None
    record["gold_tables"] = gold_tables
    record["retrieval_hit"] = retrieval_hit
    if gold.status == "ok" and predicted is not None and predicted.status == "ok":
        verdict = compare_results(gold.rows, predicted.rows, ordered=record["ordered"])
        record["correct"] = verdict.equal
        record["status"] = "correct" if verdict.equal else "wrong"
        record["reason"] = verdict.reason or None
        if not verdict.equal:
            record["diff"] = row_diff(gold.rows, predicted.rows)
    return record, answer.conversation_id or conversation


async def _ask(
    question: GoldenQuestion,
    target: Target,
    client: EvalClient,
    conversation: str | None,
    user_id: str,
) -> Answer:
    try:
        async with asyncio.timeout(QUESTION_TIMEOUT_SECONDS):
            return await client.ask(target, question.question, conversation, user_id)
    except TimeoutError:
        return Answer(http_status=0, error=f"no answer in {QUESTION_TIMEOUT_SECONDS:g} s")
    except Exception as exc:  # one broken question must not end the run
        log.exception("question %s failed", question.id)
        return Answer(http_status=0, error=f"client error: {type(exc).__name__}")


def _status(answer: Answer, gold: SqlOutcome, predicted: SqlOutcome | None) -> str:
    """The outcome before comparing results; ``wrong`` stands until the comparison."""
    if gold.status != "ok":
        return "gold_error"
    if predicted is None:
        if answer.refused:
            return "refused"
        if answer.sql_failed:
            return "sql_error"
        return "error" if answer.error else "no_sql"
    return {"refused": "refused", "error": "sql_error"}.get(predicted.status, "wrong")


def _record(question: GoldenQuestion, status: str) -> dict[str, Any]:
    return {
        "id": question.id,
        "question": question.question,
        "language": question.language,
        "tags": list(question.tags),
        "follow_up_of": question.follow_up_of,
        "status": status,
        "correct": False,
        "reason": None,
        "gold_sql": question.sql,
        "ordered": is_ordered(question.sql),
        "predicted_sql": None,
    }


def _answer_fields(answer: Answer) -> dict[str, Any]:
    tokens = None
    if answer.prompt_tokens is not None:
        tokens = answer.prompt_tokens + (answer.completion_tokens or 0)
    return {
        "predicted_sql": answer.sql,
        "http_status": answer.http_status,
        "error": answer.error,
        "latency_ms": round(answer.latency_ms, 1),
        "model_calls": answer.model_calls,
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "tokens": tokens,
    }


def _result_fields(outcome: SqlOutcome) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "error": outcome.error,
        "columns": outcome.columns,
        "row_count": len(outcome.rows),
        "truncated": outcome.truncated,
        "rows": outcome.rows[:PREVIEW_ROWS],
    }


async def _retrieval_hit(
    client: EvalClient, question: GoldenQuestion, gold_tables: list[str]
) -> bool | None:
    """Whether retrieval, for this question, brought every table the gold SQL reads."""
    try:
        retrieved = await client.retrieved_tables(question.question)
    except Exception:  # retrieval trouble shows up in the answer itself
        log.warning("retrieval check failed for %s", question.id, exc_info=True)
        return None
    if retrieved is None or not gold_tables:
        return None
    return set(gold_tables) <= retrieved
