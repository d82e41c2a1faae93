"""The evaluation harness: golden question sets, runs against a target, scores and reports."""
