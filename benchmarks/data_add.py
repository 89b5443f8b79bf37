"""Benchmark: `ondo data add` against `dvc add` on many small files plus one large JSONL.

Generates 1 GB in 10,000 files and a 1,000,000-row JSONL (``--scale`` shrinks all three), adds
the folder with ondo (library call, workspace opened beforehand) and with ``dvc add`` (a
subprocess in a fresh git + dvc repo), then changes one row of the JSONL and adds again with
both. Each tool gets its own copy of the data, so neither sees the other's side effects (dvc
re-links workspace files into its cache). Dirty pages are flushed (``sync``) before every timed
step, so neither tool pays for the other's (or the generator's) writes. Prints times, ratios and
the bytes each stored anew.

Noise. On a virtual machine whose balloon driver hands freed memory back to the host
(virtio-balloon free page reporting, as on this project's machines; DAMON reclaims idle page
cache there too), touching memory again is slow at times: writing 1.2 GB took 2.7-3.3 s right
after a pause and 0.3-0.6 s when the same memory had been used a moment before. Both tools write
about 1.2 GB, so one run measures the host as much as the tool. The pair of runs is therefore
repeated (``--repeat``, fresh copies of the data each time, the tools in turns) and the report
gives each run and the medians.

    .venv/bin/python benchmarks/data_add.py              # full size, three rounds
    .venv/bin/python benchmarks/data_add.py --scale 0.01 # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FILES = 10_000
TOTAL_BYTES = 1_000_000_000
ROWS = 1_000_000
_WORDS_EN = ["the", "model", "answers", "each", "question", "with", "a", "short", "explanation", "and", "a", "final", "label"]
_WORDS_KO = ["모델은", "각", "질문에", "짧은", "설명과", "최종", "답을", "함께", "제시한다"]


def generate(root: Path, scale: float, seed: int = 0) -> dict[str, Any]:
    rng = random.Random(seed)
    n_files = max(1, round(FILES * scale))
    size = TOTAL_BYTES // FILES
    files = root / "files"
    for i in range(n_files):
        d = files / f"d{i // 100:03d}"
        if i % 100 == 0:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}.bin").write_bytes(rng.randbytes(size))
    n_rows = max(1, round(ROWS * scale))
    with open(root / "rows.jsonl", "w", encoding="utf-8") as f:
        for i in range(n_rows):
            words = _WORDS_KO if i % 5 == 0 else _WORDS_EN
            q = " ".join(rng.choice(words) for _ in range(12))
            a = " ".join(rng.choice(words) for _ in range(8))
            f.write(json.dumps({"id": i, "question": q, "answer": a, "score": rng.random()}, ensure_ascii=False))
            f.write("\n")
    return {"files": n_files, "file_bytes": n_files * size, "rows": n_rows,
            "jsonl_bytes": (root / "rows.jsonl").stat().st_size}


def change_one_row(path: Path) -> None:
    """Rewrite the JSONL with the middle row's answer edited (the file gets a new mtime and size)."""
    lines = path.read_bytes().split(b"\n")
    mid = (len(lines) - 1) // 2
    row = json.loads(lines[mid])
    row["answer"] = "edited by the benchmark"
    lines[mid] = json.dumps(row, ensure_ascii=False).encode()
    path.write_bytes(b"\n".join(lines))


def write_floor(folder: Path, nbytes: int) -> float:
    """Seconds to write ``nbytes`` to one new file here: what storing a copy costs at the least on this disk."""
    buf = random.Random(1).randbytes(64 << 20)
    target = folder / "floor.bin"
    os.sync()
    t = time.perf_counter()
    with open(target, "wb") as f:
        left = nbytes
        while left > 0:
            f.write(buf[: min(left, len(buf))])
            left -= len(buf)
    took = time.perf_counter() - t
    target.unlink()
    return took


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (ondo's workers, dvc)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one command."""
    c, t = cpu_seconds(), time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t, cpu_seconds() - c


def bench_ondo(data: Path, home: Path) -> dict[str, Any]:
    os.environ["ONDO_HOME"] = str(home)
    os.environ.pop("ONDO_STORE_URL", None)
    os.environ.pop("ONDO_ARTIFACTS_URL", None)
    import ondo
    from ondo.datasets.packs import RowList, load_rows
    from ondo.workspace import Workspace, reset_default_cache

    reset_default_cache()
    ws = Workspace.default()  # store created and migrated before timing, as `dvc init` is for dvc
    blobs = Path(ws.blobs.root)
    os.sync()
    c, t = cpu_seconds(), time.perf_counter()
    v1 = ondo.data.add(data, name="bench")
    first = time.perf_counter() - t
    first_cpu = cpu_seconds() - c
    stored_first = tree_bytes(blobs)
    time.sleep(0.2)  # past the stat cache's racy window for files written just before
    change_one_row(data / "rows.jsonl")
    os.sync()
    t = time.perf_counter()
    v2 = ondo.data.add(data, name="bench")
    readd = time.perf_counter() - t
    stored_new = tree_bytes(blobs) - stored_first

    def packs(v: Any) -> tuple[RowList, set[str]]:
        entry = v.manifest.by_path()["rows.jsonl"]
        rl = load_rows(ws.blobs, entry.rows)
        return rl, set(rl.packs)

    rl2, _ = packs(v2)
    _, packs1 = packs(v1)
    fresh = [i for i, d in enumerate(rl2.packs) if d not in packs1]
    new_rows = int(sum((rl2.pack_idx == i).sum() for i in fresh))
    return {"first_s": first, "first_cpu_s": first_cpu, "readd_s": readd, "stored_first_bytes": stored_first,
            "stored_new_bytes": stored_new,
            "new_rows_stored": new_rows, "versions": [v1.version, v2.version], "rows": v2.row_count,
            "new_packs": len(fresh)}


def bench_dvc(data: Path, repo: Path) -> dict[str, Any]:
    dvc = shutil.which("dvc", path=str(Path(sys.executable).parent)) or shutil.which("dvc")
    if dvc is None:
        raise SystemExit("dvc is not installed: pip install -r benchmarks/requirements.txt")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATE_CHECK": "1", "GIT_AUTHOR_NAME": "bench",
           "GIT_AUTHOR_EMAIL": "bench@example.com"}
    subprocess.run(["git", "init", "-q"], cwd=repo, env=env, check=True)
    subprocess.run([dvc, "init", "-q"], cwd=repo, env=env, check=True)
    subprocess.run([dvc, "config", "core.autostage", "false"], cwd=repo, env=env, check=True)
    cache = repo / ".dvc" / "cache"
    os.sync()
    first, first_cpu = run([dvc, "add", "-q", data.name], repo, env)
    stored_first = tree_bytes(cache)
    change_one_row(data / "rows.jsonl")
    os.sync()
    readd, _ = run([dvc, "add", "-q", data.name], repo, env)
    return {"first_s": first, "first_cpu_s": first_cpu, "readd_s": readd, "stored_first_bytes": stored_first,
            "stored_new_bytes": tree_bytes(cache) - stored_first,
            "version": subprocess.run([dvc, "--version"], capture_output=True, text=True).stdout.strip()}


