"""Re-hashing every blob a version depends on: manifest, whole files, row indexes, groups and packs.

Each blob is checked once even when many versions share it; the report names the version and
the file each missing or corrupted blob belongs to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ondo.blobs import BlobStore, digest_bytes
from ondo.datasets.locations import Location
from ondo.datasets.manifest import Manifest
from ondo.datasets.packs import load_group, load_index
from ondo.datasets.repository import VersionRow


@dataclass
class VerifyReport:
    versions: list[str] = field(default_factory=list)
    blobs_checked: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "versions": self.versions,
            "blobs_checked": self.blobs_checked,
            "problems": self.problems,
        }


def verify(blobs: BlobStore, rows: list[VersionRow], located: Callable[[list[str]], dict[str, Location]]) -> VerifyReport:
    """Check ``rows``' blobs; ``located`` finds the file packs of small files."""
    report = VerifyReport()
    status: dict[str, str] = {}
    sliced: dict[str, bool] = {}

    def check(digest: str) -> str:
        if digest not in status:
            if not blobs.exists(digest):
                status[digest] = "missing"
            elif not blobs.verify(digest):
                status[digest] = "corrupted"
            else:
                status[digest] = "ok"
        return status[digest]

    def problem(ref: str, path: str | None, role: str, digest: str, state: str) -> None:
        report.problems.append({"ref": ref, "path": path, "role": role, "blob": digest, "status": state})

    for row in rows:
        ref = f"{row.name}@v{row.version}"
        report.versions.append(ref)
        state = check(row.digest)
        if state != "ok":
            problem(ref, None, "manifest", row.digest, state)
            continue
        manifest = Manifest.decode(blobs.get_bytes(row.digest))
        where = located([f.digest for f in manifest.files if f.packed])
        for entry in manifest.files:
            if entry.packed and entry.digest in where:
                pack, off, size = where[entry.digest]
                if (state := check(pack)) != "ok":
                    problem(ref, entry.path, "file pack", pack, state)
                elif entry.digest not in sliced:
                    with blobs.open(pack) as f:
                        f.seek(off)
                        sliced[entry.digest] = digest_bytes(f.read(size)) == entry.digest
                    if not sliced[entry.digest]:
                        problem(ref, entry.path, "file pack", pack, "corrupted")
            elif entry.stored_whole and (state := check(entry.digest)) != "ok":
                problem(ref, entry.path, "file", entry.digest, state)
            if entry.kind != "rows" or not entry.rows:
                continue
            if (state := check(entry.rows)) != "ok":
                problem(ref, entry.path, "row index", entry.rows, state)
                continue
            packs: set[str] = set()
            for g in load_index(blobs, entry.rows).groups:
                if (state := check(g.entries)) != "ok":
                    problem(ref, entry.path, "row group", g.entries, state)
                    continue
                packs.update(load_group(blobs, g.entries).packs)
            for pack in sorted(packs):
                if (state := check(pack)) != "ok":
                    problem(ref, entry.path, "row pack", pack, state)
    report.blobs_checked = len(status)
    return report
