"""Adding a version and finding one.

``add`` writes every blob first (files, packs, row lists, the manifest) and only then inserts
the version row, in one transaction: a process killed midway leaves unreferenced blobs and no
version, and the next add reuses those blobs. ``(name, digest)`` is unique, so two processes
adding the same content end up with one version; the loser of that race returns the winner's.
"""

from __future__ import annotations

import gc
import getpass
import mmap
import os
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ondo import aliases
from ondo.aliases.events import all_for
from ondo.blobs import BlobStore, digest_bytes
from ondo.datasets import locations, statcache, statsnap
from ondo.datasets import repository as repo
from ondo.datasets.ingest import ingest_parquet, ingest_text_rows
from ondo.datasets.manifest import SMALL_FILE, FileEntry, Manifest
from ondo.datasets.repository import VersionRow
from ondo.datasets.rows import TEXT_FORMATS, FileBytes
from ondo.datasets.scan import ScannedFile, scan
from ondo.datasets.workers import (
    MIN_PARALLEL_BYTES,
    MIN_PARALLEL_FILES,
    FileChanged,
    can_fork,
    process_pool,
    store_files,
    worker_count,
)
from ondo.errors import InvalidInput, NotFound, OndoError
from ondo.ids import Ref, check_name, parse_ref
from ondo.workspace import Workspace

KIND = "dataset"
_WORKERS = 4
# rel path -> (hashed_at_ns, identity of the file read, its entry or why it failed), on its way
_Early = dict[str, Future[tuple[int, tuple[int, int, int, int], FileEntry | Exception]]]
PACK_BYTES = 32 << 20  # small files per pack (and per worker task)
_manifests: OrderedDict[str, Manifest] = OrderedDict()


def load_manifest(blobs: BlobStore, digest: str) -> Manifest:
    """Manifests never change, so decoded ones are kept (a few, most recent first)."""
    m = _manifests.get(digest)
    if m is None:
        m = Manifest.decode(blobs.get_bytes(digest))
        _manifests[digest] = m
        while len(_manifests) > 8:
            _manifests.popitem(last=False)
    else:
        _manifests.move_to_end(digest)
    return m


def _remember_manifest(digest: str, manifest: Manifest) -> None:
    _manifests[digest] = manifest
    while len(_manifests) > 8:
        _manifests.popitem(last=False)


def _actor() -> str:
    try:
        return os.environ.get("ONDO_USER") or getpass.getuser()
    except Exception:
        return "unknown"


def add(
    ws: Workspace,
    path: str | os.PathLike[str],
    name: str,
    *,
    message: str | None = None,
    skip_bad_rows: bool = False,
) -> tuple[VersionRow, bool]:
    """Add a file or folder as the next version of ``name``; returns (version, created)."""
    check_name(name, "dataset name")
    given = str(path)
    root = Path(path).expanduser().absolute()
    if not root.exists():
        raise InvalidInput(f"no such file or folder: {given}")
    is_dir = root.is_dir()
    ws.blobs.sweep_tmp()  # what adds killed midway left behind
    with ws.read() as conn:
        base_row = repo.latest(conn, name)
    base_manifest = load_manifest(ws.blobs, base_row.digest) if base_row else None
    base = base_manifest.by_path() if base_manifest is not None else {}
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a million rows make a million small objects; collections would rescan them all, often
    ahead = ThreadPoolExecutor(1, thread_name_prefix="ondo-ahead")
    try:
        early = _start_ingests(ws, ahead, root, is_dir, given, base, skip_bad_rows)  # overlaps the listing
        files = scan(root, ws.settings.home)
        if not files:
            raise InvalidInput(f"{given} holds no files to add")
        base_digest = base_row.digest if base_row else None
        out = _add_scanned(
            ws, root, given, name, files, is_dir, base_manifest, base, base_digest, early, message, skip_bad_rows
        )
    except BaseException:
        ahead.shutdown(wait=False, cancel_futures=True)  # Ctrl-C or a failure: do not sit out an ingest
        raise
    else:
        ahead.shutdown(wait=True)
        return out
    finally:
        if gc_was_enabled:
            gc.enable()


_EARLY_FILES = 4  # big changed row files ingested ahead, at most
_EARLY_BYTES = 16 << 20  # smaller files take milliseconds; starting them early gains nothing


