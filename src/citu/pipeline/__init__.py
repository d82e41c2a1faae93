"""The data pipeline: business schema → DDL and docs → question/SQL pairs → validation → training.

``engine.PipelineEngine`` runs a task's steps (``steps/``); ``runner.PipelineRunner`` runs the
engine in the background of the serving process; ``tasks.TaskStore`` keeps the task rows.
"""
