"""Which code produced a run: the git state of the working folder, else of the script being run."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from ondo.client import Client

SRC = Path(__file__).resolve().parents[2] / "src"


def test_a_script_started_from_outside_its_repository_records_its_commit(
    tmp_path: Path, client: Client
) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    (repo / "train.py").write_text(
        "import ondo\nwith ondo.start_run(experiment='env') as run:\n    pass\nprint(run.id)\n"
    )
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "train.py"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], cwd=repo, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    elsewhere = tmp_path / "elsewhere"  # not inside any repository (tmp_path is outside the checkout)
    elsewhere.mkdir()
    proc = subprocess.run(
        [sys.executable, str(repo / "train.py")],
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": str(SRC)},  # this test's ONDO_HOME / ONDO_STORE_URL
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    info = client.get_run(proc.stdout.strip())
    assert info.git_commit == head and info.git_dirty is False
    assert info.command is not None and "train.py" in info.command


def test_a_console_script_is_not_the_users_code(tmp_path: Path, monkeypatch: Any) -> None:
    """`ondo eval ...` run outside any repository records no commit, not the commit of the checkout that
    holds the virtual environment the `ondo` console script lives in."""
    from ondo.tracking import environment

    console_script = Path(sysconfig.get_path("scripts")) / "ondo"
    assert console_script.is_file()
    monkeypatch.chdir(tmp_path)  # tmp_path is outside the checkout
    monkeypatch.setattr(sys, "argv", [str(console_script), "eval", "bench"])
    assert environment.capture().git_commit is None
    script = tmp_path / "train.py"
    script.write_text("")
    monkeypatch.setattr(sys, "argv", [str(script)])
    assert environment._script_dir() == str(tmp_path)
