"""Run artifacts: files and folders stored by content in the blob store, named per run.

A row maps (run, path) to a blob digest, so the same checkpoint logged by ten runs is stored
once, and re-logging a path points it at the new content.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ondo.errors import InvalidInput, NotFound, OndoError, StoreError
from ondo.store.tables.core import artifacts
from ondo.tracking.runs import ArtifactInfo
from ondo.workspace import Workspace


def _check_name(name: str) -> str:
    clean = name.replace("\\", "/").strip("/")
    if not clean or any(part in ("", ".", "..") for part in clean.split("/")) or len(clean) > 1024:
        raise InvalidInput(f"invalid artifact name {name!r}: use a relative path without '.' or '..' parts")
    return clean


def _record(ws: Workspace, run_id: str, entries: list[ArtifactInfo]) -> None:
    def _write(conn: sa.Connection) -> None:
        paths = [e.path for e in entries]
        conn.execute(artifacts.delete().where(artifacts.c.run_id == run_id, artifacts.c.path.in_(paths)))
        conn.execute(
            artifacts.insert(),
            [
                {
                    "run_id": run_id,
                    "path": e.path,
                    "digest": e.digest,
                    "size": e.size,
                    "created_at": e.created_at,
                }
                for e in entries
            ],
        )

    if entries:
        ws.write(_write)


def log_artifact(
    ws: Workspace, run_id: str, path: str | os.PathLike[str], name: str | None = None
) -> list[ArtifactInfo]:
    """Store a file, or every file under a folder (as ``<name>/<relative path>``)."""
    src = Path(path)
    if not src.exists():
        raise InvalidInput(f"artifact {src} does not exist")
    base = _check_name(name or src.name)
    now = time.time()
    entries: list[ArtifactInfo] = []
    try:
        if src.is_dir():
            for f in sorted(p for p in src.rglob("*") if p.is_file()):
                rel = f.relative_to(src).as_posix()
                entries.append(ArtifactInfo(f"{base}/{rel}", ws.blobs.put_file(f), f.stat().st_size, now))
        else:
            entries.append(ArtifactInfo(base, ws.blobs.put_file(src), src.stat().st_size, now))
    except OSError as exc:  # nothing recorded yet: blobs already stored are content-addressed, harmless
        raise _artifact_error(ws, src, exc) from exc
    _record(ws, run_id, entries)
    return entries


def _artifact_error(ws: Workspace, src: Path | None, exc: OSError) -> OndoError:
    """Say whether the file could not be read (the user's side) or the blob store not written."""
    reason = exc.strerror or str(exc)
    failed = exc.filename
    if src is not None and failed is not None and Path(failed).absolute().is_relative_to(src.absolute()):
        return InvalidInput(f"cannot read artifact {failed}: {reason}")
    if failed is not None:
        return StoreError(
            f"cannot write to the artifact store {ws.settings.artifacts_url}: {reason} ({failed})"
        )
    what = f"artifact {src}" if src is not None else "an artifact"
    return StoreError(f"cannot store {what} in {ws.settings.artifacts_url}: {reason}")


def log_bytes(ws: Workspace, run_id: str, data: bytes, name: str) -> ArtifactInfo:
    path = _check_name(name)
    try:
        digest = ws.blobs.put_bytes(data)
    except OSError as exc:
        raise _artifact_error(ws, None, exc) from exc
    entry = ArtifactInfo(path, digest, len(data), time.time())
    _record(ws, run_id, [entry])
    return entry


def log_dict(ws: Workspace, run_id: str, data: Any, name: str) -> ArtifactInfo:
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    return log_bytes(ws, run_id, text.encode(), name)


def log_text(ws: Workspace, run_id: str, text: str, name: str) -> ArtifactInfo:
    return log_bytes(ws, run_id, text.encode(), name)


def list_artifacts(ws: Workspace, run_id: str) -> list[ArtifactInfo]:
    with ws.read() as conn:
        rows = conn.execute(
            sa.select(artifacts).where(artifacts.c.run_id == run_id).order_by(artifacts.c.path)
        ).all()
    return [ArtifactInfo(r.path, r.digest, int(r.size), r.created_at) for r in rows]


def artifact_digest(ws: Workspace, run_id: str, name: str) -> str:
    with ws.read() as conn:
        digest = conn.execute(
            sa.select(artifacts.c.digest).where(artifacts.c.run_id == run_id, artifacts.c.path == name)
        ).scalar()
        if digest is None:
            paths = (
                conn.execute(sa.select(artifacts.c.path).where(artifacts.c.run_id == run_id)).scalars().all()
            )
            raise NotFound(f"artifact of run {run_id}", name, paths)
    return str(digest)


def read_artifact(ws: Workspace, run_id: str, name: str) -> bytes:
    return ws.blobs.get_bytes(artifact_digest(ws, run_id, name))


def download_artifact(ws: Workspace, run_id: str, name: str, dest: str | os.PathLike[str]) -> Path:
    """Copy one artifact, or every artifact under a folder name, to ``dest``."""
    target = Path(dest)
    prefix = name.rstrip("/") + "/"
    under = [a for a in list_artifacts(ws, run_id) if a.path.startswith(prefix)]
    if under:
        for a in under:
            ws.blobs.get_file(a.digest, target / a.path[len(prefix) :])
        return target
    ws.blobs.get_file(artifact_digest(ws, run_id, name), target)
    return target
