"""KorNLI (XNLI test, Korean), in lm-eval's XNLI formulation.

lm-eval has no Korean XNLI task; its ``tasks/xnli`` family (``xnli_common_yaml`` + ``utils.py``) scores
each label as a whole sentence with an empty context::

    doc_to_text: ''    doc_to_target: label    metric: acc
    doc_to_choice: [premise + ", {QUESTION_WORD}? {ENTAILMENT}, " + hypothesis,
                    premise + ", {QUESTION_WORD}? {NEUTRAL}, " + hypothesis,
                    premise + ", {QUESTION_WORD}? {CONTRADICTION}, " + hypothesis]

(label order entailment, neutral, contradiction as in HF ``facebook/xnli``). The Korean words are lm-eval's
own from ``tasks/paws-x/_generate_config.py`` ("ko": QUESTION_WORD "맞죠", YES "예", NO "아니요"); PAWS-X has
no neutral label, so NEUTRAL is "또한", the Korean of XNLI's English "Also" -- ondo's choice, not lm-eval's.
With an empty context the continuation is scored after the model's prefix token, as lm-eval's HFLM does.
"""

from __future__ import annotations

from typing import Any

from ondo.evals.bench.data import BadRow, DataSource, require
from ondo.evals.bench.task import Task

LABELS = ["entailment", "neutral", "contradiction"]
WORDS = {
    "QUESTION_WORD": "맞죠",
    "ENTAILMENT_LABEL": "예",
    "NEUTRAL_LABEL": "또한",
    "CONTRADICTION_LABEL": "아니요",
}


def _to_doc(row: Any) -> dict[str, Any]:
    premise, hypothesis = require(row, "sentence1"), require(row, "sentence2")
    gold = require(row, "gold_label").strip()
    if gold not in LABELS:
        raise BadRow(
            f"gold_label {gold!r} out of range (expected one of {', '.join(LABELS)})", field="gold_label"
        )
    return {"premise": premise, "hypothesis": hypothesis, "label": LABELS.index(gold)}


def _choices(doc: dict[str, Any]) -> list[str]:
    q = WORDS["QUESTION_WORD"]
    return [
        f"{doc['premise']}, {q}? {WORDS[key]}, {doc['hypothesis']}"
        for key in ("ENTAILMENT_LABEL", "NEUTRAL_LABEL", "CONTRADICTION_LABEL")
    ]


TASKS = [
    Task(
        name="kornli",
        source=DataSource(files={"test": "korean/kornli/xnli.test.ko.tsv"}, format="tsv", to_doc=_to_doc),
        eval_split="test",
        doc_to_text="",
        doc_to_choice=_choices,
        doc_to_target="label",
        metrics=("acc",),
        summary="KorNLI (XNLI test in Korean, 5,010 pairs), 3-way NLI scored as whole sentences",
        reference="lm_eval/tasks/xnli/xnli_common_yaml + utils.py; Korean words from tasks/paws-x/_generate_config.py",
        notes="neutral word '또한' is ondo's translation of XNLI's 'Also'",
    )
]
