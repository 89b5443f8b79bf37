"""``ondo experiments`` and ``ondo runs``: thin shells over ``ondo.Client``."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
import typer
from rich.table import Table
from rich.text import Text

from ondo.cli.output import JsonOption, console, print_json, print_whole
from ondo.client import Client
from ondo.config import Settings
from ondo.errors import InvalidInput, StoreError
from ondo.tracking.runs import RunInfo

F = TypeVar("F", bound=Callable[..., Any])
_BROKEN_STORE = (
    "malformed",
    "not a database",
    "disk i/o error",
    "readonly",
    "unable to open",
    "disk is full",
)


def store_guard(fn: F) -> F:
    """A store that breaks mid-command (corrupt page, full disk) is a one-line StoreError, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except sa.exc.DatabaseError as exc:
            text = str(exc.orig)
            if not any(m in text.lower() for m in _BROKEN_STORE):
                raise
            settings = Settings.from_env()
            where = settings.store_url.removeprefix("sqlite:///") if settings.is_sqlite else "the store"
            raise StoreError(
                f"{where} cannot be read or written ({text}); restore it from a backup or set ONDO_HOME"
            ) from None

    return wrapper  # type: ignore[return-value]


experiments_app = typer.Typer(help="Experiments: named groups of runs.", no_args_is_help=True)
runs_app = typer.Typer(help="Runs: list, show, compare and delete recorded runs.", no_args_is_help=True)


def _table(
    columns: list[str], rows: Any, title: str | None = None, keep: tuple[str, ...] = ("ID", "NAME")
) -> None:
    """A listing whose ``keep`` columns are never wrapped (others wrap first when space runs out)."""
    table = Table(title=title)
    for c in columns:
        table.add_column(c, no_wrap=c in keep)
    for r in rows:  # Text, not markup: a param such as '[/data]' is data, not a closing style tag
        table.add_row(*(Text("" if v is None else str(v)) for v in r))
    print_whole(table)


def _when(ts: float | None) -> str:
    return "" if ts is None else dt.datetime.fromtimestamp(ts).isoformat(sep=" ", timespec="seconds")


def _num(v: float | None) -> str:
    if v is None:
        return ""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.6g}"


def _duration(run: RunInfo) -> str:
    d = run.duration
    if d is None:
        return ""
    return f"{d:.1f}s" if d < 120 else f"{d / 60:.1f}m"


def _summary(values: dict[str, Any], limit: int = 4, fmt: Any = str) -> str:
    items = [f"{k}={fmt(v)}" for k, v in list(values.items())[:limit]]
    if len(values) > limit:
        items.append(f"(+{len(values) - limit})")
    return " ".join(items)


# -- experiments -----------------------------------------------------------------------------------
@experiments_app.command("list")
@store_guard
def experiments_list(json_out: bool = JsonOption) -> None:
    """List experiments with their run counts."""
    exps = Client().list_experiments()
    if json_out:
        print_json([e.to_dict() for e in exps])
        return
    _table(
        ["NAME", "ID", "RUNS", "CREATED", "LAST RUN"],
        [(e.name, e.id[:12], e.run_count, _when(e.created_at), _when(e.last_run_at)) for e in exps],
        title="experiments",
    )


