"""Small file utilities for the dataset tests: backdated files (trusted by the stat cache), JSONL writers, blob listings."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ondo.workspace import Workspace


def age(path: Path, seconds: float = 60.0) -> None:
    """Backdate a file (or every file under a folder) so its stat-cache entry is not 'racy'."""
    paths = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    t = time.time() - seconds
    for p in paths:
        os.utime(p, (t, t))


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]], newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + newline)
    return path


def blob_digests(ws: Workspace) -> set[str]:
    return set(ws.blobs.iter_digests())


def sha_file(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
