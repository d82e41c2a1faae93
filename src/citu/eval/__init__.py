"""Evaluation harness: golden question sets, result-equivalence scoring, runs and reports."""