# -- runs ------------------------------------------------------------------------------------------
@runs_app.command("list")
@store_guard
def runs_list(
    experiment: list[str] | None = typer.Option(
        None, "--experiment", "-e", help="Only runs of this experiment (repeatable)."
    ),
    filter: str | None = typer.Option(
        None, "--filter", "-f", help="e.g. \"metrics.acc > 0.4 AND params.lr = '3e-4'\""
    ),
    order_by: list[str] | None = typer.Option(
        None, "--order-by", "-o", help="e.g. 'metrics.acc DESC' (repeatable)."
    ),
    limit: int = typer.Option(50, "--limit", "--page-size", "-n", help="Page size."),
    page_token: str | None = typer.Option(None, "--page-token", help="Token printed by the previous page."),
    json_out: bool = JsonOption,
) -> None:
    """List runs, newest first unless --order-by says otherwise."""
    page = Client().search_runs(
        experiment=experiment or None,
        filter=filter,
        order_by=order_by,
        page_size=limit,
        page_token=page_token,
    )
    if json_out:
        print_json([r.to_dict() for r in page])  # stdout stays a JSON list; the way on goes to stderr
        if page.next_page_token:
            typer.echo(f"next page: --page-token {page.next_page_token}", err=True)
        return
    _table(
        ["ID", "NAME", "EXPERIMENT", "STATUS", "STARTED", "DURATION", "METRICS", "PARAMS"],
        [
            (
                r.id[:12],
                r.name or "",
                r.experiment,
                r.status,
                _when(r.start_time),
                _duration(r),
                _summary(r.metrics, fmt=_num),
                _summary(r.params),
            )
            for r in page
        ],
        title="runs",
        keep=("ID", "NAME", "EXPERIMENT", "STATUS"),
    )
    if page.next_page_token:
        console.print(f"more: --page-token {page.next_page_token}")


@runs_app.command("show")
@store_guard
def runs_show(
    run_id: str = typer.Argument(..., help="Run id, unique id prefix, or run name."),
    json_out: bool = JsonOption,
) -> None:
    """Show one run: status, code version, params, latest metrics, tags, inputs, artifacts."""
    run = Client().get_run(run_id)
    if json_out:
        print_json(run.to_dict())
        return
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    git = "" if run.git_commit is None else run.git_commit[:12] + (" (dirty)" if run.git_dirty else "")
    for k, v in [
        ("id", run.id),
        ("name", run.name or ""),
        ("experiment", run.experiment),
        ("status", run.status),
        ("started", _when(run.start_time)),
        ("ended", _when(run.end_time)),
        ("duration", _duration(run)),
        ("git", git),
        ("command", run.command or ""),
        ("python", run.python_version or ""),
        ("seed", "" if run.seed is None else str(run.seed)),
        ("host", f"{run.user or ''}@{run.host or ''} pid {run.pid or ''}"),
        ("note", run.note or ""),
    ]:
        head.add_row(k, Text(v))
    print_whole(head)
    if run.params:
        _table(["PARAM", "VALUE"], sorted(run.params.items()), title="params", keep=("PARAM",))
    if run.metrics:
        _table(
            ["METRIC", "LAST VALUE", "STEP"],
            [(k, _num(v), run.metric_steps.get(k, "")) for k, v in run.metrics.items()],
            title="metrics",
            keep=("METRIC",),
        )
    if run.tags:
        _table(["TAG", "VALUE"], sorted(run.tags.items()), title="tags", keep=("TAG",))
    if run.inputs:
        _table(
            ["KIND", "REF", "ROLE", "DIGEST"],
            [(i.kind, i.ref, i.role, (i.digest or "")[:19]) for i in run.inputs],
            title="inputs",
            keep=("REF",),
        )
    if run.artifacts:
        _table(
            ["ARTIFACT", "SIZE", "DIGEST"],
            [(a.path, a.size, a.digest[:19]) for a in run.artifacts],
            title="artifacts",
            keep=("ARTIFACT",),
        )
    if run.packages:
        console.print(Text("packages: " + ", ".join(f"{k}=={v}" for k, v in run.packages.items())))


def _prompt_versions(run: RunInfo) -> dict[str, str]:
    """Prompt name -> the versions the run used ('summarizer' -> 'summarizer/3')."""
    out: dict[str, list[str]] = {}
    for i in run.inputs:
        if i.kind == "prompt" and i.role == "input":
            name = i.ref.rsplit("/", 1)[0] if i.ref.rsplit("/", 1)[-1].isdigit() else i.ref.split("@", 1)[0]
            out.setdefault(name, []).append(i.ref)
    return {k: ", ".join(v) for k, v in out.items()}


