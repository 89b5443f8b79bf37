"""``evaluate``: run benchmark tasks against a model and record the evaluation as a tracked run.

Every evaluation is a run: params (model, tasks, limit, few-shot), metrics ``<task>.<metric>`` and
``<task>.<metric>_stderr``, lineage inputs (the registry model version when the model came from the
registry, each data file with its sha256), and per-item records in the evals tables.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ondo.errors import InvalidInput, OndoError, UnsupportedOperation
from ondo.evals.bench import records, registry
from ondo.evals.bench.data import BadRowPolicy, DocRecord, default_data_dir
from ondo.evals.bench.engine import EngineStats, run_generate, run_loglikelihood
from ondo.evals.bench.scoring import aggregate, aggregate_group, score_generation, score_multiple_choice
from ondo.evals.bench.task import FewShotSampler, Task
from ondo.llm.types import GenerateRequest, LoglikelihoodRequest
from ondo.workspace import Workspace

_SCHEMES = ("local", "hf", "llamacpp", "openai", "ollama", "http", "https")
_NEEDS = {"multiple_choice": "loglikelihood", "generate_until": "generate"}
_KIND = {"loglikelihood": "multiple_choice (log-likelihood)", "generate": "generate_until"}


@dataclass
class TaskResult:
    name: str
    metrics: dict[str, float]
    n_items: int
    n_skipped: int = 0
    num_fewshot: int = 0
    group: str | None = None
    bad_rows: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics,
            "n_items": self.n_items,
            "n_skipped": self.n_skipped,
            "num_fewshot": self.num_fewshot,
            "group": self.group,
            "bad_rows": self.bad_rows[:20],
        }


@dataclass
class BenchResult:
    run_id: str | None
    model: str
    tasks: dict[str, TaskResult]
    groups: dict[str, TaskResult]
    seconds: float
    stats: dict[str, Any]
    skipped_tasks: dict[str, str] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        """Flat ``<task>.<metric>`` map, as logged on the run."""
        out: dict[str, float] = {}
        for name, r in {**self.tasks, **self.groups}.items():
            for k, v in r.metrics.items():
                out[f"{name}.{k}"] = v
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model": self.model,
            "tasks": {k: v.to_dict() for k, v in self.tasks.items()},
            "groups": {k: v.to_dict() for k, v in self.groups.items()},
            "results": {k: dict(v.metrics) for k, v in {**self.tasks, **self.groups}.items()},
            "metrics": self.metrics,
            "seconds": self.seconds,
            "stats": self.stats,
            "skipped_tasks": self.skipped_tasks,
        }


@dataclass
class _Prepared:
    task: Task
    docs: list[DocRecord]
    contexts: list[str]
    num_fewshot: int
    n_skipped: int
    bad_rows: list[str]
    files: dict[str, str]


# ---------------------------------------------------------------------------------------------- model
def resolve_model(model: Any) -> tuple[Any, dict[str, Any]]:
    """A Model, a provider spec (``local:smollm2``, ``hf:PATH``, a base URL) or a registry id (``name@alias``)."""
    from ondo.llm.spec import load_model, load_model_from_source

    if not isinstance(model, str):
        return model, {"spec": getattr(model, "fingerprint", repr(model))}
    spec = model.strip()
    scheme, colon, _ = spec.partition(":")
    # "scheme:..." is a provider spec; registry identifiers hold a ':' only after their '@' (name@sha256:...)
    if spec.startswith(("http://", "https://")) or scheme in _SCHEMES:
        return load_model(spec), {"spec": spec}
    if colon and "@" not in scheme:
        import difflib

        close = difflib.get_close_matches(scheme, _SCHEMES, n=1)
        hint = f"did you mean '{close[0]}:'? " if close else ""
        raise InvalidInput(
            f"unknown model scheme '{scheme}:' in '{spec}'; {hint}use local:smollm2, hf:PATH[,gguf_file=NAME], "
            "llamacpp:PATH.gguf, openai:MODEL, ollama:MODEL, an OpenAI-compatible base URL or a registry id "
            "(name@alias)"
        )
    from ondo import models as model_registry  # resolves name, name/3, name@alias, name@sha256:...

    mv = model_registry.get(spec)
    source: str | dict[str, Any] = mv.api if (mv.is_api and mv.api is not None) else str(mv.source)
    info = {"spec": spec, "registry_ref": mv.ref, "digest": mv.digest}
    return load_model_from_source(source), info


def scoring_model(lm: Any, cache: bool = True) -> Any:
    """The model requests go to (log-likelihood and generation): behind the request cache
    (``ondo.llm.CachedModel``), so a re-run costs nothing and a killed run resumes where it stopped."""
    if not cache or type(lm).__name__ == "CachedModel":
        return lm
    try:
        from ondo.llm.cache import CachedModel
    except ImportError:  # pragma: no cover - provider layer without its cache
        return lm
    return CachedModel(lm)


def check_capabilities(model: Any, tasks: Sequence[Task]) -> None:
    """A model that cannot serve a task type fails before any work, naming what it can run."""
    caps = set(getattr(model, "capabilities", ()) or ())
    missing: dict[str, list[str]] = {}
    for t in tasks:
        need = _NEEDS[t.output_type]
        if need not in caps:
            missing.setdefault(need, []).append(t.name)
    if not missing:
        return
    fp = getattr(model, "fingerprint", repr(model))
    can = [_KIND[c] for c in ("loglikelihood", "generate") if c in caps]
    parts = []
    for need, names in missing.items():
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        parts.append(f"task(s) {shown} need {need} ({_KIND[need]} tasks)")
    raise UnsupportedOperation(
        f"model {fp} cannot run {'; '.join(parts)}; it can run: {', '.join(can) + ' tasks' if can else 'no benchmark task type'}"
    )


# ---------------------------------------------------------------------------------------------- data
def _limit_count(limit: float | None, n: int) -> int:
    if limit is None:
        return n
    if 0 < limit < 1:
        return math.ceil(n * limit)
    return min(n, int(limit))


def prepare(
    task: Task,
    data_dir: Path | None,
    *,
    limit: float | None = None,
    num_fewshot: int | None = None,
    on_bad_row: BadRowPolicy = "stop",
    seed: int | None = 1234,
) -> _Prepared:
    """Load the task's documents and build every context (few-shot examples drawn in document order)."""
    split = task.source.load(task.eval_split, data_dir, on_bad_row)
    k = task.default_num_fewshot if num_fewshot is None else num_fewshot
    if task.fixed_num_fewshot is not None:
        k = task.fixed_num_fewshot
    if k < 0:
        raise InvalidInput(f"num_fewshot must be >= 0, got {k}")
    docs = split.docs[: _limit_count(limit, len(split.docs))]
    files = dict(split.files)
    bad = [str(e) for e in split.bad_rows]
    n_skipped = len(split.bad_rows)
    sampler: FewShotSampler | None = None
    same_split = False
    if k > 0:
        if task.fewshot_split is None:
            raise InvalidInput(f"task {task.name} has no few-shot split; run it with --num-fewshot 0")
        if task.fewshot_split == task.eval_split:
            pool_docs = split.docs
            same_split = True
        else:
            fs = task.source.load(task.fewshot_split, data_dir, on_bad_row)
            files.update(fs.files)
            bad += [str(e) for e in fs.bad_rows]
            pool_docs = fs.docs
        sampler = FewShotSampler([d.doc for d in pool_docs], task.fewshot_sampler, seed)
    contexts = []
    for rec in docs:
        shots = sampler.sample(k, rec.doc if same_split else None) if sampler is not None else []
        contexts.append(task.context(rec.doc, shots))
    return _Prepared(task, docs, contexts, k, n_skipped, bad, files)


