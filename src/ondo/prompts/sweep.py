"""``ondo.sweep``: treat prompts as hyperparameters; one tracked run per combination.

```python
table = ondo.sweep(prompts=["summarize/1", "summarize/2"], models=["summarizer@staging"],
                   params={"temperature": [0.0, 0.7]}, fn=evaluate)
print(table)               # markdown comparison, one row per run
table.best("rouge1")       # the row with the highest value
```

``fn`` is called once per combination with the keyword arguments its signature names among
``prompt`` (a PromptVersion), ``model`` (a ModelVersion when the identifier names a
registered model, otherwise the value given), ``params`` (this combination's dict), ``run``
(the active Run) and each swept parameter by name. It returns metrics (a mapping of
numbers, or one number logged as ``score``). Each run logs the prompt, the model and the
parameters as params, records the prompt and model versions as inputs, and logs the metrics.
A combination whose ``fn`` raises is recorded as a failed run and the sweep goes on
(``fail_fast=True`` stops at the first failure).
"""

from __future__ import annotations

import inspect
import itertools
import math
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ondo.errors import InvalidInput, NotFound
from ondo.prompts.usage import use
from ondo.prompts.versions import PromptVersion
from ondo.workspace import Workspace


@dataclass
class SweepRow:
    run_id: str
    prompt: str
    model: str | None
    params: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    status: str = "finished"
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "prompt": self.prompt, "model": self.model, "params": self.params,
            "metrics": self.metrics, "outputs": self.outputs, "status": self.status, "error": self.error,
        }


@dataclass
class SweepResult:
    """The comparison table of a sweep: one row per combination (= per run)."""

    rows: list[SweepRow]
    experiment: str

    def __iter__(self) -> Iterator[SweepRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def metric_names(self) -> list[str]:
        return list(dict.fromkeys(k for r in self.rows for k in r.metrics))

    @property
    def param_names(self) -> list[str]:
        return list(dict.fromkeys(k for r in self.rows for k in r.params))

    def best(self, metric: str, mode: str = "max") -> SweepRow:
        """The finished row with the highest (``mode='max'``) or lowest value of ``metric``."""
        if mode not in ("max", "min"):
            raise InvalidInput(f"mode must be 'max' or 'min', got {mode!r}")
        scored = [r for r in self.rows if metric in r.metrics and not math.isnan(r.metrics[metric])]
        if not scored:
            raise NotFound("sweep metric", metric, self.metric_names)
        pick = max if mode == "max" else min
        return pick(scored, key=lambda r: r.metrics[metric])

    def to_dicts(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.rows]

    def columns(self) -> list[str]:
        cols = ["run", "prompt"]
        if any(r.model is not None for r in self.rows):
            cols.append("model")
        return cols + self.param_names + self.metric_names + ["status"]

    def table(self) -> list[list[str]]:
        """Rows of display strings, in ``columns()`` order."""
        out = []
        show_model = any(r.model is not None for r in self.rows)
        for r in self.rows:
            cells = [r.run_id[:8], r.prompt] + ([r.model or ""] if show_model else [])
            cells += [_cell(r.params.get(k)) for k in self.param_names]
            cells += [_cell(r.metrics.get(k)) for k in self.metric_names]
            cells.append(r.status if r.error is None else f"{r.status}: {r.error}")
            out.append(cells)
        return out

    def to_markdown(self) -> str:
        cols = self.columns()
        lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in row) + " |" for row in self.table()]
        return "\n".join(lines)

    def print(self) -> None:
        from rich.console import Console
        from rich.table import Table

        t = Table(title=f"sweep ({self.experiment})")
        for c in self.columns():
            t.add_column(c)
        for row in self.table():
            t.add_row(*row)
        Console().print(t)

    def __str__(self) -> str:
        return self.to_markdown()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _grid(params: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """{'t': [0, 0.7], 'k': 5} -> [{'t': 0, 'k': 5}, {'t': 0.7, 'k': 5}]: lists are swept, scalars fixed."""
    if not params:
        return [{}]
    keys = list(params)
    choices = []
    for k in keys:
        v = params[k]
        values = list(v) if isinstance(v, list | tuple) else [v]
        if not values:
            raise InvalidInput(f"params['{k}'] is an empty list: nothing to sweep", field=f"params.{k}")
        choices.append(values)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*choices)]