def _start_ingests(
    ws: Workspace, ahead: ThreadPoolExecutor, root: Path, is_dir: bool, given: str, base: Mapping[str, FileEntry],
    skip_bad: bool,
) -> _Early:
    """Big row files of the previous version that changed since are ingested at once, in another
    thread, while the folder is listed and checked against the stat cache: on a re-add after a small
    edit of a big file those two are most of the work, and the ingest's comparison with the previous
    version and its file reads let go of the GIL. Found by stat'ing the previous version's paths;
    the listing later takes the result only if it sees the very file that was read."""
    picked: list[tuple[str, str, FileEntry]] = []
    for rel, b in base.items():
        if b.kind != "rows" or b.format not in TEXT_FORMATS or b.size < _EARLY_BYTES or b.layout is None:
            continue  # (a file that did not rebuild exactly is read whole again: nothing to overlap)
        if not is_dir and rel != root.name:
            continue
        picked.append((rel, os.path.join(root, *rel.split("/")) if is_dir else str(root), b))
        if len(picked) >= _EARLY_FILES:
            break
    if not picked:
        return {}
    cache = statcache.lookup_paths(ws, [p for _, p, _ in picked])
    out: _Early = {}
    for rel, path, b in picked:
        try:
            st = os.stat(path)
        except OSError:
            continue  # gone: the listing will not have it either
        c = cache.get(path)
        if c is not None and c.digest_if_fresh(st) == b.digest:
            continue  # unchanged: the listing will say so
        display = os.path.join(given, rel) if is_dir else given
        out[rel] = ahead.submit(_ingest_ahead, ws.blobs, path, rel, b, display, skip_bad)
    return out


