"""The LLM-as-judge part of ``make run``: a few MT-Bench questions judged by the bundled model, and an
arena leaderboard built from pairwise verdicts on the published answer sets.

Kept small for a 2-core laptop: one short question (both turns), a 48-token judge budget with
grammar-constrained verdicts, three published models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ondo.workspace import Workspace

DEMO_QUESTIONS = (136,)
DEMO_MODELS = ("gpt-4", "vicuna-13b-v1.3", "llama-13b")


def run_demo(ws: Workspace | None = None, echo: Callable[[str], None] = print, *, judge: str = "local:smollm2",
             questions: Sequence[int] = DEMO_QUESTIONS, models: Sequence[str] = DEMO_MODELS) -> dict[str, object]:
    from ondo.evals.arena import ratings_for
    from ondo.evals.judge.runner import evaluate_mt_bench

    ws = ws or Workspace.default()
    single = evaluate_mt_bench(models[0], judge, question_ids=list(questions), judge_max_tokens=48, workspace=ws,
                               experiment="demo-mt-bench")
    s = single.summary()
    echo(f"MT-Bench single grading of {models[0]} by {judge} (questions {list(questions)}): score {s['score']}, "
         f"turn 1 {s['turn1']}, turn 2 {s['turn2']}, {s['unparsed']} unparsed; run {single.run_id}")
    pair = evaluate_mt_bench(list(models), judge, mode="pairwise", question_ids=list(questions), judge_max_tokens=48,
                             workspace=ws, experiment="demo-mt-bench")
    p = pair.summary()
    echo(f"pairwise, all pairs of {', '.join(models)}: {p['pairs']} pair outcomes, {p['inconsistent']} flipped "
         f"with the order (ties), {p['unparsed']} unparsed; run {pair.run_id}")
    rows = ratings_for(ws, system="bt", run_id=pair.run_id, rounds=50)
    echo("arena leaderboard (Bradley-Terry, 95% bootstrap CI):")
    for r in rows:
        echo(f"  {r.rank:>2}  {r.model:<18} {r.rating:7.1f}  [{r.ci_low:7.1f}, {r.ci_high:7.1f}]  {r.battles} battles")
    return {"single": s, "pairwise": p, "leaderboard": [r.to_dict() for r in rows]}
