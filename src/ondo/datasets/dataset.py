"""DatasetVersion: one immutable version, readable as rows, a DataFrame, an HF dataset or files.

Every read goes through ``_read_hook`` so that, inside an active run, the version is recorded
as an input of the run (lineage) without the caller doing anything.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

from ondo.datasets import checkout as checkout_mod
from ondo.datasets import lineage, locations
from ondo.datasets import profile as profile_mod
from ondo.datasets import repository as repo
from ondo.datasets.manifest import FileEntry, Manifest
from ondo.datasets.packs import PackReader, load_rows
from ondo.datasets.repository import VersionRow
from ondo.datasets.rows import DIALECTS, decode_row
from ondo.datasets.versions import load_manifest
from ondo.errors import InvalidInput
from ondo.workspace import Workspace


class DatasetVersion:
    """A dataset version. ``created`` is True when ``add`` made it, False when it already existed."""

    def __init__(self, ws: Workspace, row: VersionRow, *, created: bool = False) -> None:
        self._ws = ws
        self._row = row
        self.created = created
        self._recorded: set[str] = set()

    # -- identity ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._row.name

    @property
    def version(self) -> int:
        return self._row.version

    @property
    def digest(self) -> str:
        return self._row.digest

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"

    @property
    def message(self) -> str | None:
        return self._row.message

    @property
    def created_at(self) -> float:
        return self._row.created_at

    @property
    def actor(self) -> str | None:
        return self._row.actor

    @property
    def row_count(self) -> int:
        return self._row.row_count

    @property
    def file_count(self) -> int:
        return self._row.file_count

    @property
    def size(self) -> int:
        return self._row.size

    @property
    def bad_rows(self) -> int:
        return self._row.bad_rows

    def __repr__(self) -> str:
        return f"DatasetVersion({self.ref}, {self.digest[:19]}, rows={self.row_count}, files={self.file_count})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DatasetVersion) and (self.name, self.version, self.digest) == (
            other.name, other.version, other.digest,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.version, self.digest))

    # -- content ----------------------------------------------------------------------------
    @cached_property
    def manifest(self) -> Manifest:
        return load_manifest(self._ws.blobs, self.digest)

    @property
    def files(self) -> list[FileEntry]:
        return list(self.manifest.files)

    @property
    def columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for f in self.manifest.files:
            seen.update(dict.fromkeys(f.columns))
        return list(seen)

    @property
    def profile(self) -> dict[str, Any]:
        """Statistics of this version, computed on first use and stored with it."""
        if self._row.profile is None:
            prof = profile_mod.compute(self._ws.blobs, self.manifest)
            row_id = self._row.id
            self._ws.write(lambda conn: repo.set_profile(conn, row_id, prof))
            self._row = replace(self._row, profile=prof)
        assert self._row.profile is not None
        return self._row.profile

    def _read_hook(self) -> None:
        lineage.record_read(self.name, self.version, self.digest, self._recorded)

    def _row_files(self) -> list[FileEntry]:
        files = [f for f in self.manifest.files if f.kind == "rows" and f.rows]
        if not files:
            raise InvalidInput(f"{self.ref} has no row files (JSONL, CSV, TSV or Parquet); use .path() for its files")
        return files

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every row as a dict, file by file in path order (CSV/TSV values are strings)."""
        self._read_hook()
        files = self._row_files()
        with PackReader(self._ws.blobs) as reader:
            for f in files:
                assert f.rows is not None and f.format is not None
                rl = load_rows(self._ws.blobs, f.rows)
                for raw in reader.rows(rl):
                    yield decode_row(raw, f.format, f.columns)

    def to_pandas(self) -> Any:
        """All row files as one DataFrame (CSV/TSV parsed by pandas, so numbers become numbers)."""
        import pandas as pd

        self._read_hook()
        frames = []
        with PackReader(self._ws.blobs) as reader:
            for f in self._row_files():
                frames.append(self._frame(pd, f, reader))
        if len(frames) == 1:
            return frames[0]
        return pd.concat(frames, ignore_index=True)

    def _frame(self, pd: Any, f: FileEntry, reader: PackReader) -> Any:
        assert f.rows is not None and f.format is not None
        rl = load_rows(self._ws.blobs, f.rows)
        if f.format == "parquet":
            blob = self._ws.blobs
            return pd.read_parquet(blob.path_of(f.digest) if blob.local else io.BytesIO(blob.get_bytes(f.digest)))
        if f.format == "jsonl":
            return pd.DataFrame.from_records([json.loads(r) for r in reader.rows(rl)], columns=None)
        dialect = DIALECTS[f.format]
        if dialect.quoted:
            head = io.StringIO()
            csv.writer(head, delimiter=dialect.delimiter, lineterminator="\n").writerow(f.columns)
            header = head.getvalue().encode()
        else:
            header = (dialect.delimiter.join(f.columns) + "\n").encode()
        body = header + b"\n".join(reader.rows(rl))
        return pd.read_csv(
            io.BytesIO(body), sep=dialect.delimiter, quoting=csv.QUOTE_MINIMAL if dialect.quoted else csv.QUOTE_NONE
        )

    def to_hf_dataset(self) -> Any:
        """A ``datasets.Dataset`` with the rows of this version."""
        import datasets

        return datasets.Dataset.from_pandas(self.to_pandas(), preserve_index=False)

    def _located(self) -> dict[str, locations.Location]:
        with self._ws.read() as conn:
            return locations.lookup(conn, [f.digest for f in self.manifest.files if f.packed])

    def checkout(self, dest: str | os.PathLike[str]) -> checkout_mod.CheckoutResult:
        self._read_hook()
        return checkout_mod.checkout(self._ws.blobs, self.manifest, dest, self._located())

    def path(self) -> Path:
        """A folder holding this version's files (materialized once into the ondo cache)."""
        self._read_hook()
        target = self._ws.settings.home / "cache" / "datasets" / self.digest.removeprefix("sha256:")
        if target.is_dir():
            return target
        tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
        try:
            checkout_mod.checkout(self._ws.blobs, self.manifest, tmp, self._located())
            try:
                os.replace(tmp, target)
            except OSError:
                if not target.is_dir():  # another process finished first otherwise
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return target

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "digest": self.digest,
            "message": self.message,
            "actor": self.actor,
            "created_at": self.created_at,
            "files": self.file_count,
            "rows": self.row_count,
            "size": self.size,
            "bad_rows": self.bad_rows,
        }