def _ingest_ahead(
    blobs: BlobStore, path: str, rel: str, base: FileEntry, display: str, skip_bad: bool
) -> tuple[int, tuple[int, int, int, int], FileEntry | Exception]:
    at = time.time_ns()  # before the bytes are read: what the stat cache's racy check needs
    try:
        data, st = _map_file_stat(path)
    except (OSError, ValueError) as exc:  # gone, emptied or unreadable: left to the add proper
        return at, (0, 0, -1, 0), exc
    assert base.format is not None
    try:  # never forks worker processes: this is not the add's main thread
        entry: FileEntry | Exception = ingest_text_rows(
            blobs, data=data, rel=rel, fmt=base.format, display=display, base=base, skip_bad=skip_bad, parallel=False
        )
        _unchanged_since(path, st, display)
    except Exception as exc:  # raised only if the listing sees this very file; else it is read again
        entry = exc
    finally:
        del data  # the map goes now, not with the future (an error's traceback would keep it)
    return at, _identity(st), entry


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    """What says a file is still the one that was read: the stat cache trusts the same four."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _add_scanned(
    ws: Workspace, root: Path, given: str, name: str, files: list[ScannedFile], is_dir: bool,
    base_manifest: Manifest | None, base: Mapping[str, FileEntry], base_digest: str | None, early: _Early,
    message: str | None, skip_bad_rows: bool,
) -> tuple[VersionRow, bool]:
    home = ws.settings.home
    n = len(files)
    snap = statsnap.load(home, str(root), name) if is_dir and base_digest is not None else None
    final: list[FileEntry | None] = [None] * n  # each file's entry, in listing order
    todo: Sequence[int] = range(n)  # the files still to be looked at
    if snap is not None and base_manifest is not None and snap.version == base_digest:
        found = snap.known(files, base_manifest.files)
        known_at, now = found.hashed_at, found.stats
        if _lines_up(base_manifest, files, found.in_order):
            # the previous version's entries, in this listing's order: the files the snapshot
            # vouches for keep theirs, and only the others are looked at (one or two, after an edit)
            final = list(base_manifest.files)
            todo = np.flatnonzero(~found.ok).tolist()
            known_all: list[str | None] = [None] * n  # (what is vouched for is not looked at)
        else:
            known_all = found.digests(base_manifest.files)
        missing = [files[i].abs for i in todo if known_all[i] is None]
        cache = statcache.lookup_paths(ws, missing) if len(missing) <= 500 else statcache.lookup(ws, str(root), True)
    else:
        cache = statcache.lookup(ws, str(root), is_dir)
        known_all, known_at, now = [None] * n, [-1] * n, None

    at_rel = {files[i].rel: i for i in todo}
    entries: dict[str, FileEntry] = {}  # of the files looked at, by path
    to_cache: list[tuple[str, os.stat_result, str, int]] = []
    to_store: list[ScannedFile] = []
    row_files: list[tuple[ScannedFile, FileEntry | None]] = []
    stored_before: list[tuple[ScannedFile, str]] = []
    for i in todo:
        f = files[i]
        known = known_all[i]
        if known is None and (c := cache.get(f.abs)) is not None:
            known = c.digest_if_fresh(f.st)
            known_at[i] = c.hashed_at_ns if known is not None else -1
        b = base.get(f.rel)
        if known is not None and b is not None and b.digest == known and b.format == f.fmt:
            entries[f.rel] = b  # untouched since the last version: nothing to read
        elif f.fmt is None:
            if known is not None:
                stored_before.append((f, known))
            else:
                to_store.append(f)
        else:
            row_files.append((f, b))
    if stored_before:  # hashed before (e.g. under another dataset name): stored still?
        with ws.read() as conn:
            located = locations.lookup(conn, [d for f, d in stored_before if f.st.st_size <= SMALL_FILE])
        for f, d in stored_before:
            if d in located if f.st.st_size <= SMALL_FILE else ws.blobs.exists(d):
                entries[f.rel] = FileEntry(f.rel, f.st.st_size, d)
            else:
                to_store.append(f)

    new_locations: dict[str, locations.Location] = {}
    pool = _whole_file_pool(ws, to_store)
    try:
        futures = [
            (batch, pool.submit(store_files, ws.blobs.url, [f.abs for f in batch], SMALL_FILE))
            for batch in _batches(to_store)
        ]
        for f, b in row_files:  # meanwhile, in this process
            ahead = early.pop(f.rel, None)
            try:
                done = ahead.result() if ahead is not None else None
            except Exception:
                done = None  # read it here instead
            if done is not None and done[1] == _identity(f.st):  # the file this listing saw
                at, _, got = done
                if isinstance(got, Exception):
                    raise got
                entry = got
            else:  # not started ahead, or replaced or rewritten since: the stat cache must not pair
                # this listing's stat with other bytes, so read it again
                at = time.time_ns()
                display = os.path.join(given, f.rel) if is_dir else given
                entry = _ingest_row_file(ws.blobs, f, b, display, skip_bad_rows)
            entries[f.rel] = entry
            to_cache.append((f.abs, f.st, entry.digest, at))
        for batch, fut in futures:
            try:
                results, pack = fut.result()
            except FileNotFoundError as exc:
                raise InvalidInput("file disappeared while it was being added", file=exc.filename) from None
            except FileChanged as exc:
                rel = next((f.rel for f in batch if f.abs == exc.args[0]), None)
                shown = given if not is_dir else os.path.join(given, rel) if rel is not None else exc.args[0]
                raise InvalidInput("file changed while it was being added; add it again", file=shown) from None
            for f, (digest, size, at, offset) in zip(batch, results, strict=True):
                entries[f.rel] = FileEntry(f.rel, size, digest)
                to_cache.append((f.abs, f.st, digest, at))
                if offset >= 0 and pack is not None:
                    new_locations.setdefault(digest, (pack, offset, size))
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)

    for rel, e in entries.items():
        final[at_rel[rel]] = e
    listed = [e for e in final if e is not None]
    assert len(listed) == n, "every listed file has an entry"
    manifest = Manifest(listed)
    data = manifest.encode(like=base_manifest)
    digest = digest_bytes(data)

    def snapshot() -> None:
        if not is_dir:
            return
        at_abs = {files[i].abs: i for i in todo}
        for p, _, _, at in to_cache:
            known_at[at_abs[p]] = at  # (-1 stays where a file was never trusted)
        statsnap.save(home, str(root), name, digest, files, now, known_at)  # files: in the manifest's order

    unchanged = base_digest is not None and not (to_store or row_files or stored_before) and n == len(base)
    with ws.read() as conn:
        # nothing read, every file the previous version's: that version, even when its manifest is
        # in an older format (whose digest a re-encoding would not give)
        existing = repo.find_digest(conn, name, base_digest if unchanged and base_digest else digest)
    if existing is not None:
        if to_cache or new_locations:

            def remember(conn: sa.Connection) -> None:
                statcache.store(conn, to_cache)
                locations.record(conn, new_locations)

            ws.write(remember)
        digest = existing.digest
        snapshot()
        return existing, False
    ws.blobs.put_bytes(data)
    _remember_manifest(digest, manifest)
    actor = _actor()

    def tx(conn: sa.Connection) -> tuple[VersionRow, bool]:
        found = repo.find_digest(conn, name, digest)
        if found is None:
            row = repo.insert_next(
                conn, name=name, digest=digest, message=message, actor=actor, file_count=len(manifest.files),
                row_count=manifest.row_count, size=manifest.size, bad_rows=manifest.bad_rows,
            )
        statcache.store(conn, to_cache)
        locations.record(conn, new_locations)
        return (found, False) if found is not None else (row, True)

    for _ in range(50):
        try:
            out = ws.write(tx)
            snapshot()
            return out
        except IntegrityError:
            time.sleep(0.01)  # another process inserted this content or this number first: look again
    raise OndoError(f"could not add a version of {name}: too much contention")


def _lines_up(base: Manifest, files: list[ScannedFile], in_order: bool) -> bool:
    """Whether the previous version's entries are this listing's files (``in_order``: path for
    path, as the snapshot found), in the same formats."""
    return in_order and [e.format for e in base.files] == [f.fmt for f in files]


def _whole_file_pool(ws: Workspace, files: list[ScannedFile]) -> Executor:
    """Worker processes for many or large files on a local store; threads otherwise."""
    size = sum(f.st.st_size for f in files)
    if ws.blobs.local and can_fork() and (len(files) >= MIN_PARALLEL_FILES or size >= 4 * MIN_PARALLEL_BYTES):
        return process_pool(worker_count())
    return ThreadPoolExecutor(_WORKERS, thread_name_prefix="ondo-add")


def _batches(files: list[ScannedFile]) -> list[list[ScannedFile]]:
    """Work units for the pool: about PACK_BYTES of small files (one pack each), large files alone."""
    out: list[list[ScannedFile]] = []
    cur: list[ScannedFile] = []
    size = 0
    for f in files:
        if f.st.st_size > SMALL_FILE:
            out.append([f])
            continue
        cur.append(f)
        size += f.st.st_size
        if size >= PACK_BYTES or len(cur) >= 4096:
            out.append(cur)
            cur, size = [], 0
    if cur:
        out.append(cur)
    return out


def _ingest_row_file(
    blobs: BlobStore, f: ScannedFile, base: FileEntry | None, display: str, skip_bad: bool
) -> FileEntry:
    if f.fmt == "parquet":
        return ingest_parquet(blobs, path=f.abs, rel=f.rel, display=display, base=base)
    data: FileBytes
    try:
        # a re-add maps the file (it mostly compares it with the previous version); a first add reads
        # it, so that every step sees one snapshot and a writer truncating it cannot crash the add
        try:
            data, st = _map_file_stat(f.abs) if _readds_rows(f, base) else _read_file_stat(f.abs)
        except ValueError:  # emptied since it was listed: an empty file cannot be mapped
            data, st = _read_file_stat(f.abs)
    except FileNotFoundError:
        raise InvalidInput("file disappeared while it was being added", file=display) from None
    assert f.fmt is not None
    entry = ingest_text_rows(blobs, data=data, rel=f.rel, fmt=f.fmt, display=display, base=base, skip_bad=skip_bad)
    _unchanged_since(f.abs, st, display)
    return entry


def _unchanged_since(path: str, st: os.stat_result, display: str) -> None:
    """Refuse a file written to while it was read: a mapped file's pages can change under the
    ingest, and parts read at different moments would not be one file. Any write changes the
    inode's ctime, which no user can set back."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        now = None
    if now is None or (now.st_ino, now.st_size, now.st_mtime_ns, now.st_ctime_ns) != (
        st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns
    ):
        raise InvalidInput("file changed while it was being added; add it again", file=display)


