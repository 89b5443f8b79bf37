"""Killed adds leave no version; concurrent adds of the same content make one version and no stray blobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from dataset_files import blob_digests, write_jsonl

import ondo
from ondo.datasets import locations
from ondo.datasets.packs import referenced_blobs
from ondo.workspace import Workspace

# Runs an add in a child process; PAUSE names the point where it stops to wait for SIGKILL.
_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import ondo
    from ondo.datasets import repository, versions

    folder, flag, pause = sys.argv[1], Path(sys.argv[2]), sys.argv[3]

    def stop(orig):
        def wrapped(*a, **k):
            result = orig(*a, **k)
            flag.write_text("ready")
            time.sleep(600)
            return result
        return wrapped

    if pause == "before-commit":
        orig_insert = repository.insert_next
        def insert(*a, **k):
            flag.write_text("ready")
            time.sleep(600)
            return orig_insert(*a, **k)
        repository.insert_next = insert
    else:  # after the first row file is stored, before the whole files finish
        versions.ingest_text_rows = stop(versions.ingest_text_rows)
    ondo.data.add(folder, name="killed")
    """
)


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    write_jsonl(folder / "a.jsonl", ({"i": i, "t": "x" * (i % 50)} for i in range(4000)))
    write_jsonl(folder / "b.jsonl", ({"j": i} for i in range(100)))
    for i in range(30):
        (folder / f"f{i:02d}.bin").write_bytes(os.urandom(20_000))
    return folder


def _referenced(ws: Workspace, v: ondo.data.DatasetVersion) -> set[str]:
    refs = {v.digest}
    with ws.read() as conn:
        where = locations.lookup(conn, [f.digest for f in v.files if f.packed])
    for f in v.files:
        if f.packed:
            refs.add(where[f.digest][0])
        elif f.stored_whole:
            refs.add(f.digest)
        if f.rows:
            refs.update(referenced_blobs(ws.blobs, f.rows))
    return refs


@pytest.mark.parametrize("pause", ["mid-ingest", "before-commit"])
def test_kill_9_midway_leaves_no_version(ws: Workspace, tmp_path: Path, pause: str) -> None:
    folder = _folder(tmp_path)
    flag = tmp_path / "flag"
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(folder), str(flag), pause])
    try:
        deadline = time.time() + 120
        while not flag.exists():
            assert proc.poll() is None, "the child add ended before reaching the kill point"
            assert time.time() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert blob_digests(ws)  # it had written blobs...
    assert ondo.data.list() == []  # ...but no version
    v = ondo.data.add(folder, name="killed")
    assert (v.version, v.created) == (1, True)
    out = tmp_path / "out"
    v.checkout(out)
    for f in folder.iterdir():
        assert (out / f.name).read_bytes() == f.read_bytes()
    assert ondo.data.verify().ok


def test_concurrent_adds_of_same_content_make_one_version(ws: Workspace, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    ondo.data.add(folder / "b.jsonl", name="warmup")  # the store exists before the race
    go = tmp_path / "go"
    child = textwrap.dedent(
        """
        import json, sys, time
        from pathlib import Path
        import ondo
        from ondo.workspace import Workspace
        Workspace.default()  # open the store first: the race under test is the add itself
        go = Path(sys.argv[2])
        while not go.exists():
            time.sleep(0.005)
        v = ondo.data.add(sys.argv[1], name="race")
        print(json.dumps({"version": v.version, "digest": v.digest, "created": v.created}))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", child, str(folder), str(go)], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    time.sleep(1.5)  # let every child import ondo and wait at the gate
    go.write_text("go")
    outs = [p.communicate(timeout=180)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    import json

    results = [json.loads(o.strip().splitlines()[-1]) for o in outs]
    assert {(r["version"], r["digest"]) for r in results} == {(1, results[0]["digest"])}
    assert sum(r["created"] for r in results) == 1
    [v] = ondo.data.versions_of("race")
    # every blob in the store belongs to a version: no duplicate packs, no leftovers
    warm = ondo.data.get("warmup@v1")
    assert blob_digests(ws) == _referenced(ws, v) | _referenced(ws, warm)
    tmp_dir = Path(ws.blobs.root) / "tmp"
    assert not tmp_dir.exists() or list(tmp_dir.iterdir()) == []


def test_temporary_files_of_a_killed_add_are_swept_later(ws: Workspace, tmp_path: Path) -> None:
    """A writer killed midway leaves its temporary blob file; a later add removes it once it is an hour
    old, and leaves a younger one (a live writer's) alone."""
    tmp_dir = Path(ws.blobs.local_tmp()).parent
    old, young = tmp_dir / "left-by-a-killed-add", tmp_dir / "being-written"
    old.write_bytes(b"x" * 1000)
    young.write_bytes(b"y")
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    src = tmp_path / "a.jsonl"
    src.write_text('{"a": 1}\n')
    ondo.data.add(src, name="sweep")
    assert not old.exists() and young.exists()
