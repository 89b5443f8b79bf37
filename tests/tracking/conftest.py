"""Helpers for tracking tests: a Client on the test's store, and child Python processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ondo.client import Client
from ondo.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]


def on_postgres() -> bool:
    return os.environ.get("ONDO_STORE_URL", "").startswith("postgresql")


@pytest.fixture
def client(workspace: Workspace) -> Client:
    return Client(workspace=workspace)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of this test (ONDO_HOME / ONDO_STORE_URL included) for a child process."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _spawn(code: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=child_env(**extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def spawn(ondo_home: Path) -> Callable[..., subprocess.Popen[str]]:
    """``spawn(code, **env)`` starts ``python -c code`` against this test's store (stdout/stderr piped)."""
    return _spawn


@pytest.fixture
def sqlite_only() -> None:
    if on_postgres():
        pytest.skip("SQLite-specific")


@pytest.fixture(autouse=True)
def _end_leftover_runs() -> Iterator[None]:
    """A test that leaves a run open must not leak it (as the active run) into the next test."""
    yield
    from ondo.tracking import active

    for run in list(active._open_runs.values()):
        run.end("killed")
