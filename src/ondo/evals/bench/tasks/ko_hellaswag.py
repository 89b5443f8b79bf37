"""Ko-HellaSwag (machine-translated HellaSwag), formatted with lm-eval's HellaSwag ``process_docs``.

The Open Ko-LLM Leaderboard evaluates ``ko_hellaswag`` with lm-eval's ``hellaswag`` task definition;
the Horangi mini file keeps the original fields (``activity_label``, ``ctx_a``, ``ctx_b``, ``endings``,
``label``) in Korean, so the query is built exactly as ``hellaswag/utils.py`` builds it. acc, acc_norm,
and acc_bytes (normalised by UTF-8 bytes; it differs from acc_norm on Hangul, 3 bytes a syllable).
"""

from __future__ import annotations

from ondo.evals.bench.data import DataSource
from ondo.evals.bench.task import Task
from ondo.evals.bench.tasks.hellaswag import from_original

TASKS = [
    Task(
        name="ko_hellaswag",
        source=DataSource(
            files={"validation": "korean/horangi_mini/ko_hellaswag_mini.jsonl"},
            format="jsonl",
            to_doc=from_original,
        ),
        eval_split="validation",
        fewshot_split="validation",
        doc_to_text="query",
        doc_to_target="label",
        doc_to_choice="choices",
        metrics=("acc", "acc_norm", "acc_bytes"),
        summary="Ko-HellaSwag mini (100 items, Korean), 4 endings",
        reference="lm_eval/tasks/hellaswag/hellaswag.yaml + utils.py (applied to the Korean fields)",
        notes="few-shot examples come from the same 100 items with the evaluated item removed",
    )
]
