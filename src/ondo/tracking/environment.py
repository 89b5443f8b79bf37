"""What a run records about the process that produced it: code version, command, interpreter, packages.

Captured once per process (it does not change while a process lives) so starting many runs
stays cheap. Every probe is best-effort: a missing ``git`` or a folder outside a repository
leaves the field empty instead of failing the run.
"""

from __future__ import annotations

import functools
import getpass
import os
import platform
import shlex
import socket
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from importlib import metadata

# Distributions whose versions decide whether a result can be reproduced.
KEY_PACKAGES: tuple[str, ...] = (
    "ondo",
    "numpy",
    "scipy",
    "sqlalchemy",
    "pandas",
    "torch",
    "transformers",
    "tokenizers",
    "accelerate",
    "sentence-transformers",
    "llama-cpp-python",
    "vllm",
    "openai",
    "datasets",
    "scikit-learn",
)


@dataclass(frozen=True)
class Environment:
    git_commit: str | None
    git_dirty: bool | None
    command: str
    python_version: str
    packages: dict[str, str] = field(default_factory=dict)
    host: str | None = None
    user: str | None = None
    pid: int = 0


def capture(cwd: str | None = None) -> Environment:
    """The environment of this process (git state is read from ``cwd``, default the working directory)."""
    commit, dirty = git_state(cwd or os.getcwd())
    script = _script_dir()
    if commit is None and cwd is None and script is not None:
        # `python ~/project/train.py` started from outside the project: its code is the script's
        commit, dirty = git_state(script)
    return Environment(
        git_commit=commit,
        git_dirty=dirty,
        command=command_line(),
        python_version=platform.python_version(),
        packages=dict(package_versions()),
        host=_host(),
        user=_user(),
        pid=os.getpid(),
    )


def command_line() -> str:
    argv = list(sys.argv) if sys.argv and sys.argv != [""] else []
    if not argv or argv[0] in ("-c", "-", ""):
        argv = [sys.executable, *argv]
    return shlex.join(argv)


def _script_dir() -> str | None:
    """The folder of the script this interpreter runs (None for ``-c``, ``-m`` and the REPL)."""
    argv0 = sys.argv[0] if sys.argv else ""
    if not argv0 or argv0 in ("-c", "-m", "-") or not os.path.isfile(argv0):
        return None
    folder = os.path.dirname(os.path.abspath(argv0))
    # a console script (`ondo`, `pytest`) lives beside the interpreter: its folder is the tool's, not the user's code
    if folder in {os.path.abspath(sysconfig.get_path("scripts")), os.path.dirname(os.path.abspath(sys.executable))}:
        return None
    return folder


@functools.cache
def git_state(cwd: str) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the repository containing ``cwd``; (None, None) outside one or without git."""
    commit = _git(cwd, "rev-parse", "HEAD")
    if commit is None:
        return None, None
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    return commit, (bool(status) if status is not None else None)


def _git(cwd: str, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@functools.cache
def package_versions() -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for name in KEY_PACKAGES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(found)


def _host() -> str | None:
    try:
        return socket.gethostname()
    except OSError:
        return None


def _user() -> str | None:
    try:
        return os.environ.get("ONDO_USER") or getpass.getuser()
    except Exception:
        return None
