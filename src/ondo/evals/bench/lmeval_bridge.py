"""Hand ondo's task data to lm-evaluation-harness, so both score the very same items.

``write_lmeval_tasks(names, data_dir, out_dir)`` writes, for each task, the converted documents as
JSONL and an lm-eval task YAML that reads them (``dataset_path: json`` with ``data_files``) using
lm-eval's own prompt templates copied from its task configs. Run lm-eval with
``--include_path out_dir --tasks ondo_<name>``. Parity tests and ``benchmarks/bench_parity.py`` use it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ondo.evals.bench import registry
from ondo.evals.bench.task import Task
from ondo.evals.bench.tasks import mmlu as mmlu_mod
from ondo.evals.bench.tasks.truthfulqa import QA_PROMPT

_ARC = {
    "doc_to_text": "Question: {{question}}\nAnswer:",
    "doc_to_target": "{{choices.label.index(answerKey)}}",
    "doc_to_choice": "{{choices.text}}",
    "metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}],
}
_MMLU = {
    "doc_to_text": mmlu_mod.TASKS[0].doc_to_text,
    "doc_to_choice": ["A", "B", "C", "D"],
    "doc_to_target": "answer",
    "fewshot_config": {"sampler": "first_n"},
    "metric_list": [{"metric": "acc"}],
}
_HELLASWAG = {
    "doc_to_text": "{{query}}",
    "doc_to_target": "{{label}}",
    "doc_to_choice": "choices",
    "metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}],
}
_KMMLU = {
    "doc_to_text": "{{question.strip()}}\nA. {{A}}\nB. {{B}}\nC. {{C}}\nD. {{D}}\n정답：",
    "doc_to_choice": ["A", "B", "C", "D"],
    "doc_to_target": "{{answer-1}}",
    "metric_list": [{"metric": "acc"}],
}
_TQA_TEXT = "{{prompt_qa + '\\n\\nQ: ' + question + '\\nA:'}}"


def _tqa(which: str) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "doc_to_text": "{% set prompt_qa = " + json.dumps(QA_PROMPT, ensure_ascii=False) + " %}" + _TQA_TEXT,
        "doc_to_target": 0,
        "doc_to_choice": "{{" + which + "_targets.choices}}",
        "num_fewshot": 0,
        "metric_list": [{"metric": "acc"}],
    }
    if which == "mc2":
        cfg["process_results"] = "!function ondo_utils.process_results_mc2"
    return cfg


def _config_for(task: Task) -> dict[str, Any]:
    if task.name in ("arc_easy", "arc_challenge"):
        return dict(_ARC)
    if task.name in ("hellaswag", "ko_hellaswag", "haerae"):
        return dict(_HELLASWAG)
    if task.name.startswith("mmlu_"):
        return {**_MMLU, "description": task.description}
    if task.name.startswith("kmmlu_") and task.output_type == "multiple_choice":
        return dict(_KMMLU)
    if task.name == "kornli":  # choices precomputed into the exported docs (see write_lmeval_tasks)
        return {
            "doc_to_text": "",
            "doc_to_choice": "choices",
            "doc_to_target": "label",
            "metric_list": [{"metric": "acc"}],
        }
    if task.name == "truthfulqa_mc1":
        return _tqa("mc1")
    if task.name == "truthfulqa_mc2":
        return _tqa("mc2")
    raise ValueError(f"no lm-eval bridge for task {task.name}")


def _yaml_scalar(v: Any) -> str:
    if isinstance(v, str) and v.startswith("!function "):
        return v
    return json.dumps(v, ensure_ascii=False)


def _to_yaml(cfg: dict[str, Any]) -> str:
    """JSON is YAML; only ``!function`` tags need to stay unquoted."""
    lines = []
    for k, v in cfg.items():
        lines.append(f"{k}: {_yaml_scalar(v)}")
    return "\n".join(lines) + "\n"


def write_lmeval_tasks(names: list[str], data_dir: Path, out_dir: Path) -> list[str]:
    """Write lm-eval task configs + data for ``names`` (tasks or groups); returns the lm-eval task names."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "ondo_utils.py").write_text(
        "from lm_eval.tasks.truthfulqa.utils import process_results_mc2  # noqa: F401\n", encoding="utf-8"
    )
    written = []
    for task in registry.expand(names):
        splits = {task.eval_split}
        if task.fewshot_split:
            splits.add(task.fewshot_split)
        files = {}
        for split in sorted(splits):
            data = task.source.load(split, data_dir, "skip")
            path = out_dir / f"{task.name}.{split}.jsonl"
            with open(path, "w", encoding="utf-8") as fh:
                for rec in data.docs:
                    doc = dict(rec.doc)
                    if callable(task.doc_to_choice) and task.name == "kornli":
                        doc["choices"] = task.choices(rec.doc)
                    fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
            files[split] = str(path)
        cfg: dict[str, Any] = {
            "task": f"ondo_{task.name}",
            "dataset_path": "json",
            "dataset_kwargs": {"data_files": files},
            "output_type": "multiple_choice",
            "test_split": task.eval_split,
        }
        if task.fewshot_split:
            cfg["fewshot_split"] = task.fewshot_split
        cfg.update(_config_for(task))
        cfg.setdefault("metadata", {"version": 1.0})
        (out_dir / f"ondo_{task.name}.yaml").write_text(_to_yaml(cfg), encoding="utf-8")
        written.append(f"ondo_{task.name}")
    return written
