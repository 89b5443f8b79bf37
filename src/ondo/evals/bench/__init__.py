"""Benchmarks scored exactly like lm-evaluation-harness v0.4: tasks, scoring engine, tracked runs.

``evaluate("local:smollm2", "arc_easy,hellaswag", limit=200)`` runs the tasks and records a run;
``list_tasks()`` / ``get_task(name)`` describe what ships; ``records`` reads per-item results back.
"""

from __future__ import annotations

from ondo.evals.bench.registry import get_task, list_tasks
from ondo.evals.bench.runner import BenchResult, TaskResult, evaluate
from ondo.evals.bench.task import Task, TaskGroup

__all__ = ["BenchResult", "Task", "TaskGroup", "TaskResult", "evaluate", "get_task", "list_tasks"]
