"""Re-hashing every blob a version depends on: manifest, whole files, row indexes, groups and packs.

Each blob is checked once even when many versions share it; the report names the version and
the file each missing or corrupted blob belongs to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ondo.blobs import BlobStore, digest_bytes, is_pack
from ondo.datasets.ingest import digest_list
from ondo.datasets.locations import Location
from ondo.datasets.manifest import Manifest
from ondo.datasets.packs import Group, PackReader, RowList, load_group, load_index
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
    rows_ok: dict[str, bool] = {}  # row group -> its rows in named packs hash to their digests
    spans_ok: dict[tuple[str, int, int], bool] = {}
    reader = PackReader(blobs)

    def group_rows_ok(group: str, g: Group, rl: RowList) -> bool:
        """Rows kept in a pack named by a rows digest (a first add's file body): such a pack's name is
        not the sha256 of its bytes, so re-hashing the pack cannot check it. A group whose bytes lie
        there back to back is checked by its hash over them (every byte, newlines included), the
        rows of any other group one by one."""
        if g.body is not None and g.hash is not None and is_pack(g.body):
            key = (g.body, g.body_at, g.span)
            if key not in spans_ok:
                buf = reader.pack(g.body)
                spans_ok[key] = hashlib.sha256(buf[g.body_at : g.body_at + g.span]).digest() == g.hash
            if not spans_ok[key]:
                return False
        if group not in rows_ok:
            named = [i for i, p in enumerate(rl.packs) if is_pack(p) and p != g.body]
            ok = True
            if named:
                bufs = {i: reader.pack(rl.packs[i]) for i in named}
                sha = hashlib.sha256
                for d, pi, o, n in zip(digest_list(rl.digests), rl.pack_idx.tolist(), rl.offsets.tolist(),
                                       rl.lengths.tolist(), strict=True):
                    buf = bufs.get(pi)
                    if buf is not None and sha(buf[o : o + n]).digest() != d:
                        ok = False
                        break
            rows_ok[group] = ok
        return rows_ok[group]

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

    try:
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
                groups: list[tuple[Group, RowList]] = []
                for g in load_index(blobs, entry.rows).groups:
                    if (state := check(g.entries)) != "ok":
                        problem(ref, entry.path, "row group", g.entries, state)
                        continue
                    groups.append((g, load_group(blobs, g.entries)))
                    packs.update(groups[-1][1].packs)
                bad_packs: set[str] = set()
                for pack in sorted(packs):
                    if (state := check(pack)) != "ok":
                        problem(ref, entry.path, "row pack", pack, state)
                        bad_packs.add(pack)
                for g, rl in groups:
                    if not bad_packs.intersection(rl.packs) and not group_rows_ok(g.entries, g, rl):
                        pack = next(p for p in [g.body, *rl.packs] if p is not None and is_pack(p))
                        problem(ref, entry.path, "row pack", pack, "corrupted")
                        break
                reader.close()  # a remote store's packs are fetched whole: hold one file's at a time
    finally:
        reader.close()
    report.blobs_checked = len(status)
    return report
