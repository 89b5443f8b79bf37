"""``ondo eval mt-bench``: MT-Bench / KoMT-Bench judged by a model (single grading or pairwise)."""

from __future__ import annotations

from typing import Any

import typer

from ondo.cli.output import JsonOption, print_json, print_table
from ondo.errors import InvalidInput


def _split(values: list[str]) -> list[str]:
    return [v.strip() for raw in values for v in raw.split(",") if v.strip()]


def _fmt(v: Any) -> str:
    return "" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def mt_bench(
    model: list[str] = typer.Option(..., "--model", "-m", help="published answer set (gpt-4, alpaca-13b, ...) or a "
                                    "model spec to generate answers; repeat or comma-separate for several"),
    judge: str = typer.Option(..., "--judge", "-j", help="judge model spec, e.g. local:smollm2 or openai:gpt-4"),
    mode: str = typer.Option("single", "--mode", help="single (1-10 grading) or pairwise"),
    baseline: str | None = typer.Option(None, "--baseline", help="pairwise: compare against this model "
                                        "(without it: all pairs of --model)"),
    suite: str = typer.Option("en", "--suite", help="en (MT-Bench) or ko (KoMT-Bench)"),
    questions: str | None = typer.Option(None, "--questions", help="question ids, e.g. 81,82"),
    limit: int | None = typer.Option(None, "--limit", help="only the first N questions"),
    concurrency: int = typer.Option(8, "--concurrency", help="judge calls in flight at once"),
    max_retries: int = typer.Option(2, "--max-retries", help="re-asks for an unparseable verdict"),
    judge_max_tokens: int = typer.Option(2048, "--judge-max-tokens", help="judge output budget (FastChat: 2048)"),
    max_new_tokens: int = typer.Option(1024, "--max-new-tokens", help="answer length when generating"),
    constrain: str = typer.Option("auto", "--constrain", help="auto | grammar | json | none (verdict decoding)"),
    prompt_alias: str | None = typer.Option(None, "--prompt-alias", help="use judge prompts at this alias"),
    experiment: str = typer.Option("mt-bench", "--experiment"),
    data_dir: str | None = typer.Option(None, "--data-dir", help="folder holding mt_bench/ (default: shared data)"),
    json_out: bool = JsonOption,
) -> None:
    """Judge a model on MT-Bench (FastChat's llm_judge); the result is a run."""
    from ondo.evals.judge import evaluate_mt_bench

    if questions is not None and limit is not None:
        raise InvalidInput("give --questions or --limit, not both")
    qids: list[int] | None = None
    if questions is not None:
        try:
            qids = [int(x) for x in _split([questions])]
        except ValueError:
            raise InvalidInput(f"--questions expects ids like 81,82, got {questions!r}") from None
    if suite not in ("en", "ko"):
        raise InvalidInput(f"--suite must be en or ko, got {suite!r}")
    from ondo.evals.judge.engine import CONSTRAIN_MODES

    if constrain not in CONSTRAIN_MODES:
        raise InvalidInput(f"--constrain must be one of {', '.join(CONSTRAIN_MODES)}")
    res = evaluate_mt_bench(
        _split(model), judge, mode=mode, baseline=baseline, suite=suite, question_ids=qids, limit=limit,
        concurrency=concurrency, max_retries=max_retries, judge_max_tokens=judge_max_tokens,
        answer_max_tokens=max_new_tokens, constrain=constrain, prompt_alias=prompt_alias, experiment=experiment,
        data_dir=data_dir,
    )
    summary = res.summary()
    if json_out:
        print_json(summary)
        return
    title = f"MT-Bench ({res.suite}, {res.mode}) judged by {res.judge}: run {res.run_id}"
    if res.mode == "single":
        print_table(["model", "score", "turn 1", "turn 2", "judged", "unparsed"],
                    [(m, _fmt(s["score"]), _fmt(s["turn1"]), _fmt(s["turn2"]), s["judged"], s["unparsed"])
                     for m, s in summary["results"].items()], title=title)
    else:
        print_table(["model", "win", "loss", "tie", "win rate", "adjusted win rate", "unparsed"],
                    [(m, s["win"], s["loss"], s["tie"], _fmt(s["win_rate"]), _fmt(s["win_rate_adjusted"]),
                      s["unparsed"]) for m, s in summary["results"].items()], title=title)
    typer.echo(f"{summary['verdicts']} verdicts, {summary['unparsed']} unparsed, {summary['judge_calls']} judge calls "
               f"({summary['cached_calls']} from cache)")


def register(eval_app: typer.Typer) -> None:
    eval_app.command("mt-bench")(mt_bench)
