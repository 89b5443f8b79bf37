"""Experiment tracking: experiments, runs, params, metrics, tags, artifacts and lineage inputs.

Write with ``ondo.start_run(...)`` (a ``Run``); read with the functions below or ``ondo.Client``.
"""

from __future__ import annotations

from ondo.tracking.active import Run, active_run, start_run
from ondo.tracking.artifacts import download_artifact, list_artifacts, read_artifact
from ondo.tracking.experiments import ExperimentInfo, get_experiment, list_experiments
from ondo.tracking.history import MetricPoint, get_metric_history
from ondo.tracking.runs import ArtifactInfo, RunInfo, RunInput, delete_run, get_run
from ondo.tracking.search import RunPage, parse_filter, search_runs

__all__ = [
    "ArtifactInfo",
    "ExperimentInfo",
    "MetricPoint",
    "Run",
    "RunInfo",
    "RunInput",
    "RunPage",
    "active_run",
    "delete_run",
    "download_artifact",
    "get_experiment",
    "get_metric_history",
    "get_run",
    "list_artifacts",
    "list_experiments",
    "parse_filter",
    "read_artifact",
    "search_runs",
    "start_run",
]
