"""``ondo.Client``: the read side of ondo (and post-hoc writes) against one store.

``Client()`` follows the environment (``ONDO_HOME`` / ``ONDO_STORE_URL``);
``Client("postgresql+psycopg://...")`` points at another store. The CLI and the server call
these same methods.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ondo import tracking
from ondo.tracking import artifacts as _artifacts
from ondo.tracking import runs as _runs
from ondo.tracking.active import Run, start_run
from ondo.tracking.experiments import ExperimentInfo
from ondo.tracking.history import MetricPoint
from ondo.tracking.runs import ArtifactInfo, RunInfo
from ondo.tracking.search import RunPage
from ondo.workspace import Workspace


class Client:
    def __init__(self, store_url: str | None = None, *, workspace: Workspace | None = None) -> None:
        self.ws = workspace or Workspace.for_url(store_url)

    # -- experiments -----------------------------------------------------------------------------
    def list_experiments(self) -> list[ExperimentInfo]:
        return tracking.list_experiments(self.ws)

    def get_experiment(self, name: str) -> ExperimentInfo:
        return tracking.get_experiment(self.ws, name)

    # -- runs ------------------------------------------------------------------------------------
    def start_run(
        self, experiment: str | None = None, params: Mapping[str, Any] | None = None, **kw: Any
    ) -> Run:
        return start_run(experiment, params, workspace=self.ws, **kw)

    def get_run(self, run_id: str) -> RunInfo:
        return tracking.get_run(self.ws, run_id)

    def search_runs(
        self,
        experiment: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | str | None = None,
        page_size: int = 50,
        page_token: str | None = None,
        *,
        include_deleted: bool = False,
    ) -> RunPage:
        return tracking.search_runs(
            self.ws, experiment, filter, order_by, page_size, page_token, include_deleted=include_deleted
        )

    def list_runs(self, experiment: str | Sequence[str] | None = None, page_size: int = 50) -> RunPage:
        return self.search_runs(experiment=experiment, page_size=page_size)

    def get_metric_history(self, run_id: str, key: str, max_points: int | None = 1000) -> list[MetricPoint]:
        return tracking.get_metric_history(self.ws, run_id, key, max_points)

    def delete_run(self, run_id: str, *, purge: bool = False) -> str:
        return tracking.delete_run(self.ws, run_id, purge=purge)

    # -- post-hoc writes to an existing run --------------------------------------------------------
    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        _runs.log_params(self.ws, self._rid(run_id), params)

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        _runs.set_tags(self.ws, self._rid(run_id), tags)

    def set_note(self, run_id: str, text: str | None) -> None:
        _runs.set_note(self.ws, self._rid(run_id), text)

    # -- artifacts -------------------------------------------------------------------------------
    def list_artifacts(self, run_id: str) -> list[ArtifactInfo]:
        return _artifacts.list_artifacts(self.ws, self._rid(run_id))

    def read_artifact(self, run_id: str, name: str) -> bytes:
        return _artifacts.read_artifact(self.ws, self._rid(run_id), name)

    def download_artifact(self, run_id: str, name: str, dest: str | os.PathLike[str]) -> Path:
        return _artifacts.download_artifact(self.ws, self._rid(run_id), name, dest)

    def _rid(self, run_id: str) -> str:
        with self.ws.read() as conn:
            return _runs.resolve_run_id(conn, run_id)