def _prompt(ws: Workspace, p: Any) -> PromptVersion:
    if isinstance(p, PromptVersion):
        return p
    if isinstance(p, str):
        from ondo.prompts import versions

        return versions.get(ws, p)
    raise InvalidInput(f"prompts must be prompt versions or identifiers, not {type(p).__name__}", field="prompts")


def _model(ws: Workspace, m: Any) -> tuple[Any, str | None]:
    """(what fn receives, the label in the table): registered model identifiers become ModelVersions."""
    if m is None:
        return None, None
    from ondo.ids import parse_ref
    from ondo.registry import models as registry

    if isinstance(m, registry.ModelVersion):
        return m, m.ref
    if isinstance(m, str):
        try:
            r = parse_ref(m)
        except InvalidInput:
            return m, m
        if registry.names_include(ws, r.name):
            mv = registry.get(ws, r)
            return mv, mv.ref
        return m, m
    label = getattr(m, "ref", None) or getattr(m, "name", None) or repr(m)
    return m, str(label)


def _caller(fn: Callable[..., Any]) -> Callable[[dict[str, Any]], Any]:
    """Call ``fn`` with the arguments its signature names (or all of them if it takes **kwargs)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return lambda kw: fn(kw["prompt"], kw["model"], kw["params"])
    ps = sig.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in ps):
        return lambda kw: fn(**kw)
    named = [p.name for p in ps if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]

    def call(kw: dict[str, Any]) -> Any:
        chosen = {k: kw[k] for k in named if k in kw}
        if chosen:
            return fn(**chosen)
        positional = [p for p in ps if p.kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                  inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        return fn(*[kw["prompt"], kw["model"], kw["params"]][: len(positional)])

    return call


def _split_result(result: Any) -> tuple[dict[str, float], dict[str, Any]]:
    if result is None:
        return {}, {}
    if isinstance(result, numbers.Real) and not isinstance(result, bool):
        return {"score": float(result)}, {}
    if isinstance(result, Mapping):
        metrics, outputs = {}, {}
        for k, v in result.items():
            if isinstance(v, numbers.Real):
                metrics[str(k)] = float(v)
            else:
                outputs[str(k)] = v
        return metrics, outputs
    return {}, {"result": result}


def sweep(
    prompts: Sequence[Any],
    models: Sequence[Any] | None = None,
    params: Mapping[str, Any] | None = None,
    fn: Callable[..., Any] | None = None,
    *,
    experiment: str = "sweep",
    fail_fast: bool = False,
    workspace: Workspace | None = None,
) -> SweepResult:
    """Run ``fn`` for every prompt x model x parameter combination, one tracked run each."""
    from ondo.tracking import start_run

    if fn is None or not callable(fn):
        raise InvalidInput("sweep needs fn=: a function that evaluates one combination and returns metrics", field="fn")
    if isinstance(prompts, str | PromptVersion) or not prompts:
        raise InvalidInput("prompts must be a non-empty list of prompt versions or identifiers", field="prompts")
    clash = sorted(set(params or {}) & {"prompt", "model", "params", "run"})
    if clash:
        raise InvalidInput(f"params cannot be named {', '.join(clash)}: those names are the sweep's own", field="params")
    ws = workspace or Workspace.default()
    resolved_prompts = [_prompt(ws, p) for p in prompts]
    if isinstance(models, str):
        models = [models]
    resolved_models = [_model(ws, m) for m in (models or [None])]
    call = _caller(fn)
    rows: list[SweepRow] = []
    for p, (model, label), combo in itertools.product(resolved_prompts, resolved_models, _grid(params)):
        logged = {"prompt": p.ref, **({"model": label} if label is not None else {}), **combo}
        run_name = " ".join([p.ref, *([label] if label else []), *(f"{k}={v}" for k, v in combo.items())])
        run = start_run(experiment=experiment, params=logged, name=run_name[:255], workspace=ws)
        row = SweepRow(run.id, p.ref, label, dict(combo))
        try:
            with run:
                use(run, p)
                if label is not None and hasattr(model, "digest"):
                    run.record_input("model", label, digest=model.digest)
                kw = {**combo, "prompt": p, "model": model, "params": dict(combo), "run": run}
                row.metrics, row.outputs = _split_result(call(kw))
                if row.metrics:
                    run.log_metrics(row.metrics)
        except Exception as exc:
            row.status, row.error = "failed", f"{type(exc).__name__}: {exc}"
            rows.append(row)
            if fail_fast:
                raise
            continue
        rows.append(row)
    return SweepResult(rows, experiment)