def _readds_rows(f: ScannedFile, base: FileEntry | None) -> bool:
    """A changed row file of the previous version: mostly compared, not parsed (see ingest._OldBytes)."""
    return base is not None and base.kind == "rows" and base.format == f.fmt and f.st.st_size > 0


def _read_file_stat(path: str) -> tuple[bytes, os.stat_result]:
    """The file's bytes, and the stat of the very file read (taken before reading)."""
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        return fh.read(), st


def _map_file_stat(path: str) -> tuple[mmap.mmap, os.stat_result]:
    """The file's pages from the page cache, without copying them into fresh memory (a re-add reads
    the whole file only to compare it with the previous version, and the copy cost a fifth of the
    re-add), with the stat of the very file mapped."""
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        return mmap.mmap(fh.fileno(), 0, flags=flags, prot=mmap.PROT_READ), st


def resolve(ws: Workspace, ref: str | Ref) -> VersionRow:
    """The version an identifier names: name, name@vN, name/N, name@latest, name@alias, name@sha256:..."""
    r = parse_ref(ref) if isinstance(ref, str) else ref
    text = ref if isinstance(ref, str) else str(ref)
    with ws.read() as conn:
        row: VersionRow | None = None
        if r.version is not None:
            row = repo.find(conn, r.name, r.version)
        elif r.alias is not None:
            v = aliases.current(ws, KIND, r.name, r.alias)
            row = repo.find(conn, r.name, v) if v is not None else None
        elif r.digest is not None:
            found = repo.find_digest_prefix(conn, r.name, r.digest)
            if len(found) > 1:
                raise InvalidInput(
                    f"digest prefix in '{text}' matches {len(found)} versions "
                    f"({', '.join('v' + str(f.version) for f in found)}); give more digits"
                )
            row = found[0] if found else None
        else:
            row = repo.latest(conn, r.name)
        if row is not None:
            return row
        known = repo.versions(conn, r.name)
        if not known:
            raise NotFound("dataset", r.name, repo.names(conn))
    candidates = [f"{r.name}@v{v.version}" for v in known]
    candidates += [f"{r.name}@{a}" for a in all_for(ws, KIND, r.name)]
    raise NotFound("dataset version", text, candidates)