# ---------------------------------------------------------------------------------------------- run
def evaluate(
    model: Any,
    tasks: str | Sequence[str],
    *,
    limit: float | None = None,
    num_fewshot: int | None = None,
    data_dir: str | Path | None = None,
    experiment: str = "benchmarks",
    run_name: str | None = None,
    on_bad_row: BadRowPolicy = "stop",
    seed: int | None = 1234,
    progress: bool = True,
    chunk_size: int = 512,
    cache: bool = True,
    track: bool = True,
    workspace: Workspace | None = None,
) -> BenchResult:
    """Evaluate ``model`` on ``tasks`` (names or groups, e.g. ``"arc_easy,mmlu"``) and record a run.

    ``limit``: documents per task (a fraction when < 1), as lm-eval's ``--limit``. ``num_fewshot``:
    examples per prompt (default: the task's). ``on_bad_row``: ``"stop"`` (raise with file and line)
    or ``"skip"`` (leave malformed rows out, counted in ``n_skipped``). ``seed``: the few-shot
    sampler's seed (lm-eval's default 1234).
    """
    if on_bad_row not in ("skip", "stop"):
        raise InvalidInput(f"on_bad_row must be 'skip' or 'stop', got {on_bad_row!r}")
    if limit is not None and not (limit > 0 and (limit < 1 or float(limit).is_integer())):
        raise InvalidInput(
            f"limit must be a whole number of documents (>= 1) or a fraction between 0 and 1, got {limit}",
            field="limit",
        )
    if num_fewshot is not None and num_fewshot < 0:
        raise InvalidInput(f"num_fewshot must be >= 0, got {num_fewshot}", field="num_fewshot")
    names = [n for n in (s.strip() for s in tasks.split(","))] if isinstance(tasks, str) else list(tasks)
    names = [n for n in names if n]
    if not names:
        raise InvalidInput("no tasks given; see `ondo eval tasks`")
    leaf = registry.expand(names)
    groups = registry.list_groups()
    from_group = {m for n in names if n in groups for m in groups[n]}
    ddir = Path(data_dir) if data_dir is not None else default_data_dir()
    if ddir is not None and not ddir.is_dir():
        raise InvalidInput(f"data directory {ddir} does not exist")

    lm, model_info = resolve_model(model)
    check_capabilities(lm, leaf)

    t0 = time.perf_counter()
    prepared: list[_Prepared] = []
    skipped: dict[str, str] = {}
    for t in leaf:
        try:
            prepared.append(
                prepare(t, ddir, limit=limit, num_fewshot=num_fewshot, on_bad_row=on_bad_row, seed=seed)
            )
        except InvalidInput:
            raise
        except OndoError as exc:
            if t.name in from_group and t.name not in names:
                skipped[t.name] = str(exc)  # a group member whose data is not here (offline)
                continue
            raise
    if not prepared:
        raise OndoError(
            "no task has data here: " + "; ".join(f"{k}: {v}" for k, v in list(skipped.items())[:3])
        )

    stats = EngineStats()
    ll_requests = [
        LoglikelihoodRequest(ctx, p.task.target_delimiter + choice)
        for p in prepared
        if p.task.output_type == "multiple_choice"
        for rec, ctx in zip(p.docs, p.contexts, strict=True)
        for choice in p.task.choices(rec.doc)
    ]
    ll_results = (
        asyncio.run(
            run_loglikelihood(
                scoring_model(lm, cache), ll_requests, chunk_size=chunk_size, progress=progress, stats=stats
            )
        )
        if ll_requests
        else {}
    )
    gen_reqs: list[GenerateRequest] = []
    for p in prepared:
        if p.task.output_type == "generate_until":
            kw = dict(p.task.generation_kwargs)
            gen_reqs += [
                GenerateRequest(
                    prompt=ctx,
                    stop=list(kw.get("until", [])) or None,
                    max_tokens=int(kw.get("max_gen_toks", 256)),
                    temperature=0.0,
                )
                for ctx in p.contexts
            ]
    # generation goes through the request cache too: a killed generate_until run resumes where it stopped
    gen_out = (
        asyncio.run(run_generate(scoring_model(lm, cache), gen_reqs, progress=progress, stats=stats))
        if gen_reqs
        else []
    )

    task_results: dict[str, TaskResult] = {}
    item_rows: dict[str, list[dict[str, Any]]] = {}
    gi = 0
    for p in prepared:
        t = p.task
        rows: list[dict[str, Any]] = []
        for rec, ctx in zip(p.docs, p.contexts, strict=True):
            if t.output_type == "multiple_choice":
                choices = t.choices(rec.doc)
                res = [ll_results[(ctx, t.target_delimiter + c)] for c in choices]
                lls = [r.logprob for r in res]
                greedy = [bool(r.is_greedy) for r in res]
                sc = score_multiple_choice(t, rec.doc, lls, greedy)
                rows.append(
                    {
                        "doc_id": rec.doc_id,
                        "source_line": rec.line,
                        "prompt": ctx,
                        "choices": choices,
                        "loglikelihoods": lls,
                        "is_greedy": greedy,
                        "prediction": sc.prediction,
                        "gold": sc.gold,
                        "scores": sc.scores,
                        "score": sc.scores.get(t.metrics[0]),
                    }
                )
            else:
                text = gen_out[gi].text
                gi += 1
                sc = score_generation(t, rec.doc, text)
                rows.append(
                    {
                        "doc_id": rec.doc_id,
                        "source_line": rec.line,
                        "prompt": ctx,
                        "output": text,
                        "prediction": sc.prediction,
                        "gold": sc.gold,
                        "scores": sc.scores,
                        "score": sc.scores.get(t.metrics[0]),
                    }
                )
        metrics = aggregate([r["scores"] for r in rows], t.metrics)
        task_results[t.name] = TaskResult(
            t.name, metrics, len(rows), p.n_skipped, p.num_fewshot, t.group, p.bad_rows
        )
        item_rows[t.name] = rows

    group_results: dict[str, TaskResult] = {}
    for gname, members in groups.items():
        present = {m: task_results[m] for m in members if m in task_results}
        if not present or (gname not in names and not _wanted_subgroup(gname, names, groups)):
            continue
        metrics_names = next(iter(present.values())).metrics
        base = [m for m in metrics_names if not m.endswith("_stderr")]
        sub = {m: {"n": r.n_items, "metrics": r.metrics} for m, r in present.items()}
        group_results[gname] = TaskResult(
            gname,
            aggregate_group(sub, base),
            sum(r.n_items for r in present.values()),
            sum(r.n_skipped for r in present.values()),
            next(iter(present.values())).num_fewshot,
        )

    seconds = time.perf_counter() - t0
    stats_d = {
        "requests": stats.requests,
        "unique_requests": stats.unique_requests,
        "contexts": stats.contexts,
        "model_calls": stats.calls,
        "model_seconds": round(stats.seconds, 3),
    }
    result = BenchResult(None, model_info["spec"], task_results, group_results, seconds, stats_d, skipped)
    if track:
        result.run_id = _record(
            result,
            prepared,
            item_rows,
            model_info,
            lm,
            names,
            limit,
            num_fewshot,
            ddir,
            experiment,
            run_name,
            seed,
            workspace,
        )
    return result


