"""Tracking ingest and read benchmark: ondo vs MLflow on SQLite (issue 2, "Speed").

    .venv/bin/python -m pip install -r benchmarks/requirements.txt
    .venv/bin/python benchmarks/tracking_ingest.py            # full run (builds a 10M-point table)
    .venv/bin/python benchmarks/tracking_ingest.py --quick    # smaller sizes, for a smoke test

Every section uses a fresh temporary store. Sections:
1. ondo ingest: 100,000 points (10 keys x 10,000 steps) through ``run.log_metrics`` (one call per
   step) and through ``run.log_metric`` (one call per point), timed until flushed to SQLite.
2. MLflow, sqlite backend: ``mlflow.log_metric`` per point (a subset, extrapolated: it is slow),
   and ``MlflowClient.log_batch`` in batches of 1,000 for all 100,000 points.
3. ``get_metric_history(run, key, max_points=1000)`` over a 10,000-step history with 10 million
   points in the metrics table (built with bulk inserts, not through the API).
4. The first page (50) of 10,000 runs sorted by a metric.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from ondo.config import Settings
from ondo.workspace import Workspace


def fresh_workspace(root: Path) -> Workspace:
    home = root / "ondo-home"
    return Workspace(
        Settings(home=home, store_url=f"sqlite:///{home / 'ondo.db'}", artifacts_url=str(home / "blobs"))
    )


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(first call, median of the following ``repeat`` calls) in seconds."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return first, statistics.median(times)


# -- 1. ondo ingest -----------------------------------------------------------------------------
def ondo_ingest(keys: int, steps: int, per_point: bool) -> tuple[float, float]:
    """(points per wall second, points per CPU second of this process): the second is what one free
    core sustains, whatever else the machine is running."""
    import ondo

    with tempfile.TemporaryDirectory() as tmp:
        ws = fresh_workspace(Path(tmp))
        names = [f"metric_{k}" for k in range(keys)]
        with ondo.start_run(experiment="bench", workspace=ws) as run:
            t = time.perf_counter()
            c = time.process_time()
            if per_point:
                for step in range(steps):
                    for k in names:
                        run.log_metric(k, step * 1e-3, step=step)
            else:
                for step in range(steps):
                    run.log_metrics({k: step * 1e-3 for k in names}, step=step)
            run.flush()
            elapsed = time.perf_counter() - t
            cpu = time.process_time() - c
        with ws.read() as conn:
            n = conn.exec_driver_sql("SELECT count(*) FROM metrics").scalar()
        assert n == keys * steps, n
        ws.close()
    return keys * steps / elapsed, keys * steps / cpu


# -- 2. MLflow ------------------------------------------------------------------------------------
def mlflow_per_point(keys: int, points: int) -> float:
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        mlflow.set_experiment("bench")
        with mlflow.start_run():
            t = time.perf_counter()
            for i in range(points):
                mlflow.log_metric(f"metric_{i % keys}", i * 1e-3, step=i // keys)
            elapsed = time.perf_counter() - t
    return points / elapsed


def mlflow_log_batch(keys: int, steps: int, batch: int) -> float:
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        client = MlflowClient()
        exp = client.create_experiment("bench")
        run = client.create_run(exp)
        now = int(time.time() * 1000)
        points = [Metric(f"metric_{k}", step * 1e-3, now, step) for step in range(steps) for k in range(keys)]
        t = time.perf_counter()
        for start in range(0, len(points), batch):
            client.log_batch(run.info.run_id, metrics=points[start : start + batch])
        elapsed = time.perf_counter() - t
        client.set_terminated(run.info.run_id)
    return len(points) / elapsed


# -- 3. history downsampling with a big table -----------------------------------------------------
def build_metrics_table(ws: Workspace, total: int, steps: int) -> tuple[str, float]:
    """Fill ``metrics`` with ``total`` points; one run has a ``steps``-long 'loss'. Returns (run id, seconds)."""
    import ondo

    with ondo.start_run(experiment="history", workspace=ws) as target:
        pass
    t = time.perf_counter()
    raw = ws.engine.raw_connection()
    cur = raw.cursor()
    cur.execute("DROP INDEX ix_metrics_run_key_step")  # bulk load first, index once, like a restore
    cur.execute("BEGIN")
    ts = time.time()
    rows_target = [(target.id, "loss", s, 1.0 / (s + 1), ts + s, 0) for s in range(steps)]
    cur.executemany(
        "INSERT INTO metrics (run_id, key, step, value, timestamp, flag) VALUES (?, ?, ?, ?, ?, ?)",
        rows_target,
    )
    other_runs = [uuid.uuid4().hex for _ in range(1000)]
    per_chunk = 200_000
    left = total - steps
    rnd = random.Random(0)
    while left > 0:
        n = min(per_chunk, left)
        chunk = [
            (other_runs[i % 1000], f"metric_{i % 10}", i // 10_000, rnd.random(), ts, 0)
            for i in range(left - n, left)
        ]
        cur.executemany(
            "INSERT INTO metrics (run_id, key, step, value, timestamp, flag) VALUES (?, ?, ?, ?, ?, ?)", chunk
        )
        left -= n
    cur.execute("CREATE INDEX ix_metrics_run_key_step ON metrics (run_id, key, step)")
    cur.execute("COMMIT")
    cur.execute("ANALYZE")
    raw.close()
    return target.id, time.perf_counter() - t


def history_bench(total: int, steps: int, repeat: int) -> dict[str, float]:
    from ondo.tracking.history import get_metric_history

    with tempfile.TemporaryDirectory() as tmp:
        ws = fresh_workspace(Path(tmp))
        run_id, build = build_metrics_table(ws, total, steps)
        with ws.read() as conn:
            n = conn.exec_driver_sql("SELECT count(*) FROM metrics").scalar()
        pts = get_metric_history(ws, run_id, "loss", max_points=1000)
        assert len(pts) == 1000 and pts[0].step == 0 and pts[-1].step == steps - 1, (
            len(pts),
            pts[0],
            pts[-1],
        )
        first, median = timed(lambda: get_metric_history(ws, run_id, "loss", max_points=1000), repeat)
        ws.close()
    return {"rows": float(n or 0), "build_s": build, "first_ms": first * 1e3, "median_ms": median * 1e3}


# -- 4. runs sorted by a metric -------------------------------------------------------------------
def runs_bench(n_runs: int, repeat: int) -> dict[str, float]:
    from ondo.store.tables.core import experiments, latest_metrics, params, runs
    from ondo.tracking.search import search_runs

    with tempfile.TemporaryDirectory() as tmp:
        ws = fresh_workspace(Path(tmp))
        exp_id = uuid.uuid4().hex
        now = time.time()
        rnd = random.Random(0)
        ids = [uuid.uuid4().hex for _ in range(n_runs)]

        def fill(conn: sa.Connection) -> None:
            conn.execute(experiments.insert().values(id=exp_id, name="many", created_at=now))
            conn.execute(
                runs.insert(),
                [
                    {"id": r, "experiment_id": exp_id, "name": f"run-{i}", "status": "finished",
                     "start_time": now + i, "end_time": now + i + 1, "deleted": False}
                    for i, r in enumerate(ids)
                ],
            )  # fmt: skip
            conn.execute(
                latest_metrics.insert(),
                [
                    {"run_id": r, "key": k, "step": 100, "value": rnd.random(), "timestamp": now, "flag": 0}
                    for r in ids
                    for k in ("acc", "loss", "rouge_l")
                ],
            )
            conn.execute(
                params.insert(),
                [
                    {"run_id": r, "key": k, "value": str(rnd.choice([1e-3, 3e-4]))}
                    for r in ids
                    for k in ("lr",)
                ],
            )

        ws.write(fill)
        with ws.read() as conn:
            conn.exec_driver_sql("ANALYZE")
        page = search_runs(ws, experiment="many", order_by=["metrics.acc DESC"], page_size=50)
        accs = [r.metrics["acc"] for r in page]
        assert len(page) == 50 and accs == sorted(accs, reverse=True)
        first, median = timed(
            lambda: search_runs(ws, experiment="many", order_by=["metrics.acc DESC"], page_size=50), repeat
        )
        _, f_median = timed(
            lambda: search_runs(
                ws, experiment="many", filter="metrics.loss < 0.5 AND params.lr = '3e-4'",
                order_by=["metrics.acc DESC"], page_size=50,
            ),
            repeat,
        )  # fmt: skip
        ws.close()
    return {"first_ms": first * 1e3, "median_ms": median * 1e3, "filtered_median_ms": f_median * 1e3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=10)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--mlflow-per-point", type=int, default=1000, help="points timed with mlflow.log_metric")
    ap.add_argument("--batch", type=int, default=1000, help="MlflowClient.log_batch size")
    ap.add_argument("--history-rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--skip-mlflow", action="store_true")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test of the script")
    ap.add_argument("--json", type=Path, help="also write the results here")
    a = ap.parse_args()
    if a.quick:
        a.steps, a.mlflow_per_point, a.history_rows, a.runs, a.repeat = 1000, 100, 200_000, 1000, 3
    total = a.keys * a.steps
    out: dict[str, object] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "points": total,
    }
    print(f"ondo tracking benchmark: {total:,} points ({a.keys} keys x {a.steps:,} steps), SQLite, "
          f"python {out['python']}, {out['cpus']} cpus, load {out['load_avg_1m']:.1f}")  # fmt: skip

    step_runs = [ondo_ingest(a.keys, a.steps, per_point=False) for _ in range(3)]
    point_runs = [ondo_ingest(a.keys, a.steps, per_point=True) for _ in range(3)]
    ondo_step, ondo_point = max(r[0] for r in step_runs), max(r[0] for r in point_runs)
    cpu_step, cpu_point = max(r[1] for r in step_runs), max(r[1] for r in point_runs)
    out.update(
        ondo_log_metrics_pts_s=ondo_step,
        ondo_log_metric_pts_s=ondo_point,
        ondo_log_metrics_pts_per_cpu_s=cpu_step,
        ondo_log_metric_pts_per_cpu_s=cpu_point,
    )
    print(f"  ondo   run.log_metrics (1 call/step, best of 3)   {ondo_step:>12,.0f} points/s "
          f"({cpu_step:,.0f} per CPU second)")  # fmt: skip
    print(f"  ondo   run.log_metric  (1 call/point, best of 3)  {ondo_point:>12,.0f} points/s "
          f"({cpu_point:,.0f} per CPU second)")  # fmt: skip

    if not a.skip_mlflow:
        import logging

        logging.getLogger("mlflow").setLevel(logging.WARNING)
        import mlflow

        out["mlflow_version"] = mlflow.__version__
        per_point = mlflow_per_point(a.keys, a.mlflow_per_point)
        batch = mlflow_log_batch(a.keys, a.steps, a.batch)
        out["mlflow_log_metric_pts_s"] = per_point
        out["mlflow_log_metric_points_timed"] = a.mlflow_per_point
        out["mlflow_log_batch_pts_s"] = batch
        print(f"  mlflow {mlflow.__version__} log_metric per point      {per_point:>12,.0f} points/s "
              f"(timed {a.mlflow_per_point:,} points, extrapolated: {total / per_point:,.0f} s for {total:,})")  # fmt: skip
        print(f"  mlflow log_batch ({a.batch:,}/batch)              {batch:>12,.0f} points/s")
        print(f"  ratio  ondo log_metrics / mlflow log_batch       {ondo_step / batch:>12,.1f}x")
        print(f"  ratio  ondo log_metric  / mlflow log_batch       {ondo_point / batch:>12,.1f}x")
        print(f"  ratio  ondo log_metric  / mlflow log_metric      {ondo_point / per_point:>12,.0f}x")
        out["ratio_vs_log_batch"] = ondo_step / batch
        out["ratio_per_point_vs_log_batch"] = ondo_point / batch
        out["ratio_per_point_vs_per_point"] = ondo_point / per_point

    h = history_bench(a.history_rows, a.steps, a.repeat)
    out["history"] = h
    print(f"  history: {a.steps:,}-step series -> 1,000 points with {h['rows']:,.0f} rows in metrics: "
          f"first {h['first_ms']:.1f} ms, median {h['median_ms']:.1f} ms (table built in {h['build_s']:.0f} s)")  # fmt: skip

    r = runs_bench(a.runs, a.repeat)
    out["runs_sorted"] = r
    print(f"  search: first page (50) of {a.runs:,} runs by metrics.acc DESC: first {r['first_ms']:.1f} ms, "
          f"median {r['median_ms']:.1f} ms; with a metric+param filter: median {r['filtered_median_ms']:.1f} ms")  # fmt: skip
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
