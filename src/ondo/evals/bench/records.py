"""Reading and writing benchmark results: per-task rows and per-item records (the evals tables)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

import sqlalchemy as sa

from ondo.errors import NotFound
from ondo.store.tables.evals import eval_bench_items, eval_bench_tasks
from ondo.workspace import Workspace

_BATCH = 500


def _finite(v: Any) -> Any:
    """JSON columns cannot hold NaN/inf portably; store them as None."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_finite(x) for x in v]
    return v


def save_task(
    ws: Workspace,
    run_id: str,
    task: str,
    *,
    metrics: Mapping[str, float],
    n_items: int,
    n_skipped: int = 0,
    num_fewshot: int = 0,
    group: str | None = None,
    is_group: bool = False,
    config: Mapping[str, Any] | None = None,
) -> None:
    row = {
        "run_id": run_id,
        "task": task,
        "group_name": group,
        "is_group": is_group,
        "n_items": n_items,
        "n_skipped": n_skipped,
        "num_fewshot": num_fewshot,
        "metrics": _finite(dict(metrics)),
        "config": _finite(dict(config or {})),
        "created_at": time.time(),
    }

    def _write(conn: sa.Connection) -> None:
        conn.execute(
            sa.delete(eval_bench_tasks).where(
                eval_bench_tasks.c.run_id == run_id, eval_bench_tasks.c.task == task
            )
        )
        conn.execute(sa.insert(eval_bench_tasks), [row])

    ws.write(_write)


def save_items(ws: Workspace, run_id: str, task: str, items: Sequence[Mapping[str, Any]]) -> None:
    """Replace the task's item rows for this run (a resumed run writes them again)."""
    rows = [
        {
            "run_id": run_id,
            "task": task,
            "doc_id": int(it["doc_id"]),
            "source_line": it.get("source_line"),
            "prompt": it["prompt"],
            "choices": it.get("choices"),
            "loglikelihoods": _finite(it.get("loglikelihoods")),
            "is_greedy": it.get("is_greedy"),
            "output": it.get("output"),
            "prediction": None if it.get("prediction") is None else str(it["prediction"]),
            "gold": None if it.get("gold") is None else str(it["gold"]),
            "score": _finite(it.get("score")),
            "scores": _finite(dict(it.get("scores") or {})),
        }
        for it in items
    ]

    def _write(conn: sa.Connection) -> None:
        conn.execute(
            sa.delete(eval_bench_items).where(
                eval_bench_items.c.run_id == run_id, eval_bench_items.c.task == task
            )
        )
        for i in range(0, len(rows), _BATCH):
            conn.execute(sa.insert(eval_bench_items), rows[i : i + _BATCH])

    ws.write(_write)


def task_results(ws: Workspace, run_id: str) -> list[dict[str, Any]]:
    with ws.read() as conn:
        rows = conn.execute(
            sa.select(eval_bench_tasks)
            .where(eval_bench_tasks.c.run_id == run_id)
            .order_by(eval_bench_tasks.c.task)
        ).mappings()
        return [dict(r) for r in rows]


def _item_dict(r: Any) -> dict[str, Any]:
    d = dict(r)
    d.pop("id", None)
    if d.get("choices") is not None:  # multiple choice: prediction and gold are choice indexes, stored as text
        for key in ("prediction", "gold"):
            v = d.get(key)
            if isinstance(v, str) and v.lstrip("-").isdigit():
                d[key] = int(v)
    return d


def items(
    ws: Workspace,
    run_id: str,
    task: str | None = None,
    *,
    worst: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Item records of a run (optionally one task). ``worst=k``: the k lowest-scoring items per query."""
    t = eval_bench_items
    q = sa.select(t).where(t.c.run_id == run_id)
    if task is not None:
        q = q.where(t.c.task == task)
    if worst is not None:
        q = q.order_by(t.c.score.asc(), t.c.task, t.c.doc_id).limit(worst)
    else:
        q = q.order_by(t.c.task, t.c.doc_id)
        if limit is not None:
            q = q.limit(limit)
        if offset:
            q = q.offset(offset)
    with ws.read() as conn:
        return [_item_dict(r) for r in conn.execute(q).mappings()]


def iter_items(ws: Workspace, run_id: str, page_size: int = 2000) -> Iterator[dict[str, Any]]:
    """Every item of a run, paginated by primary key so a large run streams."""
    t = eval_bench_items
    last = -1
    while True:
        with ws.read() as conn:
            rows = list(
                conn.execute(
                    sa.select(t).where(t.c.run_id == run_id, t.c.id > last).order_by(t.c.id).limit(page_size)
                ).mappings()
            )
        if not rows:
            return
        for r in rows:
            yield _item_dict(r)
        last = rows[-1]["id"]


def export_jsonl(ws: Workspace, run_id: str, out: IO[str]) -> int:
    """Write one JSON line per item: task, doc_id, prediction, gold, per-choice log-likelihoods (and more)."""
    if not task_results(ws, run_id):
        raise NotFound("benchmark run", run_id)
    n = 0
    for it in iter_items(ws, run_id):
        line = {
            "task": it["task"],
            "doc_id": it["doc_id"],
            "prediction": it["prediction"],
            "gold": it["gold"],
            "loglikelihoods": it["loglikelihoods"],
            "is_greedy": it["is_greedy"],
            "choices": it["choices"],
            "output": it["output"],
            "score": it["score"],
            "scores": it["scores"],
            "prompt": it["prompt"],
        }
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        n += 1
    return n
