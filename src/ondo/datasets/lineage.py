"""Lineage: reading a dataset version inside a run records it as an input of that run."""

from __future__ import annotations

from typing import Any


def _active_run() -> Any:
    try:
        from ondo.tracking import active_run
    except ImportError:  # tracking not installed in this build
        return None
    return active_run()


def record_read(name: str, version: int, digest: str, seen: set[str] | None = None) -> None:
    """Record ``name/version`` as an input of the active run, once per run."""
    run = _active_run()
    if run is None:
        return
    run_id = str(getattr(run, "id", id(run)))
    if seen is not None:
        if run_id in seen:
            return
        seen.add(run_id)
    run.record_input("dataset", f"{name}/{version}", digest)
