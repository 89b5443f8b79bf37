"""HAE-RAE Bench, as lm-eval's ``tasks/haerae/_default_haerae_yaml``.

lm-eval reads HF ``HAERAE-HUB/HAE_RAE_BENCH`` whose ``query`` field is the whole prompt:
``"다음 질문을 읽고 정답으로 가장 알맞은 것을 고르시요.\\n\\n### 질문: \\n{question}\\n\\n### 선택지: \\n(A) ..\\n..\\n\\n### 정답:"``,
choices ``["(A)", "(B)", "(C)", "(D)", "(E)"]``, gold ``answer``; metrics acc and acc_norm.

The shared data is W&B Horangi's 200-item mini set (``question``, ``options``, 1-based ``answer``,
``category``), which dropped the ``query`` field. ondo rebuilds the query in the layout above. What can
differ from the HF prompt: subsets whose HF query uses another instruction line or section header
(e.g. reading comprehension's "### 지문:"); the rebuilt query is the same for all categories. Choices are
the option letters for the item's own number of options (4 for RC items, 5 otherwise) where lm-eval
always scores five. It also includes the reading-comprehension category, which lm-eval's group leaves out.
"""

from __future__ import annotations

from typing import Any

from ondo.evals.bench.data import BadRow, DataSource, label_index, require
from ondo.evals.bench.task import Task

LETTERS = "ABCDE"


def build_query(question: str, options: list[str]) -> str:
    lines = "\n".join(f"({LETTERS[i]}) {opt}" for i, opt in enumerate(options))
    return f"다음 질문을 읽고 정답으로 가장 알맞은 것을 고르시요.\n\n### 질문: \n{question}\n\n### 선택지: \n{lines}\n\n### 정답:"


def _to_doc(row: Any) -> dict[str, Any]:
    if "query" in row:  # HF layout: answer like "(A)"
        query = require(row, "query")
        options = list(row.get("options") or [])
        n = len(options) or 5
        choices = [f"({LETTERS[i]})" for i in range(n)]
        ans = str(require(row, "answer")).strip()
        if ans not in choices:
            raise BadRow(f"answer label {ans!r} out of range", field="answer")
        return {"query": query, "choices": choices, "label": choices.index(ans), "category": ""}
    options = require(row, "options")
    if not 2 <= len(options) <= 5:
        raise BadRow(f"expected 2-5 options, found {len(options)}", field="options")
    return {
        "query": build_query(str(require(row, "question")), [str(o) for o in options]),
        "choices": [f"({LETTERS[i]})" for i in range(len(options))],
        "label": label_index(require(row, "answer"), len(options), field="answer", base=1),
        "category": row.get("category", ""),
    }


TASKS = [
    Task(
        name="haerae",
        source=DataSource(
            files={"test": "korean/horangi_mini/haerae_bench_v1_mini.jsonl"}, format="jsonl", to_doc=_to_doc
        ),
        eval_split="test",
        fewshot_split="test",
        doc_to_text="query",
        doc_to_choice="choices",
        doc_to_target="label",
        metrics=("acc", "acc_norm"),
        summary="HAE-RAE Bench 1.0 mini (200 items, Korean vocabulary, history, general knowledge, reading)",
        reference="lm_eval/tasks/haerae/_default_haerae_yaml",
        notes="query rebuilt from Horangi's question/options fields (see module doc)",
    )
]
