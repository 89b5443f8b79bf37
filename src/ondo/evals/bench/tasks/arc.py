"""ARC-Easy / ARC-Challenge, as lm-eval's ``tasks/arc/arc_easy.yaml`` and ``arc_challenge.yaml``.

lm-eval reads HF ``allenai/ai2_arc``, which is the AI2 ``ARC-V1-Feb2018`` jsonl reshaped: ``question`` is the
stem, ``choices`` holds ``text``/``label`` lists, ``answerKey`` a label. Prompt ``"Question: {q}\\nAnswer:"``,
choices ``" {text}"``, metrics acc and acc_norm. The local files have the test and dev (HF "validation")
splits but not train, which lm-eval samples few-shot examples from; locally few-shot examples come from dev.
"""

from __future__ import annotations

from typing import Any

from ondo.evals.bench.data import BadRow, DataSource, require
from ondo.evals.bench.task import Task


def _to_doc(row: Any) -> dict[str, Any]:
    q = require(row, "question")
    stem = require(q, "stem") if isinstance(q, dict) else q
    raw_choices = require(q, "choices") if isinstance(q, dict) else require(row, "choices")
    if isinstance(raw_choices, dict):  # HF layout
        texts, labels = list(raw_choices["text"]), list(raw_choices["label"])
    else:
        texts = [require(c, "text") for c in raw_choices]
        labels = [require(c, "label") for c in raw_choices]
    key = require(row, "answerKey")
    if key not in labels:
        raise BadRow(f"answer label {key!r} is not one of the choice labels {labels}", field="answerKey")
    return {
        "id": row.get("id", ""),
        "question": stem,
        "choices": {"text": texts, "label": labels},
        "answerKey": key,
    }


def _arc(name: str, subset: str, title: str) -> Task:
    return Task(
        name=name,
        source=DataSource(
            files={"test": f"arc/{subset}-Test.jsonl", "validation": f"arc/{subset}-Dev.jsonl"},
            format="jsonl",
            to_doc=_to_doc,
            hf_path="allenai/ai2_arc",
            hf_name=subset,
            hf_splits={"test": "test", "validation": "validation", "train": "train"},
        ),
        eval_split="test",
        fewshot_split="validation",
        doc_to_text="Question: {{question}}\nAnswer:",
        doc_to_target="{{choices.label.index(answerKey)}}",
        doc_to_choice="{{choices.text}}",
        metrics=("acc", "acc_norm"),
        summary=f"{title} grade-school science questions (test split), 4-way multiple choice",
        reference=f"lm_eval/tasks/arc/{name}.yaml",
        notes="few-shot examples are drawn from the dev split (lm-eval: train, which the local data lacks)",
    )


TASKS = [
    _arc("arc_easy", "ARC-Easy", "ARC-Easy"),
    _arc("arc_challenge", "ARC-Challenge", "ARC-Challenge"),
]
