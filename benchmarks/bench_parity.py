"""Benchmark parity and speed: ondo's benchmark runner against lm-evaluation-harness, same weights, same items.

Both score SmolLM2-135M-Instruct through transformers on CPU in float32: the bundled GGUF is converted
once to a Hugging Face folder (``from_pretrained(gguf_file=...)`` then ``save_pretrained``) and both
harnesses load that folder. lm-eval reads ondo's converted task data through custom task YAMLs
(``ondo.evals.bench.lmeval_bridge``: ``dataset_path: json`` + ``data_files``, lm-eval's own prompt
templates), so the items are identical. lm-eval runs its ``hf`` model at its default batch size 1.

Reports, per task: items, identical per-item predictions, accuracy of each, max |log-likelihood
difference|; wall time of each harness (model loading excluded, measured apart); tokens scored per
second against the model's measured forward-pass throughput on this machine.

    .venv/bin/python benchmarks/bench_parity.py --limit 200 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
MMLU_SLICE = ["anatomy", "astronomy", "high_school_biology", "marketing"]


def hf_model_dir() -> Path:
    """The bundled GGUF converted once to a transformers folder (cached under ondo's cache dir)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ondo.llm.weights import bundled_model_path, cache_dir

    out = cache_dir() / "bench-parity" / "smollm2-135m-instruct-hf"
    if (out / "model.safetensors").exists() and (out / "tokenizer.json").exists():
        return out
    gguf = bundled_model_path()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    cfg = model.config
    if hasattr(cfg, "quantization_config"):
        delattr(cfg, "quantization_config")  # dequantized already; a GGUF-marked model refuses to save
    plain = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    plain.load_state_dict(model.state_dict())
    out.mkdir(parents=True, exist_ok=True)
    plain.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def forward_limit(model: Any, seq: int = 256, reps: int = 3) -> float:
    """Tokens/s of plain batch-1 forward passes of ``seq`` tokens: the model's throughput ceiling here."""
    import torch

    x = torch.randint(100, 20000, (1, seq))
    with torch.inference_mode():
        model(input_ids=x, use_cache=False)
        t0 = time.perf_counter()
        for _ in range(reps):
            model(input_ids=x, use_cache=False)
    return seq * reps / (time.perf_counter() - t0)


def run_lmeval(model_dir: Path, include: Path, plan: list[tuple[list[str], int]]) -> dict[str, Any]:
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    t0 = time.perf_counter()
    lm = HFLM(pretrained=str(model_dir), batch_size=1, device="cpu", dtype="float32")
    load_s = time.perf_counter() - t0
    tm = TaskManager(include_path=str(include), include_defaults=False)
    samples: dict[str, list[dict[str, Any]]] = {}
    accs: dict[str, float] = {}
    t0 = time.perf_counter()
    for names, limit in plan:
        res = lm_eval.simple_evaluate(
            model=lm,
            tasks=[f"ondo_{n}" for n in names],
            limit=limit,
            num_fewshot=0,
            log_samples=True,
            task_manager=tm,
            bootstrap_iters=0,
        )
        for n in names:
            samples[n] = res["samples"][f"ondo_{n}"]
            accs[n] = res["results"][f"ondo_{n}"]["acc,none"]
    eval_s = time.perf_counter() - t0
    return {"load_s": load_s, "eval_s": eval_s, "samples": samples, "acc": accs, "hf": lm.model}


def run_ondo(model_dir: Path, data_dir: Path, plan: list[tuple[list[str], int]]) -> dict[str, Any]:
    from ondo.evals.bench import records
    from ondo.evals.bench.runner import evaluate, resolve_model
    from ondo.workspace import Workspace

    t0 = time.perf_counter()
    model, _ = resolve_model(f"hf:{model_dir}")  # ondo.llm's transformers engine
    if hasattr(model, "load"):
        model.load()
    load_s = time.perf_counter() - t0
    items: dict[str, list[dict[str, Any]]] = {}
    accs: dict[str, float] = {}
    t0 = time.perf_counter()
    ws = Workspace.default()
    for names, limit in plan:
        result = evaluate(
            model,
            names,
            limit=limit,
            num_fewshot=0,
            data_dir=data_dir,
            progress=False,
            cache=False,
            run_name="bench_parity",
        )
        for n in names:
            items[n] = records.items(ws, result.run_id, n)
            accs[n] = result.tasks[n].metrics["acc"]
    eval_s = time.perf_counter() - t0
    forward = getattr(model, "forward_tokens", None) or getattr(model, "tokens_scored", None)
    return {
        "load_s": load_s,
        "eval_s": eval_s,
        "items": items,
        "acc": accs,
        "tokens_forward": forward,
        "tokenizer": getattr(model, "tokenizer", None),
    }


def naive_tokens(tokenizer: Any, items: dict[str, list[dict[str, Any]]]) -> int:
    """Tokens a one-sequence-per-request scorer (lm-eval hf, batch 1) pushes through the model."""
    total = 0
    for rows in items.values():
        for it in rows:
            for ch in it["choices"]:
                total += len(tokenizer.encode(it["prompt"] + " " + ch)) - 1
    return total


def compare(lme: dict[str, Any], ondo: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {}
    for task, rows in ondo["items"].items():
        theirs = {s["doc_id"]: s for s in lme["samples"][task]}
        same = 0
        max_diff = 0.0
        for it in rows:
            s = theirs[it["doc_id"]]
            ref_lls = [float(r[0]) for r in s["filtered_resps"]]
            if int(np.argmax(ref_lls)) == int(it["prediction"]):
                same += 1
            max_diff = max(
                max_diff, max(abs(a - b) for a, b in zip(ref_lls, it["loglikelihoods"], strict=True))
            )
        n = len(rows)
        out[task] = {
            "items": n,
            "lm_eval_items": len(theirs),
            "same_prediction": same,
            "same_pct": 100.0 * same / n,
            "acc_lm_eval": lme["acc"][task],
            "acc_ondo": ondo["acc"][task],
            "acc_diff_points": 100.0 * abs(lme["acc"][task] - ondo["acc"][task]),
            "max_abs_ll_diff": max_diff,
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--limit", type=int, default=200, help="items per task (MMLU: split over the slice's subjects)"
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads for both harnesses")
    ap.add_argument(
        "--tasks",
        default="arc_easy,hellaswag,mmlu_slice,truthfulqa_mc2",
        help="any of arc_easy, hellaswag, mmlu_slice, truthfulqa_mc2",
    )
    ap.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("ONDO_DATA_DIR", REPO.parent / "shared/data"))
    )
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_parity.json")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    os.environ["ONDO_TORCH_THREADS"] = str(args.threads)
    os.environ["ONDO_HOME"] = tempfile.mkdtemp(prefix="ondo-parity-")
    from ondo.evals.bench.lmeval_bridge import write_lmeval_tasks

    model_dir = hf_model_dir()
    per_subject = max(1, args.limit // len(MMLU_SLICE))
    mmlu = [f"mmlu_{s}" for s in MMLU_SLICE]
    wanted = [t.strip() for t in args.tasks.split(",") if t.strip()]
    plain = [t for t in wanted if t != "mmlu_slice"]
    plan = ([(plain, args.limit)] if plain else []) + (
        [(mmlu, per_subject)] if "mmlu_slice" in wanted else []
    )
    include = Path(tempfile.mkdtemp(prefix="lmeval-tasks-"))
    write_lmeval_tasks([n for names, _ in plan for n in names], args.data_dir, include)

    print(f"torch threads {torch.get_num_threads()}; model {model_dir}", file=sys.stderr)
    lme = run_lmeval(model_dir, include, plan)
    limit_tps = forward_limit(lme.pop("hf"))
    ondo = run_ondo(model_dir, args.data_dir, plan)
    per_task = compare(lme, ondo)
    # the MMLU slice as one number, like lm-eval's size-weighted group mean
    sl = [per_task[m] for m in mmlu if m in per_task]
    if sl:
        n = sum(r["items"] for r in sl)
        acc_l = sum(r["acc_lm_eval"] * r["items"] for r in sl) / n
        acc_o = sum(r["acc_ondo"] * r["items"] for r in sl) / n
        per_task["mmlu_slice"] = {
            "items": n,
            "same_prediction": sum(r["same_prediction"] for r in sl),
            "same_pct": 100.0 * sum(r["same_prediction"] for r in sl) / n,
            "acc_lm_eval": acc_l,
            "acc_ondo": acc_o,
            "acc_diff_points": 100 * abs(acc_l - acc_o),
            "max_abs_ll_diff": max(r["max_abs_ll_diff"] for r in sl),
        }
    naive = naive_tokens(ondo["tokenizer"], ondo["items"])
    total_items = sum(len(v) for v in ondo["items"].values())
    total_same = sum(per_task[t]["same_prediction"] for t in ondo["items"])
    report = {
        "command": " ".join([".venv/bin/python", "benchmarks/bench_parity.py", *sys.argv[1:]]),
        "threads": args.threads,
        "model_dir": str(model_dir),
        "tasks": per_task,
        "overall_same_pct": 100.0 * total_same / total_items,
        "lm_eval": {"load_s": lme["load_s"], "eval_s": lme["eval_s"]},
        "ondo": {
            "load_s": ondo["load_s"],
            "eval_s": ondo["eval_s"],
            "forward_tokens": ondo["tokens_forward"],
        },
        "time_ratio_ondo_over_lm_eval": ondo["eval_s"] / lme["eval_s"],
        "forward_pass_limit_tok_s": limit_tps,
        "naive_tokens": naive,
        "lm_eval_tok_s": naive / lme["eval_s"],
        "ondo_forward_tok_s": (ondo["tokens_forward"] or 0) / ondo["eval_s"],
        "ondo_effective_tok_s": naive / ondo["eval_s"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print("| task | items | same prediction | acc lm-eval | acc ondo | diff (pts) | max abs ll diff |")
    print("|---|---|---|---|---|---|---|")
    for t, r in per_task.items():
        print(
            f"| {t} | {r['items']} | {r['same_prediction']} ({r['same_pct']:.2f}%) | {r['acc_lm_eval']:.4f} | "
            f"{r['acc_ondo']:.4f} | {r['acc_diff_points']:.2f} | {r['max_abs_ll_diff']:.2e} |"
        )
    print(json.dumps({k: v for k, v in report.items() if k != "tasks"}, indent=2))
    ok = report["overall_same_pct"] >= 99.5 and all(r["acc_diff_points"] <= 0.2 for r in per_task.values())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
