"""Text metrics: ondo vs sacrebleu and rouge-score on 20,000 real sentence pairs, same process.

Pairs come from ../shared/data MT-Bench: each model answer is split into line chunks
(every third chunk two lines, so ROUGE-Lsum sees newlines); chunk k of a model's answer is
paired with chunk k of GPT-4's reference answer, then with chunk k of every other model's
answer to the same question and turn, until 20,000 pairs.

Everything runs single-process, one after the other: no multiprocessing on either side.
Each measurement is the best of ``--repeat`` runs (BLEU: twice that), reference and ondo
interleaved; ondo's stem cache is cleared before every run so it starts cold like rouge-score. Equality is checked on all pairs (1e-9).

    .venv/bin/python benchmarks/text_metrics.py [--pairs 20000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ONDO_SHARED_DATA", REPO.parent / "shared" / "data"))
TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


def _chunks(text: str) -> list[str]:
    lines = [line for line in text.split("\n") if line.strip()]
    out, i, k = [], 0, 0
    while i < len(lines):
        size = 2 if k % 3 == 2 else 1
        out.append("\n".join(lines[i : i + size]))
        i += size
        k += 1
    return out


def build_pairs(n: int) -> list[tuple[str, str]]:
    answers: dict[tuple[str, int], list[str]] = {}
    for path in sorted((SHARED / "mt_bench" / "model_answer").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            answers[(path.stem, row["question_id"])] = row["choices"][0]["turns"]
    refs: dict[int, list[str]] = {}
    for line in (SHARED / "mt_bench" / "reference_answer_gpt-4.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        refs[row["question_id"]] = row["choices"][0]["turns"]
    models = sorted({m for m, _ in answers})
    qids = sorted({q for _, q in answers})
    pairs: list[tuple[str, str]] = []
    for q in sorted(refs):
        for m in models:
            for turn in range(2):
                if turn < len(refs[q]) and turn < len(answers[(m, q)]):
                    pairs.extend(zip(_chunks(answers[(m, q)][turn]), _chunks(refs[q][turn]), strict=False))
    for a, b in itertools.combinations(models, 2):
        for q in qids:
            for turn in range(2):
                ta, tb = answers[(a, q)], answers[(b, q)]
                if turn < len(ta) and turn < len(tb):
                    pairs.extend(zip(_chunks(ta[turn]), _chunks(tb[turn]), strict=False))
    if len(pairs) < n:
        raise SystemExit(f"only {len(pairs)} pairs available in {SHARED}")
    return pairs[:n]


def best_of(repeat: int, fn: Any, before: Any = None) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def duel(repeat: int, ref_fn: Any, ours_fn: Any, before_ours: Any = None) -> tuple[float, Any, float, Any]:
    """Best-of-``repeat`` times of the reference and of ondo, interleaved so load swings hit both."""
    t_ref = t_ours = float("inf")
    ref_out = ours_out = None
    for _ in range(repeat):
        t, ref_out = best_of(1, ref_fn)
        t_ref = min(t_ref, t)
        t, ours_out = best_of(1, ours_fn, before_ours)
        t_ours = min(t_ours, t)
    return t_ref, ref_out, t_ours, ours_out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import numpy as np
    import sacrebleu
    from rouge_score import rouge_scorer, scoring

    from ondo.evals import metrics
    from ondo.evals.metrics.stemmer import porter_stem

    pairs = build_pairs(args.pairs)
    preds = [p for p, _ in pairs]
    refs = [r for _, r in pairs]
    n = len(pairs)
    words = sum(len(p.split()) + len(r.split()) for p, r in pairs) / n
    multiline = sum(("\n" in p) or ("\n" in r) for p, r in pairs)

    # warm up imports and lazy module state on a small slice (not the timed data's caches)
    metrics.rouge(preds[:50], refs[:50], use_stemmer=True)
    metrics.bleu(preds[:50], refs[:50])
    sacrebleu.corpus_bleu(preds[:50], [refs[:50]])
    rouge_scorer.RougeScorer(TYPES, use_stemmer=True).score(refs[0], preds[0])

    results: dict[str, Any] = {"pairs": n, "mean_words_per_pair": round(words, 1), "multiline_pairs": multiline,
                               "repeat": args.repeat, "python": sys.version.split()[0], "processes": 1}

    # ---- ROUGE, with and without stemming
    for stem in (True, False):
        scorer = rouge_scorer.RougeScorer(TYPES, use_stemmer=stem)
        t_ref, theirs, t_ours, ours = duel(
            args.repeat, lambda s=scorer: [s.score(r, p) for p, r in pairs],
            lambda s=stem: metrics.rouge(preds, refs, use_stemmer=s), porter_stem.cache_clear)
        diff = max(abs(a - b) for mine, ref in zip(ours.items, theirs, strict=True) for t in TYPES
                   for a, b in zip(mine[t], ref[t], strict=True))
        key = "rouge_stem" if stem else "rouge_nostem"
        results[key] = {"rouge_score_pairs_per_s": n / t_ref, "ondo_pairs_per_s": n / t_ours,
                        "speedup": t_ref / t_ours, "max_abs_diff": diff}

    # ---- ROUGE bootstrap aggregate (seeded) on the stemmed scores
    scorer = rouge_scorer.RougeScorer(TYPES, use_stemmer=True)
    theirs_items = [scorer.score(r, p) for p, r in pairs]
    ours = metrics.rouge(preds, refs, use_stemmer=True, seed=7)

    def rouge_score_aggregate() -> dict[str, Any]:
        agg = scoring.BootstrapAggregator()
        for item in theirs_items:
            agg.add_scores(item)
        np.random.seed(7)
        return agg.aggregate()

    t_ref, agg_theirs = best_of(1, rouge_score_aggregate)

    def ours_aggregate() -> dict[str, Any]:
        ours.__dict__.pop("aggregate", None)
        return ours.aggregate

    t_ours, agg_ours = best_of(1, ours_aggregate)
    agg_diff = max(abs(a - b) for t in TYPES for bound in ("low", "mid", "high")
                   for a, b in zip(getattr(agg_ours[t], bound), getattr(agg_theirs[t], bound), strict=True))
    results["rouge_bootstrap"] = {"rouge_score_s": t_ref, "ondo_s": t_ours, "max_abs_diff": agg_diff}

    # ---- BLEU (13a, corpus)
    t_ref, b_theirs, t_ours, b_ours = duel(2 * args.repeat, lambda: sacrebleu.corpus_bleu(preds, [refs]),
                                           lambda: metrics.bleu(preds, refs))
    results["bleu"] = {"sacrebleu_pairs_per_s": n / t_ref, "ondo_pairs_per_s": n / t_ours, "speedup": t_ref / t_ours,
                       "score": b_ours.score, "abs_diff": abs(b_ours.score - b_theirs.score),
                       "counts_equal": b_ours.counts == b_theirs.counts and b_ours.totals == b_theirs.totals}

    # ---- chrF++ (informational)
    t_ref, c_theirs = best_of(1, lambda: sacrebleu.corpus_chrf(preds, [refs], word_order=2))
    t_ours, c_ours = best_of(1, lambda: metrics.chrf(preds, refs, word_order=2))
    results["chrf++"] = {"sacrebleu_pairs_per_s": n / t_ref, "ondo_pairs_per_s": n / t_ours, "speedup": t_ref / t_ours,
                         "abs_diff": abs(c_ours.score - c_theirs.score)}

    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{n} pairs, {words:.1f} words per pair, {multiline} with newlines; single process, best of {args.repeat}")
    for key, label, ref_name in [("rouge_stem", "ROUGE 1/2/L/Lsum, stemming", "rouge-score"),
                                 ("rouge_nostem", "ROUGE 1/2/L/Lsum, no stemming", "rouge-score")]:
        r = results[key]
        print(f"{label:32s} {ref_name}: {r['rouge_score_pairs_per_s']:9.0f} pairs/s   ondo: "
              f"{r['ondo_pairs_per_s']:9.0f} pairs/s   x{r['speedup']:.1f}   max |diff| {r['max_abs_diff']:.1e}")
    r = results["rouge_bootstrap"]
    print(f"{'ROUGE bootstrap (1000 samples)':32s} rouge-score: {r['rouge_score_s']:.2f} s   ondo: {r['ondo_s']:.2f} s"
          f"   max |diff| {r['max_abs_diff']:.1e}")
    r = results["bleu"]
    print(f"{'BLEU corpus, 13a':32s} sacrebleu:   {r['sacrebleu_pairs_per_s']:9.0f} pairs/s   ondo: "
          f"{r['ondo_pairs_per_s']:9.0f} pairs/s   x{r['speedup']:.1f}   |diff| {r['abs_diff']:.1e}"
          f"   counts equal: {r['counts_equal']}")
    r = results["chrf++"]
    print(f"{'chrF++ corpus':32s} sacrebleu:   {r['sacrebleu_pairs_per_s']:9.0f} pairs/s   ondo: "
          f"{r['ondo_pairs_per_s']:9.0f} pairs/s   x{r['speedup']:.1f}   |diff| {r['abs_diff']:.1e}")
    ok = (results["rouge_stem"]["max_abs_diff"] <= 1e-9 and results["rouge_nostem"]["max_abs_diff"] <= 1e-9
          and results["bleu"]["abs_diff"] <= 1e-9 and results["bleu"]["counts_equal"]
          and results["rouge_bootstrap"]["max_abs_diff"] <= 1e-9 and results["chrf++"]["abs_diff"] <= 1e-9)
    print("equal to the references (1e-9):", ok)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
