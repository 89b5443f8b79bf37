"""``ondo.data``: versioned datasets.

    v = ondo.data.add("data/qa.jsonl", name="qa-train", message="first cut")
    df = ondo.data.get("qa-train@v3").to_pandas()     # inside a run: recorded as an input
    ondo.data.diff("qa-train@v2", "qa-train@v3", key="id")
    ondo.data.set_alias("qa-train", "prod", 3)

Every function takes an optional ``workspace``; by default the one the environment names.
"""

from __future__ import annotations

import builtins
import os
from dataclasses import dataclass
from typing import Any

from ondo import aliases as alias_events
from ondo.aliases.events import all_for
from ondo.datasets import diff as diff_mod
from ondo.datasets import locations, versions
from ondo.datasets import repository as repo
from ondo.datasets import verify as verify_mod
from ondo.datasets.checkout import CheckoutResult
from ondo.datasets.dataset import DatasetVersion
from ondo.datasets.diff import DatasetDiff
from ondo.datasets.verify import VerifyReport
from ondo.errors import NotFound
from ondo.ids import check_alias, check_name, parse_ref
from ondo.workspace import Workspace

__all__ = [
    "DatasetDiff",
    "DatasetInfo",
    "DatasetVersion",
    "VerifyReport",
    "add",
    "checkout",
    "diff",
    "get",
    "history",
    "list",
    "remove_alias",
    "set_alias",
    "verify",
    "versions_of",
]

KIND = versions.KIND


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    latest_version: int
    versions: int
    aliases: dict[str, int]
    updated_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "latest_version": self.latest_version,
            "versions": self.versions,
            "aliases": self.aliases,
            "updated_at": self.updated_at,
        }


def _ws(workspace: Workspace | None) -> Workspace:
    return workspace or Workspace.default()


def add(
    path: str | os.PathLike[str],
    name: str,
    message: str | None = None,
    skip_bad_rows: bool = False,
    *,
    workspace: Workspace | None = None,
) -> DatasetVersion:
    """Add a file or folder as a new version of ``name`` (or return the version that already holds it)."""
    ws = _ws(workspace)
    row, created = versions.add(ws, path, name, message=message, skip_bad_rows=skip_bad_rows)
    return DatasetVersion(ws, row, created=created)


def get(ref: str, *, workspace: Workspace | None = None) -> DatasetVersion:
    """The version ``ref`` names; inside an active run it is recorded as an input of the run."""
    ws = _ws(workspace)
    dv = DatasetVersion(ws, versions.resolve(ws, ref))
    dv._read_hook()
    return dv


def list(*, workspace: Workspace | None = None) -> builtins.list[DatasetInfo]:
    """Every dataset with its latest version and aliases."""
    ws = _ws(workspace)
    with ws.read() as conn:
        summaries = repo.summaries(conn)
    return [DatasetInfo(n, latest, count, all_for(ws, KIND, n), at) for n, latest, count, at in summaries]


def versions_of(name: str, *, workspace: Workspace | None = None) -> builtins.list[DatasetVersion]:
    """All versions of ``name``, oldest first."""
    ws = _ws(workspace)
    check_name(name, "dataset name")
    with ws.read() as conn:
        rows = repo.versions(conn, name)
        if not rows:
            raise NotFound("dataset", name, repo.names(conn))
    return [DatasetVersion(ws, r) for r in rows]


def history(name: str, *, workspace: Workspace | None = None) -> dict[str, Any]:
    """The versions of ``name`` and every alias move, oldest first."""
    ws = _ws(workspace)
    vs = versions_of(name, workspace=ws)
    events = alias_events.history(ws, KIND, name)
    return {
        "name": name,
        "versions": [v.to_dict() for v in vs],
        "aliases": all_for(ws, KIND, name),
        "alias_events": [
            {
                "alias": e.alias, "from_version": e.from_version, "to_version": e.to_version, "action": e.action,
                "actor": e.actor, "reason": e.reason, "created_at": e.created_at,
            }
            for e in events
        ],
    }


def diff(a: str, b: str, key: str | None = None, *, workspace: Workspace | None = None) -> DatasetDiff:
    """What changed from version ``a`` to version ``b`` (files and rows; rows matched by ``key`` if given)."""
    ws = _ws(workspace)
    va, vb = get(a, workspace=ws), get(b, workspace=ws)
    return diff_mod.diff(ws.blobs, va.ref, va.manifest, vb.ref, vb.manifest, key=key)


def checkout(ref: str, dest: str | os.PathLike[str], *, workspace: Workspace | None = None) -> CheckoutResult:
    """Write the files of version ``ref`` under the folder ``dest``."""
    return get(ref, workspace=workspace).checkout(dest)


def verify(ref: str | None = None, *, workspace: Workspace | None = None) -> VerifyReport:
    """Re-hash every blob of one version (``ref``), of all versions of a name, or of every dataset."""
    ws = _ws(workspace)
    if ref is None:
        with ws.read() as conn:
            rows = repo.all_versions(conn)
    elif parse_ref(ref).is_bare and "@" not in ref:
        rows = [v._row for v in versions_of(ref, workspace=ws)]
    else:
        rows = [versions.resolve(ws, ref)]

    def located(digests: builtins.list[str]) -> dict[str, locations.Location]:
        with ws.read() as conn:
            return locations.lookup(conn, digests)

    return verify_mod.verify(ws.blobs, rows, located)


def _version_number(ws: Workspace, name: str, version: int | str) -> int:
    """3, '3', 'v3', 'latest', an alias, or a full identifier of ``name``."""
    text = str(version).strip()
    if text.isdigit():
        ref = f"{name}@v{int(text)}"
    elif text.startswith(name) and ("@" in text or "/" in text):
        ref = text
    else:
        ref = f"{name}@{text}"
    return versions.resolve(ws, ref).version


def set_alias(
    name: str, alias: str, version: int | str, *, reason: str | None = None, workspace: Workspace | None = None
) -> alias_events.AliasEvent:
    """Point ``name@alias`` at a version (3, 'v3', 'latest' or another alias); the move is recorded."""
    ws = _ws(workspace)
    check_name(name, "dataset name")
    check_alias(alias)
    n = _version_number(ws, name, version)
    return alias_events.move(ws, KIND, name, alias, n, reason=reason)


def remove_alias(
    name: str, alias: str, *, reason: str | None = None, workspace: Workspace | None = None
) -> alias_events.AliasEvent:
    return alias_events.remove(_ws(workspace), KIND, name, alias, reason=reason)
