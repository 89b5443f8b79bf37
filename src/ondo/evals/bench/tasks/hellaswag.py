"""HellaSwag, as lm-eval's ``tasks/hellaswag/hellaswag.yaml`` + ``utils.py``.

lm-eval builds ``query = preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize())`` and
``choices = [preprocess(e) for e in endings]`` where ``preprocess`` strips, turns " [title]" into ". ",
deletes ``[...]`` tags and collapses double spaces; prompt ``{{query}}``, choices ``" {ending}"``,
acc and acc_norm, evaluated on the validation split.

The shared data holds klosax's derived text format (all 10,042 validation items, 6 lines each:
``activity_label: ctx`` already preprocessed, gold label, 4 endings). What matches lm-eval: the
activity label prefix, tag removal, the endings, the gold label and the item order. What cannot:
the derived file joined ``ctx_a + " " + ctx_b`` without ``ctx_b.capitalize()``, so in items whose
``ctx_b`` is non-empty the first letter of the last sentence fragment stays lower-case (and
``capitalize()`` would also have lower-cased the rest of ``ctx_b``). The split cannot be recovered,
so prompts differ from lm-eval's HF-path prompts there. Point ``--data-dir`` at a directory holding
the original ``hellaswag/hellaswag_val.jsonl`` (rowanz format) to get lm-eval's exact prompts; that
file is preferred when present.
"""

from __future__ import annotations

import re
from typing import Any

from ondo.evals.bench.data import BadRow, DataSource, label_index, require
from ondo.evals.bench.task import Task


def preprocess(text: str) -> str:
    """lm-eval ``hellaswag/utils.py::preprocess``."""
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    text = text.replace("  ", " ")
    return text


def from_original(row: Any) -> dict[str, Any]:
    """lm-eval ``process_docs`` on a rowanz/HF HellaSwag row."""
    endings = require(row, "endings")
    ctx = require(row, "ctx_a") + " " + str(row.get("ctx_b", "")).capitalize()
    return {
        "query": preprocess(require(row, "activity_label") + ": " + ctx),
        "choices": [preprocess(e) for e in endings],
        "label": label_index(require(row, "label"), len(endings), field="label"),
    }


def from_text_block(block: list[str]) -> dict[str, Any]:
    if len(block) != 6:
        raise BadRow(f"truncated task: expected 6 lines, found {len(block)}")
    ctx, label, *endings = block
    if not ctx.strip():
        raise BadRow("empty context line", field="ctx")
    if any(not e.strip() for e in endings):
        raise BadRow("empty ending line", field="endings")
    return {"query": ctx, "choices": endings, "label": label_index(label, 4, field="label")}


class _HellaSwagSource(DataSource):
    """Prefers the original jsonl when the data directory has it, else the derived text file."""

    def load(self, split, data_dir, on_bad_row="stop"):  # type: ignore[no-untyped-def]
        if data_dir is not None and (data_dir / ORIGINAL).exists():
            return DataSource(files={split: ORIGINAL}, format="jsonl", to_doc=from_original).load(
                split, data_dir, on_bad_row
            )
        return super().load(split, data_dir, on_bad_row)


ORIGINAL = "hellaswag/hellaswag_val.jsonl"

TASKS = [
    Task(
        name="hellaswag",
        source=_HellaSwagSource(
            files={"validation": "hellaswag/hellaswag_val_full.txt.bz2"},
            format="hellaswag_txt",
            to_doc=from_text_block,
            hf_path="Rowan/hellaswag",
            hf_splits={"validation": "validation", "train": "train"},
            hf_to_doc=from_original,
        ),
        eval_split="validation",
        fewshot_split="validation",
        doc_to_text="query",
        doc_to_target="label",
        doc_to_choice="choices",
        metrics=("acc", "acc_norm"),
        summary="HellaSwag commonsense sentence completion (validation, 10,042 items), 4 endings",
        reference="lm_eval/tasks/hellaswag/hellaswag.yaml + utils.py",
        notes=(
            "derived text data lacks ctx_b.capitalize() (see module doc); few-shot examples come from the "
            "validation split with the evaluated item removed (lm-eval: train)"
        ),
    )
]