def compare(runs: list[RunInfo]) -> dict[str, Any]:
    """Side-by-side params, prompt versions and last metric values of runs, with the keys that differ."""

    def side_by_side(per_run: list[dict[str, Any]]) -> dict[str, list[Any]]:
        keys = sorted({k for d in per_run for k in d})
        return {k: [d.get(k) for d in per_run] for k in keys}

    def differing(table: dict[str, list[Any]]) -> list[str]:
        def same(a: Any, b: Any) -> bool:
            return a == b or (
                isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
            )

        return [k for k, vs in table.items() if not all(same(vs[0], v) for v in vs[1:])]

    params = side_by_side([r.params for r in runs])
    prompts = side_by_side([_prompt_versions(r) for r in runs])
    metrics = side_by_side([r.metrics for r in runs])
    return {
        "runs": [{"id": r.id, "name": r.name, "experiment": r.experiment, "status": r.status} for r in runs],
        "params": params,
        "prompts": prompts,
        "metrics": metrics,
        "differences": {
            "params": differing(params),
            "prompts": differing(prompts),
            "metrics": differing(metrics),
        },
    }


@runs_app.command("compare")
@store_guard
def runs_compare(
    run_ids: list[str] = typer.Argument(..., help="Two or more runs (id, id prefix or name)."),
    json_out: bool = JsonOption,
) -> None:
    """Params and prompt versions side by side (differences highlighted), and the last value of each metric."""
    if len(run_ids) < 2:
        raise InvalidInput(f"give at least two runs to compare, got {len(run_ids)}: ondo runs compare A B")
    client = Client()
    runs = [client.get_run(r) for r in run_ids]
    result = compare(runs)
    if json_out:
        print_json(result)
        return
    headers = ["", "KEY", *[r.display_name for r in runs]]
    diff = result["differences"]

    def table(title: str, rows: dict[str, list[Any]], changed: list[str], fmt: Any) -> None:
        t = Table(title=title)
        for h in headers:
            t.add_column(Text(h), no_wrap=h == "KEY")
        for key, values in rows.items():
            mark = key in changed
            t.add_row(
                "≠" if mark else "",
                Text(key),
                *[Text("" if v is None else fmt(v)) for v in values],
                style="bold yellow" if mark else None,
            )
        print_whole(t)

    params_rows = dict(result["params"])
    for name, values in result["prompts"].items():
        params_rows[f"prompt:{name}"] = values
    changed = list(diff["params"]) + [f"prompt:{n}" for n in diff["prompts"]]
    table("params (≠ differs)", params_rows, changed, str)
    table("metrics (last value)", result["metrics"], diff["metrics"], _num)


@runs_app.command("delete")
@store_guard
def runs_delete(
    run_id: str = typer.Argument(..., help="Run id, unique id prefix, or run name."),
    purge: bool = typer.Option(
        False, "--purge", help="Also remove its params, metrics, tags and rows for good."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Delete a run (hidden from lists and lookups; --purge removes its records)."""
    rid = Client().delete_run(run_id, purge=purge)
    if json_out:
        print_json({"deleted": rid, "purged": purge})
        return
    console.print(f"deleted run {rid}" + (" (purged)" if purge else ""))


@runs_app.command("history")
@store_guard
def runs_history(
    run_id: str = typer.Argument(..., help="Run id, unique id prefix, or run name."),
    key: str = typer.Argument(..., help="Metric key."),
    max_points: int = typer.Option(1000, "--max-points", help="Downsample to at most this many points."),
    json_out: bool = JsonOption,
) -> None:
    """A metric's history, downsampled in the store."""
    points = Client().get_metric_history(run_id, key, max_points=max_points)
    if json_out:
        print_json([p.to_dict() for p in points])
        return
    _table(
        ["STEP", "VALUE", "MIN", "MAX", "TIME"],
        [(p.step, _num(p.value), _num(p.min), _num(p.max), _when(p.timestamp)) for p in points],
    )