def bench_round(master: Path, folder: Path, skip_dvc: bool) -> dict[str, Any]:
    """ondo then dvc, each on its own fresh copy of the generated data."""
    ondo_data = folder / "ondo" / "data"
    shutil.copytree(master, ondo_data)
    o = bench_ondo(ondo_data, folder / "ondo" / "home")
    print(f"  ondo: {o}", flush=True)
    d = None
    if not skip_dvc:
        repo = folder / "dvc-repo"
        repo.mkdir()
        shutil.copytree(master, repo / "data")
        d = bench_dvc(repo / "data", repo)
        print(f"  dvc: {d}", flush=True)
    floor = write_floor(folder, o["stored_first_bytes"])
    shutil.rmtree(folder, ignore_errors=True)
    out: dict[str, Any] = {"ondo": o, "dvc": d, "write_floor_s": floor,
                           "ondo_readd_fraction_of_first": o["readd_s"] / o["first_s"]}
    if d:
        out["first_add_speedup_vs_dvc"] = d["first_s"] / o["first_s"]
        out["readd_speedup_vs_dvc"] = d["readd_s"] / o["readd_s"]
    return out


def print_rounds(rounds: list[dict[str, Any]]) -> dict[str, float]:
    """A line per round and the medians; returns the medians."""
    med: dict[str, float] = {}
    cols = [("ondo first add (s)", lambda r: r["ondo"]["first_s"]),
            ("dvc first add (s)", lambda r: r["dvc"]["first_s"] if r["dvc"] else float("nan")),
            ("ondo / dvc", lambda r: r.get("first_add_speedup_vs_dvc", float("nan"))),
            ("ondo first add CPU (s)", lambda r: r["ondo"]["first_cpu_s"]),
            ("dvc first add CPU (s)", lambda r: r["dvc"]["first_cpu_s"] if r["dvc"] else float("nan")),
            ("ondo re-add (s)", lambda r: r["ondo"]["readd_s"]),
            ("re-add / first add (%)", lambda r: 100 * r["ondo_readd_fraction_of_first"]),
            ("dvc re-add (s)", lambda r: r["dvc"]["readd_s"] if r["dvc"] else float("nan")),
            ("write its bytes (s)", lambda r: r["write_floor_s"])]
    print()
    print(f"{'round':8}" + "".join(f"{name:>24}" for name, _ in cols))
    for i, r in enumerate(rounds, 1):
        print(f"{i:<8}" + "".join(f"{get(r):>24.3f}" for _, get in cols))
    for name, get in cols:
        med[name] = statistics.median(get(r) for r in rounds)
    print(f"{'median':8}" + "".join(f"{med[name]:>24.3f}" for name, _ in cols))
    o, d = rounds[-1]["ondo"], rounds[-1]["dvc"]
    print(f"stored by the re-add: ondo {o['stored_new_bytes']:,} B (new rows stored: {o['new_rows_stored']}), "
          f"dvc {d['stored_new_bytes']:,} B" if d else f"stored by the re-add: ondo {o['stored_new_bytes']:,} B")
    if d:
        print(f"first add: ondo is {med['ondo / dvc']:.1f}x faster than dvc, median of rounds (target >= 3x)")
    print(f"ondo re-add took {med['re-add / first add (%)']:.1f}% of its first add, median (target < 5%)")
    return med


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (1 GB, 10k files, 1M rows)")
    ap.add_argument("--workdir", default=None, help="where to put the temporary data (default: system temp)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of (ondo, dvc) on fresh copies (see above)")
    ap.add_argument("--skip-dvc", action="store_true", help="time ondo only")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ondo-bench-data-", dir=args.workdir))
    try:
        master = tmp / "generated"
        master.mkdir()
        t = time.perf_counter()
        shape = generate(master, args.scale)
        print(f"generated {shape} in {time.perf_counter() - t:.1f}s", flush=True)
        rounds = []
        for i in range(max(1, args.repeat)):
            print(f"round {i + 1}:", flush=True)
            rounds.append(bench_round(master, tmp / f"round{i + 1}", args.skip_dvc))
        medians = print_rounds(rounds)
        report = {"scale": args.scale, "shape": shape, "rounds": rounds, "medians": medians,
                  "cpus": os.cpu_count(), "python": sys.version.split()[0], "load_average": os.getloadavg()}
        print(json.dumps(report))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
