"""Listing the files an add takes: a file, or every regular file under a folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ondo.datasets.rows import format_of

# Folders that are tool state, never data.
SKIP_DIRS = frozenset({".git", ".dvc", ".ondo", "__pycache__", ".ipynb_checkpoints"})


@dataclass(frozen=True)
class ScannedFile:
    abs: str  # absolute path, the stat cache key
    rel: str  # path inside the version, '/'-separated
    st: os.stat_result  # taken before the file is read
    fmt: str | None  # row format, None when stored whole


def scan(root: Path, skip: Path | None = None) -> list[ScannedFile]:
    """Files under ``root`` sorted by relative path; ``skip`` (the ondo home) is never entered."""
    if root.is_file():
        return [ScannedFile(str(root), root.name, root.stat(), format_of(root.name))]
    out: list[ScannedFile] = []
    skip_s = str(skip) if skip is not None else None
    stack = [str(root)]
    base = len(str(root).rstrip(os.sep)) + 1
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as it:
            for e in it:
                if e.is_dir():
                    if e.name not in SKIP_DIRS and e.path != skip_s:
                        stack.append(e.path)
                    continue
                st = e.stat()
                if not _regular(st):
                    continue
                rel = e.path[base:].replace(os.sep, "/")
                out.append(ScannedFile(e.path, rel, st, format_of(e.name)))
    out.sort(key=lambda f: f.rel)
    return out


def _regular(st: os.stat_result) -> bool:
    import stat

    return stat.S_ISREG(st.st_mode)
