"""KMMLU, as lm-eval's ``tasks/kmmlu/default/_default_kmmlu_yaml`` (log-likelihood) and ``direct/`` (generation).

Prompt ``"{{question.strip()}}\\nA. {{A}}\\nB. {{B}}\\nC. {{C}}\\nD. {{D}}\\n정답："`` -- note the full-width
colon (U+FF1A) -- choices ``["A","B","C","D"]``, gold ``answer - 1``, metric acc, few-shot examples from
the dev split with lm-eval's default (seeded random) sampler. The ``kmmlu`` group is the size-weighted
mean over the 45 subjects, as ``_kmmlu_default.yaml`` (``weight_by_size: True``); subjects whose files are
not in the data directory (offline, only Criminal-Law ships in shared data) are left out and listed.

``kmmlu_direct_*`` is lm-eval's generative variant: greedy generation until "Q:", "\\n\\n", "</s>" or ".",
exact match ignoring case, punctuation and spaces.

``kmmlu_mini`` evaluates W&B Horangi's 100-question KMMLU subset (question, options, 1-based answer) with
the same prompt; Horangi itself prompts differently (chat template), so its numbers are not Horangi's.
"""

from __future__ import annotations

from typing import Any

from ondo.evals.bench.data import BadRow, DataSource, label_index, require
from ondo.evals.bench.task import Task

SUBJECTS = {
    "Accounting": "humss", "Agricultural-Sciences": "other", "Aviation-Engineering-and-Maintenance": "applied_science",
    "Biology": "stem", "Chemical-Engineering": "stem", "Chemistry": "stem", "Civil-Engineering": "stem",
    "Computer-Science": "stem", "Construction": "other", "Criminal-Law": "humss", "Ecology": "stem",
    "Economics": "humss", "Education": "humss", "Electrical-Engineering": "stem",
    "Electronics-Engineering": "applied_science", "Energy-Management": "applied_science",
    "Environmental-Science": "applied_science", "Fashion": "other", "Food-Processing": "other",
    "Gas-Technology-and-Engineering": "applied_science", "Geomatics": "applied_science", "Health": "other",
    "Industrial-Engineer": "applied_science", "Information-Technology": "stem",
    "Interior-Architecture-and-Design": "other", "Korean-History": "humss", "Law": "humss",
    "Machine-Design-and-Manufacturing": "applied_science", "Management": "humss",
    "Maritime-Engineering": "applied_science", "Marketing": "other", "Materials-Engineering": "stem",
    "Math": "stem", "Mechanical-Engineering": "stem", "Nondestructive-Testing": "applied_science",
    "Patent": "other", "Political-Science-and-Sociology": "humss", "Psychology": "humss", "Public-Safety": "other",
    "Railway-and-Automotive-Engineering": "applied_science", "Real-Estate": "other",
    "Refrigerating-Machinery": "other", "Social-Welfare": "humss", "Taxation": "humss",
    "Telecommunications-and-Wireless-Technology": "applied_science",
}  # fmt: skip

PROMPT = "{{question.strip()}}\nA. {{A}}\nB. {{B}}\nC. {{C}}\nD. {{D}}\n정답："
LETTERS = ["A", "B", "C", "D"]


def _to_doc(row: Any) -> dict[str, Any]:
    doc = {k: require(row, k) for k in ("question", "A", "B", "C", "D")}
    doc["answer"] = label_index(require(row, "answer"), 4, field="answer", base=1) + 1
    return doc


def _mini_to_doc(row: Any) -> dict[str, Any]:
    options = require(row, "options")
    if len(options) != 4:
        raise BadRow(f"expected 4 options, found {len(options)}", field="options")
    return {
        "question": require(row, "question"),
        **dict(zip(LETTERS, options, strict=True)),
        "answer": label_index(require(row, "answer"), 4, field="answer", base=1) + 1,
        "category": row.get("category", ""),
    }


def _slug(subject: str) -> str:
    return subject.lower().replace("-", "_")


def _source(subject: str) -> DataSource:
    return DataSource(
        files={"test": f"korean/kmmlu/{subject}-test.csv", "dev": f"korean/kmmlu/{subject}-dev.csv"},
        format="csv",
        to_doc=_to_doc,
        hf_path="HAERAE-HUB/KMMLU",
        hf_name=subject,
        hf_splits={"test": "test", "dev": "dev"},
    )


def _mc(subject: str) -> Task:
    return Task(
        name=f"kmmlu_{_slug(subject)}",
        source=_source(subject),
        eval_split="test",
        fewshot_split="dev",
        doc_to_text=PROMPT,
        doc_to_choice=LETTERS,
        doc_to_target="{{answer-1}}",
        metrics=("acc",),
        group="kmmlu",
        subgroup=f"kmmlu_{SUBJECTS[subject]}",
        summary=f"KMMLU {subject.replace('-', ' ')} (test), 4-way multiple choice in Korean",
        reference=f"lm_eval/tasks/kmmlu/default/kmmlu_{_slug(subject)}.yaml",
    )


def _direct(subject: str) -> Task:
    return Task(
        name=f"kmmlu_direct_{_slug(subject)}",
        source=_source(subject),
        output_type="generate_until",
        eval_split="test",
        fewshot_split="dev",
        doc_to_text=PROMPT,
        doc_to_target="{{['A', 'B', 'C', 'D'][answer-1]}}",
        metrics=("exact_match",),
        group="kmmlu_direct",
        generation_kwargs={"until": ["Q:", "\n\n", "</s>", "."], "do_sample": False, "temperature": 0.0},
        summary=f"KMMLU {subject.replace('-', ' ')} (test), generate the answer letter",
        reference=f"lm_eval/tasks/kmmlu/direct/kmmlu_direct_{_slug(subject)}.yaml",
    )


TASKS = [_mc(s) for s in SUBJECTS] + [_direct(s) for s in SUBJECTS]
TASKS.append(
    Task(
        name="kmmlu_mini",
        source=DataSource(
            files={"test": "korean/horangi_mini/kmmlu_mini.jsonl"}, format="jsonl", to_doc=_mini_to_doc
        ),
        eval_split="test",
        doc_to_text=PROMPT,
        doc_to_choice=LETTERS,
        doc_to_target="{{answer-1}}",
        metrics=("acc",),
        summary="KMMLU mini: W&B Horangi's 100-question subset over 34 subjects, lm-eval KMMLU prompt",
        reference="lm_eval/tasks/kmmlu/default/_default_kmmlu_yaml (prompt); data from hw-oh/horangi",
        notes="Horangi's subset and schema; no dev split, so 0-shot only",
    )
)
GROUPS = {
    "kmmlu": [f"kmmlu_{_slug(s)}" for s in SUBJECTS],
    "kmmlu_direct": [f"kmmlu_direct_{_slug(s)}" for s in SUBJECTS],
    **{
        f"kmmlu_{cat}": [f"kmmlu_{_slug(s)}" for s in SUBJECTS if SUBJECTS[s] == cat]
        for cat in ("stem", "other", "applied_science", "humss")
    },
}
