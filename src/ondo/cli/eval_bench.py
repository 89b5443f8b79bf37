"""``ondo eval bench|tasks|show|export``: benchmarks scored like lm-evaluation-harness, recorded as runs."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, cast

import typer

from ondo.cli.output import JsonOption, console, print_json, print_table


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return "" if v is None else str(v)


def _resolve_run(ws: Any, ident: str) -> str:
    from ondo.tracking.runs import resolve_run_id

    with ws.read() as conn:
        return str(resolve_run_id(conn, ident))


def bench(
    model: str = typer.Option(
        "local:smollm2", "--model", "-m", help="Model spec or registry id (assistant@staging)."
    ),
    tasks: str = typer.Option(
        ..., "--tasks", "-t", help="Comma-separated tasks or groups; see `ondo eval tasks`."
    ),
    limit: float | None = typer.Option(None, "--limit", help="Documents per task (a fraction when < 1)."),
    num_fewshot: int | None = typer.Option(
        None, "--num-fewshot", help="Few-shot examples (default: the task's)."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Local benchmark data (default: ONDO_DATA_DIR)."
    ),
    experiment: str = typer.Option("benchmarks", "--experiment", help="Experiment the run is recorded in."),
    run_name: str | None = typer.Option(None, "--run-name", help="Name of the recorded run."),
    on_bad_row: str = typer.Option(
        "stop", "--on-bad-row", help="Malformed data rows: stop (default) or skip."
    ),
    seed: int = typer.Option(1234, "--seed", help="Few-shot sampler seed (lm-eval's default 1234)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Bypass the request cache."),
    as_json: bool = JsonOption,
) -> None:
    """Run benchmark tasks against a model and record the evaluation as a run."""
    from rich.markup import escape

    from ondo.errors import InvalidInput
    from ondo.evals.bench.data import BadRowPolicy
    from ondo.evals.bench.runner import evaluate

    if on_bad_row not in ("skip", "stop"):
        raise InvalidInput(f"--on-bad-row must be 'skip' or 'stop', got '{on_bad_row}'")
    result = evaluate(
        model,
        tasks,
        limit=limit,
        num_fewshot=num_fewshot,
        data_dir=data_dir,
        experiment=experiment,
        run_name=run_name,
        on_bad_row=cast(BadRowPolicy, on_bad_row),
        seed=seed,
        progress=sys.stderr.isatty() or not as_json,
        cache=not no_cache,
    )
    if as_json:
        print_json(result.to_dict())
        return
    rows = []
    for name, r in [*result.tasks.items(), *result.groups.items()]:
        for m, v in r.metrics.items():
            if m.endswith("_stderr"):
                continue
            rows.append(
                [name, r.num_fewshot, m, _fmt(v), _fmt(r.metrics.get(f"{m}_stderr")), r.n_items, r.n_skipped]
            )
    print_table(
        ["task", "n-shot", "metric", "value", "stderr", "items", "skipped"],
        rows,
        title=f"{result.model}  run {result.run_id}  ({result.seconds:.1f}s)",
    )
    for name, why in result.skipped_tasks.items():
        console.print(f"[yellow]skipped {name}: {escape(why)}[/yellow]")
    for name, r in result.tasks.items():  # --on-bad-row skip: say which rows were left out, file and line
        for bad in r.bad_rows[:5]:
            console.print(f"[yellow]{name}: skipped bad row {escape(bad)}[/yellow]", highlight=False)
        if len(r.bad_rows) > 5:
            console.print(f"[yellow]{name}: ... and {len(r.bad_rows) - 5} more bad rows[/yellow]")


def tasks_cmd(
    all_: bool = typer.Option(False, "--all", help="Also list group members (the 57 MMLU subjects...)."),
    as_json: bool = JsonOption,
) -> None:
    """List the benchmark tasks and groups ondo ships."""
    from ondo.evals.bench.registry import list_tasks

    items = [t.info() for t in list_tasks(include_subtasks=all_)]
    if as_json:
        print_json(items)
        return
    print_table(
        ["task", "type", "metrics", "n-shot", "description"],
        [
            [i["name"], i["output_type"], ",".join(i["metrics"]), i["num_fewshot"], i["summary"]]
            for i in items
        ],
    )


def show(
    run: str = typer.Argument(..., help="Run id (or unique prefix / name)."),
    worst: int = typer.Option(5, "--worst", help="Lowest-scoring items to show per task."),
    as_json: bool = JsonOption,
) -> None:
    """Per-task results of a benchmark run and its worst items."""
    from ondo.errors import NotFound
    from ondo.evals.bench import records
    from ondo.workspace import Workspace

    ws = Workspace.default()
    run_id = _resolve_run(ws, run)
    tasks = records.task_results(ws, run_id)
    if not tasks:
        raise NotFound("benchmark run", run)
    leaf = [t for t in tasks if not t["is_group"]]
    worst_items = (
        {t["task"]: records.items(ws, run_id, t["task"], worst=worst) for t in leaf} if worst > 0 else {}
    )
    if as_json:
        print_json(
            {
                "run_id": run_id,
                "tasks": [
                    {
                        k: t[k]
                        for k in (
                            "task",
                            "group_name",
                            "is_group",
                            "n_items",
                            "n_skipped",
                            "num_fewshot",
                            "metrics",
                        )
                    }
                    for t in tasks
                ],
                "worst_items": {
                    k: [
                        {
                            f: it[f]
                            for f in (
                                "doc_id",
                                "prediction",
                                "gold",
                                "score",
                                "loglikelihoods",
                                "choices",
                                "output",
                            )
                        }
                        for it in v
                    ]
                    for k, v in worst_items.items()
                },
            }
        )
        return
    rows = []
    for t in tasks:
        for m, v in (t["metrics"] or {}).items():
            if not m.endswith("_stderr"):
                rows.append(
                    [
                        t["task"],
                        t["num_fewshot"],
                        m,
                        _fmt(v),
                        _fmt(t["metrics"].get(f"{m}_stderr")),
                        t["n_items"],
                        t["n_skipped"],
                    ]
                )
    print_table(
        ["task", "n-shot", "metric", "value", "stderr", "items", "skipped"], rows, title=f"run {run_id}"
    )
    for name, its in worst_items.items():
        if not its:
            continue
        print_table(
            ["doc", "score", "prediction", "gold", "prompt (end)"],
            [
                [
                    i["doc_id"],
                    _fmt(i["score"]),
                    i["prediction"],
                    i["gold"],
                    (i["prompt"] or "")[-60:].replace("\n", " "),
                ]
                for i in its
            ],
            title=f"{name}: worst {len(its)}",
        )


def export(
    run: str = typer.Argument(..., help="Run id (or unique prefix / name)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File to write (default: stdout)."),
) -> None:
    """Export a benchmark run's items as JSONL: task, doc_id, prediction, gold, per-choice log-likelihoods."""
    from ondo.evals.bench import records
    from ondo.workspace import Workspace

    ws = Workspace.default()
    run_id = _resolve_run(ws, run)
    if output is None:
        records.export_jsonl(ws, run_id, sys.stdout)
        return
    with open(output, "w", encoding="utf-8") as fh:
        n = records.export_jsonl(ws, run_id, fh)
    typer.echo(f"wrote {n} items to {output}", err=True)


def register(eval_app: typer.Typer) -> None:
    eval_app.command("bench")(bench)
    eval_app.command("tasks")(tasks_cmd)
    eval_app.command("show")(show)
    eval_app.command("export")(export)
