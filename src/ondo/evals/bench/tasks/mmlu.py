"""MMLU (57 subjects), as lm-eval's ``tasks/mmlu/default/_default_template_yaml`` and ``_mmlu.yaml``.

Prompt ``"{{question.strip()}}\\nA. ..\\nB. ..\\nC. ..\\nD. ..\\nAnswer:"``, choices ``["A","B","C","D"]``
(so continuations " A" .. " D"), description ``"The following are multiple choice questions (with
answers) about {subject with spaces}.\\n\\n"``, 5-shot examples from the dev split in file order
(``first_n`` sampler), metric acc. The group ``mmlu`` reports the size-weighted (micro) mean as lm-eval
does (``weight_by_size: True``) with its pooled stderr, plus the unweighted (macro) mean over subjects,
and the four category groups stem / humanities / social_sciences / other.

Local files are the hendrycks CSVs (no header): question, A, B, C, D, answer letter.
"""

from __future__ import annotations

from typing import Any

from ondo.evals.bench.data import BadRow, DataSource
from ondo.evals.bench.task import Task

CATEGORY = {
    "abstract_algebra": "stem", "anatomy": "stem", "astronomy": "stem", "business_ethics": "other",
    "clinical_knowledge": "other", "college_biology": "stem", "college_chemistry": "stem",
    "college_computer_science": "stem", "college_mathematics": "stem", "college_medicine": "other",
    "college_physics": "stem", "computer_security": "stem", "conceptual_physics": "stem",
    "econometrics": "social_sciences", "electrical_engineering": "stem", "elementary_mathematics": "stem",
    "formal_logic": "humanities", "global_facts": "other", "high_school_biology": "stem",
    "high_school_chemistry": "stem", "high_school_computer_science": "stem",
    "high_school_european_history": "humanities", "high_school_geography": "social_sciences",
    "high_school_government_and_politics": "social_sciences", "high_school_macroeconomics": "social_sciences",
    "high_school_mathematics": "stem", "high_school_microeconomics": "social_sciences",
    "high_school_physics": "stem", "high_school_psychology": "social_sciences",
    "high_school_statistics": "stem", "high_school_us_history": "humanities",
    "high_school_world_history": "humanities", "human_aging": "other", "human_sexuality": "social_sciences",
    "international_law": "humanities", "jurisprudence": "humanities", "logical_fallacies": "humanities",
    "machine_learning": "stem", "management": "other", "marketing": "other", "medical_genetics": "other",
    "miscellaneous": "other", "moral_disputes": "humanities", "moral_scenarios": "humanities",
    "nutrition": "other", "philosophy": "humanities", "prehistory": "humanities",
    "professional_accounting": "other", "professional_law": "humanities", "professional_medicine": "other",
    "professional_psychology": "social_sciences", "public_relations": "social_sciences",
    "security_studies": "social_sciences", "sociology": "social_sciences",
    "us_foreign_policy": "social_sciences", "virology": "other", "world_religions": "humanities",
}  # fmt: skip

LETTERS = ["A", "B", "C", "D"]


def _to_doc(row: Any) -> dict[str, Any]:
    if isinstance(row, dict):  # HF cais/mmlu: question, choices, answer (int)
        return {"question": row["question"], "choices": list(row["choices"]), "answer": int(row["answer"])}
    if len(row) != 6:
        raise BadRow(f"expected 6 columns (question, A, B, C, D, answer), found {len(row)}")
    question, a, b, c, d, answer = row
    if not question.strip():
        raise BadRow("missing field 'question'", field="question")
    ans = answer.strip()
    if ans not in LETTERS:
        raise BadRow(f"answer label {answer!r} out of range (expected one of A, B, C, D)", field="answer")
    return {"question": question, "choices": [a, b, c, d], "answer": LETTERS.index(ans)}


def _subject_task(subject: str) -> Task:
    return Task(
        name=f"mmlu_{subject}",
        source=DataSource(
            files={"test": f"mmlu/test/{subject}_test.csv", "dev": f"mmlu/dev/{subject}_dev.csv"},
            format="csv_noheader",
            to_doc=_to_doc,
            hf_path="cais/mmlu",
            hf_name=subject,
            hf_splits={"test": "test", "dev": "dev"},
        ),
        eval_split="test",
        fewshot_split="dev",
        fewshot_sampler="first_n",
        default_num_fewshot=5,
        doc_to_text=(
            "{{question.strip()}}\nA. {{choices[0]}}\nB. {{choices[1]}}\nC. {{choices[2]}}\nD. {{choices[3]}}\nAnswer:"
        ),
        doc_to_choice=LETTERS,
        doc_to_target="answer",
        description=f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n",
        metrics=("acc",),
        group="mmlu",
        subgroup=f"mmlu_{CATEGORY[subject]}",
        summary=f"MMLU {subject.replace('_', ' ')} (test)",
        reference=f"lm_eval/tasks/mmlu/default/mmlu_{subject}.yaml",
    )


TASKS = [_subject_task(s) for s in sorted(CATEGORY)]
GROUPS = {
    "mmlu": [t.name for t in TASKS],
    **{
        f"mmlu_{cat}": [f"mmlu_{s}" for s in sorted(CATEGORY) if CATEGORY[s] == cat]
        for cat in ("stem", "humanities", "social_sciences", "other")
    },
}