def _wanted_subgroup(gname: str, names: Sequence[str], groups: dict[str, list[str]]) -> bool:
    """Category groups (mmlu_stem...) are reported when their parent group was asked for."""
    for n in names:
        if n in groups and gname != n and gname.startswith(n + "_") and set(groups[gname]) <= set(groups[n]):
            return True
    return False


def _record(
    result: BenchResult,
    prepared: list[_Prepared],
    item_rows: dict[str, list[dict[str, Any]]],
    model_info: dict[str, Any],
    lm: Any,
    names: list[str],
    limit: float | None,
    num_fewshot: int | None,
    ddir: Path | None,
    experiment: str,
    run_name: str | None,
    seed: int | None,
    workspace: Workspace | None,
) -> str:
    from ondo.tracking import start_run

    ws = workspace or Workspace.default()
    params = {
        "model": model_info["spec"],
        "model_fingerprint": getattr(lm, "fingerprint", model_info["spec"]),
        "tasks": ",".join(names),
        "limit": limit,
        "num_fewshot": num_fewshot,
        "fewshot_seed": seed,
        "data_dir": str(ddir) if ddir else None,
    }
    with start_run(
        experiment=experiment, params=params, name=run_name, tags={"kind": "benchmark"}, workspace=ws
    ) as run:
        if model_info.get("registry_ref"):
            run.record_input("model", model_info["registry_ref"], model_info.get("digest"))
        seen: set[str] = set()
        for p in prepared:
            for path, digest in p.files.items():
                if path not in seen:
                    seen.add(path)
                    ref = _data_ref(Path(path), ddir)
                    run.record_input("dataset", ref, digest)
        all_results = {**result.tasks, **result.groups}
        for name, r in all_results.items():
            run.log_metrics({f"{name}.{k}": v for k, v in r.metrics.items()})
            run.log_metrics({f"{name}.n_items": float(r.n_items), f"{name}.n_skipped": float(r.n_skipped)})
        run.log_metrics({"bench.seconds": result.seconds})
        run.flush()
        for p in prepared:
            t = p.task
            r = result.tasks[t.name]
            records.save_task(
                ws,
                run.id,
                t.name,
                metrics=r.metrics,
                n_items=r.n_items,
                n_skipped=r.n_skipped,
                num_fewshot=r.num_fewshot,
                group=t.group,
                config={**t.info(), "bad_rows": p.bad_rows[:50]},
            )
            records.save_items(ws, run.id, t.name, item_rows[t.name])
        for name, r in result.groups.items():
            records.save_task(
                ws,
                run.id,
                name,
                metrics=r.metrics,
                n_items=r.n_items,
                n_skipped=r.n_skipped,
                num_fewshot=r.num_fewshot,
                is_group=True,
                config={"subtasks": [m for m in registry.list_groups()[name] if m in result.tasks]},
            )
        if result.skipped_tasks:
            run.log_dict(result.skipped_tasks, "skipped_tasks.json")
        run_id: str = run.id
    return run_id


def _data_ref(path: Path, ddir: Path | None) -> str:
    if ddir is not None:
        try:
            return "file:" + str(path.resolve().relative_to(ddir.resolve()))
        except ValueError:
            pass
    return "file:" + str(path)
