"""``evaluate_mt_bench``: answers (published or generated), judge verdicts, numbers, all as one run.

The run records the evaluated models and the judge as inputs, the judge prompt versions (rendered
through the registry), metrics (``mt_bench.score``, ``mt_bench.turn1``, ``mt_bench.turn2``,
``mt_bench.<category>``, ``mt_bench.win_rate``, ``mt_bench.win_rate_adjusted``, ``mt_bench.unparsed``
...; ``ko_mt_bench.*`` for KoMT-Bench), every verdict with its explanation (table ``judge_verdicts``),
the answers judged, and, for pairwise judging, one arena battle per consistent-or-tied pair outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ondo.errors import InvalidInput
from ondo.evals.judge import prompt_set as ps
from ondo.evals.judge.engine import CallStats, Judge, Limiter, Verdict, generate_answers
from ondo.evals.judge.matches import make_pair_matches, make_single_matches
from ondo.evals.judge.mtbench import MAX_NEW_TOKENS, Question, Suite, load_suite
from ondo.evals.judge.results import (
    PairOutcome,
    PairwiseScores,
    SingleScores,
    pair_outcomes,
    pairwise_scores,
    single_scores,
)
from ondo.store.tables.judge import judge_answers, judge_verdicts
from ondo.workspace import Workspace

MODES = ("single", "pairwise")


@dataclass
class MTBenchResult:
    run_id: str | None
    suite: str
    mode: str
    judge: str
    models: list[str]
    baseline: str | None
    question_ids: list[int]
    verdicts: list[Verdict]
    single: dict[str, SingleScores] = field(default_factory=dict)
    pairwise: dict[str, PairwiseScores] = field(default_factory=dict)
    outcomes: list[PairOutcome] = field(default_factory=list)
    stats: CallStats = field(default_factory=CallStats)
    prompts: dict[str, str | None] = field(default_factory=dict)

    @property
    def unparsed(self) -> int:
        """Verdicts that stayed unparseable after every retry (never averaged in)."""
        return sum(1 for v in self.verdicts if not v.parsed)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "run_id": self.run_id, "suite": self.suite, "mode": self.mode, "judge": self.judge,
            "models": self.models, "baseline": self.baseline, "questions": len(self.question_ids),
            "question_ids": self.question_ids, "verdicts": len(self.verdicts), "unparsed": self.unparsed,
            "judge_calls": self.stats.calls, "retries": self.stats.retries, "cached_calls": self.stats.cached,
            "prompts": self.prompts,
        }
        primary = self.models[0] if self.models else None
        if self.mode == "single":
            out["results"] = {m: s.to_dict() for m, s in self.single.items()}
            if primary in self.single:
                s = self.single[primary]
                out.update(score=s.score, turn1=s.turn1, turn2=s.turn2, categories=s.categories)
        else:
            out["results"] = {m: s.to_dict() for m, s in self.pairwise.items()}
            out["pairs"] = len(self.outcomes)
            out["inconsistent"] = sum(1 for o in self.outcomes if not o.error and not o.consistent)
            if primary in self.pairwise:
                d = self.pairwise[primary].to_dict()
                out.update({k: d[k] for k in ("win", "loss", "tie", "win_rate", "loss_rate", "win_rate_adjusted",
                                              "turn1", "turn2", "categories")})
        return out

    def metrics(self) -> dict[str, float]:
        prefix = "mt_bench" if self.suite == "en" else f"{self.suite}_mt_bench"
        m: dict[str, float] = {f"{prefix}.unparsed": float(self.unparsed)}
        primary = self.models[0] if self.models else None
        if self.mode == "single" and primary in self.single:
            s = self.single[primary]
            for key, value in (("score", s.score), ("turn1", s.turn1), ("turn2", s.turn2)):
                if value is not None:
                    m[f"{prefix}.{key}"] = value
            for cat, value in s.categories.items():
                m[f"{prefix}.{cat}"] = value
        elif self.mode == "pairwise" and primary in self.pairwise:
            d = self.pairwise[primary].to_dict()
            for key in ("win_rate", "loss_rate", "win_rate_adjusted"):
                if d[key] is not None:
                    m[f"{prefix}.{key}"] = d[key]
            for t in (1, 2):
                turn = d.get(f"turn{t}")
                if turn and turn["win_rate"] is not None:
                    m[f"{prefix}.turn{t}.win_rate"] = turn["win_rate"]
                    m[f"{prefix}.turn{t}.win_rate_adjusted"] = turn["win_rate_adjusted"]
        return m


_HTTP_SCHEMES = ("http://", "https://", "openai:", "ollama:")
_LOCAL_SCHEMES = ("local:", "llamacpp:")
# A local llama.cpp judge's context: MT-Bench's longest judge prompt (turn 2, pairwise, four long answers:
# ~3.5k tokens with SmolLM2's tokenizer) plus FastChat's 2,048-token judgment. llama.cpp's usual 2,048 would
# refuse the turn-2 prompts of question 81 and others outright.
LOCAL_N_CTX = 8192


def _load(spec: Any, *, cache: bool, concurrency: int | None = None, ws: Workspace | None = None,
          **opts: Any) -> Any:
    """A model from a spec string (through the request cache) or a model object as given. An HTTP
    provider gets ``concurrency`` as its own connection limit, so the judge's limit is the one in force;
    a local llama.cpp model gets a context of ``LOCAL_N_CTX`` unless the spec sets ``n_ctx``."""
    if not isinstance(spec, str):
        return spec
    from ondo.llm import load_model

    if concurrency is not None and spec.startswith(_HTTP_SCHEMES):
        opts.setdefault("max_concurrency", concurrency)
    if spec.startswith(_LOCAL_SCHEMES) and "n_ctx=" not in spec:
        opts.setdefault("n_ctx", LOCAL_N_CTX)

    model = load_model(spec, **opts)
    if cache:
        try:
            from ondo.llm import CachedModel
        except (ImportError, AttributeError):  # the cache has not landed in this build
            return model
        return CachedModel(model, ws)
    return model


def _is_spec(spec: str) -> bool:
    from ondo.llm.spec import SCHEMES

    return spec.startswith(("http://", "https://")) or spec.partition(":")[0] in SCHEMES


def _resolve_model(spec: Any, su: Suite, ws: Workspace, *, cache: bool, concurrency: int, run: Any,
                   recorded: set[str]) -> Any:
    """A model to generate answers with: a spec (``local:smollm2``), a registry version
    (``assistant@staging``, recorded on the run with its digest), or a Model object."""
    if not isinstance(spec, str) or _is_spec(spec):
        return _load(spec, cache=cache, concurrency=concurrency, ws=ws)
    from ondo.errors import NotFound

    try:
        from ondo.llm import load_model_from_source
        from ondo.registry import models as registry
    except ImportError:  # pragma: no cover - the registry is part of ondo
        registry = None  # type: ignore[assignment]
    if registry is not None:
        try:
            mv = registry.get(ws, spec)
        except NotFound:
            mv = None
        except InvalidInput:
            mv = None
        if mv is not None:
            if run is not None:
                run.record_input("model", mv.ref, digest=mv.digest)
            recorded.add(spec)
            model = load_model_from_source(mv.api if mv.is_api else str(mv.source), **_version_opts(mv, concurrency))
            if cache:
                from ondo.llm import CachedModel

                return CachedModel(model, ws)
            return model
    known = su.published_models() + (registry.names(ws) if registry is not None else [])
    raise NotFound("model (published MT-Bench answer set, registered model or spec such as local:smollm2)",
                   spec, known)


def load_judge(spec: Any, ws: Workspace, *, cache: bool = True, concurrency: int | None = None) -> tuple[Any, str]:
    """(model, name) of a judge: a spec (``local:smollm2``, ``http://host/v1#model``, ``openai:gpt-4o``), a
    registered model version (``judge@production``; named by its canonical ``name/N``, so battles and votes
    say which version judged), or a Model object."""
    if not isinstance(spec, str) or _is_spec(spec):
        return _load(spec, cache=cache, concurrency=concurrency, ws=ws), _name(spec)
    from ondo.errors import NotFound
    from ondo.llm import load_model_from_source
    from ondo.registry import models as registry

    try:
        mv = registry.get(ws, spec)
    except (NotFound, InvalidInput):
        raise NotFound("judge (a model spec such as local:smollm2 or openai:gpt-4o, or a registered model)",
                       spec, registry.names(ws)) from None
    model = load_model_from_source(mv.api if mv.is_api else str(mv.source), **_version_opts(mv, concurrency))
    if cache:
        from ondo.llm import CachedModel

        model = CachedModel(model, ws)
    return model, str(mv.ref)


def _version_opts(mv: Any, concurrency: int | None) -> dict[str, Any]:
    """What ``_load`` gives a spec string, for a registered model version: an API model gets the run's
    connection limit, local GGUF weights the ``LOCAL_N_CTX`` context (MT-Bench prompts pass 2,048 tokens)."""
    from ondo.llm.spec import gguf_of

    if mv.is_api:
        return {"max_concurrency": concurrency} if concurrency is not None else {}
    return {"n_ctx": LOCAL_N_CTX} if gguf_of(Path(str(mv.source)).expanduser()) is not None else {}


def _name(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    return str(getattr(spec, "model_name", None) or getattr(spec, "fingerprint", None) or type(spec).__name__)


def evaluate_mt_bench(
    models: str | Any | Sequence[str | Any],
    judge: str | Any,
    *,
    mode: str = "single",
    baseline: str | Any | None = None,
    suite: str | Suite = "en",
    question_ids: Sequence[int] | None = None,
    limit: int | None = None,
    concurrency: int = 8,
    max_retries: int = 2,
    judge_max_tokens: int = 2048,
    answer_max_tokens: int = MAX_NEW_TOKENS,
    constrain: str = "auto",
    prompt_alias: str | None = None,
    experiment: str = "mt-bench",
    data_dir: str | None = None,
    seed: int = 0,
    cache: bool = True,
    workspace: Workspace | None = None,
    record: bool = True,
) -> MTBenchResult:
    """Judge ``models`` on MT-Bench with ``judge``; a model is a published answer set name (``gpt-4``),
    a model spec to generate answers with (``local:smollm2``), or a Model object.

    ``mode='pairwise'`` compares each model with ``baseline`` or, without one, all pairs of ``models``.
    """
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if limit is not None and limit < 1:
        raise InvalidInput(f"limit must be at least 1 question, got {limit}", field="limit")
    if question_ids:
        question_ids = list(dict.fromkeys(int(q) for q in question_ids))  # a repeated id is judged once
    ws = workspace or Workspace.default()
    su = suite if isinstance(suite, Suite) else load_suite(suite, data_dir)
    specs = [models] if isinstance(models, str) or not isinstance(models, Sequence) else list(models)
    if mode == "pairwise":
        if baseline is not None and len(specs) == 1 and _name(baseline) == _name(specs[0]):
            raise InvalidInput(f"the baseline {_name(baseline)} is also the model under test; "
                               "compare it with a different model")
        if baseline is not None and all(_name(baseline) != _name(s) for s in specs):
            specs.append(baseline)
        if len(specs) < 2:
            raise InvalidInput("pairwise judging needs a --baseline or at least two models")
    names = [_name(s) for s in specs]
    if len(set(names)) != len(names):
        raise InvalidInput(f"a model is named twice: {names}")
    questions = su.select(list(question_ids) if question_ids else None, limit)
    if not questions:
        raise InvalidInput("no questions selected")
    base_name = _name(baseline) if baseline is not None else None
    if base_name is not None and names[0] == base_name and len(names) > 1:  # the baseline is never "the" model
        specs = sorted(specs, key=lambda s: _name(s) == base_name)
        names = [_name(s) for s in specs]
    judge_model, judge_name = load_judge(judge, ws, cache=cache, concurrency=concurrency)
    limiter = Limiter(concurrency)
    params = {
        "suite": su.name, "mode": mode, "judge": judge_name, "models": ",".join(names), "baseline": base_name or "",
        "questions": ",".join(str(q.question_id) for q in questions), "concurrency": concurrency,
        "max_retries": max_retries, "judge_max_tokens": judge_max_tokens, "answer_max_tokens": answer_max_tokens,
        "constrain": constrain, "seed": seed,
    }
    if not record:
        return asyncio.run(_evaluate(ws, su, specs, names, questions, judge_model, judge_name, mode, base_name, limiter,
                                     max_retries, judge_max_tokens, answer_max_tokens, constrain, prompt_alias, seed,
                                     cache, None, set()))
    import ondo

    with ondo.start_run(experiment=experiment, params=params, tags={"eval": "mt_bench", "mode": mode},
                        workspace=ws) as run:
        recorded: set[str] = set()
        result = asyncio.run(_evaluate(ws, su, specs, names, questions, judge_model, judge_name, mode, base_name,
                                       limiter, max_retries, judge_max_tokens, answer_max_tokens, constrain,
                                       prompt_alias, seed, cache, run, recorded))
        result.run_id = str(run.id)
        _store(ws, result, run)
        run.log_metrics(result.metrics())
        run.log_dict(result.summary(), "mt_bench_summary.json")
        for spec, name in zip(specs, names, strict=True):
            if name in recorded:
                continue  # a registry version, already recorded with its digest
            digest = getattr(spec, "fingerprint", None) if not isinstance(spec, str) else None
            run.record_input("model", name, digest=digest if isinstance(digest, str) else None)
        if not (isinstance(judge, str) and not _is_spec(judge)):
            # a registered judge is named by the judge tag only: as a model input, the registry's promotion
            # gate would read this run's scores as the judge's own
            run.record_input("model", judge_name)
        run.set_tags({"judge": judge_name})
    return result


async def _evaluate(ws: Workspace, su: Suite, specs: list[Any], names: list[str], questions: list[Question],
                    judge_model: Any, judge_name: str, mode: str, baseline: str | None, limiter: Limiter,
                    max_retries: int, judge_max_tokens: int, answer_max_tokens: int, constrain: str,
                    prompt_alias: str | None, seed: int, cache: bool, run: Any, recorded: set[str]) -> MTBenchResult:
    t0 = time.perf_counter()
    answers: dict[str, dict[int, tuple[str, ...]]] = {}
    generated: set[str] = set()
    for spec, name in zip(specs, names, strict=True):
        if isinstance(spec, str) and spec in su.published_models():
            published = su.published_answers(spec)
            missing = [q.question_id for q in questions if q.question_id not in published]
            if missing:
                raise InvalidInput(f"published answers of {spec} lack questions {missing}")
            answers[name] = {q.question_id: published[q.question_id] for q in questions}
        else:
            model = _resolve_model(spec, su, ws, cache=cache, concurrency=limiter.limit, run=run, recorded=recorded)
            answers[name] = await generate_answers(model, questions, limiter=limiter, max_tokens=answer_max_tokens,
                                                   seed=seed)
            generated.add(name)
    prompts = ps.registered(su, ws, prompt_alias) if ws is not None else ps.from_suite(su)
    for q in questions:
        if q.needs_reference and q.question_id not in su.references:
            raise InvalidInput(f"question {q.question_id} ({q.category}) needs a reference answer and has none")
    j = Judge(judge_model, name=judge_name, max_tokens=judge_max_tokens, max_retries=max_retries, limiter=limiter,
              constrain=constrain)
    verdicts: list[Verdict] = []
    if mode == "single":
        smatches = make_single_matches(questions, names, answers, prompts, su.references)
        verdicts = list(await asyncio.gather(*(j.single(m) for m in smatches)))
    else:
        pmatches = make_pair_matches(questions, names, answers, prompts, su.references, baseline)
        for pair in await asyncio.gather(*(j.pair(m) for m in pmatches)):
            verdicts.extend(pair)
    limiter.stats.wall_s = time.perf_counter() - t0
    result = MTBenchResult(
        run_id=None, suite=su.name, mode=mode, judge=judge_name, models=names, baseline=baseline,
        question_ids=[q.question_id for q in questions], verdicts=verdicts, stats=limiter.stats,
        prompts={p.name: p.ref for p in prompts.prompts.values()},
    )
    if mode == "single":
        result.single = single_scores(verdicts)
    else:
        result.outcomes = pair_outcomes(verdicts)
        result.pairwise = pairwise_scores(result.outcomes, baseline)
    result._answers = answers  # type: ignore[attr-defined]
    result._generated = generated  # type: ignore[attr-defined]
    result._questions = {q.question_id: q for q in questions}  # type: ignore[attr-defined]
    return result


def _store(ws: Workspace, result: MTBenchResult, run: Any) -> None:
    from ondo.evals.arena.battles import Battle, add_battles

    now = time.time()
    rows = [{
        "run_id": result.run_id, "suite": result.suite, "mode": v.mode, "question_id": v.question_id,
        "category": v.category, "turn": v.turn, "game": v.game, "model": v.model, "model_b": v.model_b,
        "judge": result.judge, "prompt_name": v.prompt_name, "prompt_ref": v.prompt_ref, "user_prompt": v.user_prompt,
        "judgment": v.judgment, "score": v.score, "winner": v.winner, "parsed": v.parsed, "attempts": v.attempts,
        "created_at": now,
    } for v in result.verdicts]
    answers: dict[str, dict[int, tuple[str, ...]]] = getattr(result, "_answers", {})
    generated: set[str] = getattr(result, "_generated", set())
    answer_rows = [{"run_id": result.run_id, "model": m, "question_id": qid, "turns": list(turns),
                    "generated": m in generated} for m, per in answers.items() for qid, turns in per.items()]

    def write(conn: sa.Connection) -> None:
        for i in range(0, len(rows), 500):
            conn.execute(judge_verdicts.insert(), rows[i:i + 500])
        for i in range(0, len(answer_rows), 500):
            conn.execute(judge_answers.insert(), answer_rows[i:i + 500])

    ws.write(write)
    if result.mode == "pairwise":
        questions: dict[int, Question] = getattr(result, "_questions", {})
        battles = []
        for o in result.outcomes:
            if o.error:
                continue  # no verdict, no battle (counted as unparsed)
            q = questions.get(o.question_id)
            prompt = q.turns[o.turn - 1] if q is not None and len(q.turns) >= o.turn else f"question {o.question_id}"
            outcome = {"model_1": "a", "model_2": "b"}.get(o.outcome or "", "tie")
            battles.append(Battle(model_a=o.model_1, model_b=o.model_2, outcome=outcome, prompt=prompt,
                                  judge=result.judge, source="judge", run_id=result.run_id, created_at=now))
        add_battles(ws, battles)


def load_verdicts(ws: Workspace, run_id: str) -> list[dict[str, Any]]:
    """Every verdict of a run, explanation included, in question / turn / game order."""
    q = (sa.select(judge_verdicts).where(judge_verdicts.c.run_id == run_id)
         .order_by(judge_verdicts.c.question_id, judge_verdicts.c.turn, judge_verdicts.c.model,
                   judge_verdicts.c.model_b, judge_verdicts.c.game))
    with ws.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def load_answers(ws: Workspace, run_id: str) -> dict[str, dict[int, tuple[str, ...]]]:
    q = sa.select(judge_answers).where(judge_answers.c.run_id == run_id).order_by(judge_answers.c.id)
    out: dict[str, dict[int, tuple[str, ...]]] = {}
    with ws.read() as conn:
        for r in conn.execute(q):
            out.setdefault(r.model, {})[r.question_id] = tuple(r.turns)
    return out
