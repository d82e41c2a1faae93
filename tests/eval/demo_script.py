"""A scripted demo model for the demo golden set: a known subset answered right, the rest wrong
in known ways, so an evaluation run's scores are known before it starts.

``script(questions, variant)`` gives the fake's overrides (question -> SQL) and the outcome each
question must get. Variant "a" answers every third question right, variant "b" every second one,
so comparing the two fixes and breaks a known list of questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from citu.eval.golden import GoldenQuestion

# Wrong answers, each a different way of being wrong; the status the run must report for it.
WRONG = {
    "wrong_column": ("SELECT service_area_name AS 名称 FROM bss_service_area WHERE delete_ts IS NULL;", "wrong"),
    "wrong_filter": ("SELECT * FROM ({gold}) AS answer WHERE false;", "wrong"),
    "wrong_value": ("SELECT -1 AS answer;", "wrong"),
    "refused": ("SELECT pg_sleep(0) AS pause;", "refused"),
    "sql_error": ("SELECT no_such_column FROM bss_company;", "sql_error"),
    "no_sql": (None, "no_sql"),
}  # fmt: skip
EVERY = {"a": 3, "b": 2}


@dataclass(frozen=True)
class Script:
    overrides: dict[str, str]
    statuses: dict[str, str]  # question id -> the status the run must report

    @property
    def correct(self) -> set[str]:
        return {i for i, s in self.statuses.items() if s == "correct"}


def script(questions: Sequence[GoldenQuestion], variant: str = "a") -> Script:
    every = EVERY[variant]
    kinds = list(WRONG)
    overrides: dict[str, str] = {}
    statuses: dict[str, str] = {}
    wrong = 0
    for index, question in enumerate(sorted(questions, key=lambda q: q.id)):
        if index % every == 0:
            overrides[question.question] = question.sql
            statuses[question.id] = "correct"
            continue
        sql, status = WRONG[kinds[wrong % len(kinds)]]  # every way of being wrong, in turn
        wrong += 1
        if sql is not None:
            overrides[question.question] = sql.format(gold=question.sql.rstrip("; "))
        statuses[question.id] = status
    return Script(overrides, statuses)


def main(argv: list[str] | None = None) -> None:
    """Print a variant's overrides as JSON, for ``citu fake-llm --demo --demo-overrides``."""
    import argparse
    import json

    from citu.eval.golden import load_set

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--variant", choices=sorted(EVERY), default="a")
    parser.add_argument("--all-right", action="store_true", help="every question answered right")
    args = parser.parse_args(argv)
    questions = load_set("demo")
    if args.all_right:
        overrides = {q.question: q.sql for q in questions}
    else:
        overrides = script(questions, args.variant).overrides
    print(json.dumps(overrides, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
