"""Declarative benchmark tasks, formatted exactly as lm-evaluation-harness v0.4 formats them.

A ``Task`` says where its documents come from (``DataSource``), how a document becomes a
prompt (``doc_to_text``), its answer choices and gold answer, the delimiters, the few-shot
split and sampler, and which metrics it reports. The prompt construction below mirrors
lm-eval's ``ConfigurableTask.fewshot_context`` / ``build_qa_turn`` (plain-text path):

    description + [text(fs) + target_delimiter + answer(fs) + fewshot_delimiter] * k + text(doc)

and a multiple-choice request is ``(context, target_delimiter + choice)`` for each choice.
Fields given as strings are Jinja templates rendered like lm-eval's ``utils.apply_template``
(StrictUndefined, trailing newline kept), or a plain field name when the document has it.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from ondo.evals.bench.data import DataSource

Doc = dict[str, Any]
OutputType = Literal["multiple_choice", "generate_until"]
TextSpec = str | Callable[[Doc], str]
ChoiceSpec = str | Sequence[str] | Callable[[Doc], list[str]]
TargetSpec = str | int | Callable[[Doc], int | str]


@lru_cache(maxsize=1)
def _jinja() -> Any:
    import re

    from jinja2 import BaseLoader, Environment, StrictUndefined

    env = Environment(loader=BaseLoader(), undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters["regex_replace"] = lambda s, p, r, count=0: re.sub(p, r, s, count=count)
    return env


@lru_cache(maxsize=512)
def _compiled(template: str) -> Any:
    return _jinja().from_string(template)


def render(template: str, doc: Mapping[str, Any]) -> str:
    """Render a Jinja template against a document (lm-eval's ``apply_template``)."""
    return str(_compiled(template).render(**doc))


@dataclass(frozen=True)
class Task:
    """One benchmark task. ``name`` is what users type; ``group`` ties subtasks (MMLU subjects) together."""

    name: str
    source: DataSource
    eval_split: str
    doc_to_text: TextSpec
    doc_to_target: TargetSpec
    output_type: OutputType = "multiple_choice"
    doc_to_choice: ChoiceSpec | None = None
    metrics: tuple[str, ...] = ("acc",)
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"
    description: TextSpec = ""
    fewshot_split: str | None = None
    fewshot_sampler: Literal["default", "first_n"] = "default"
    default_num_fewshot: int = 0
    fixed_num_fewshot: int | None = None  # tasks whose prompt already holds its examples (TruthfulQA)
    group: str | None = None
    subgroup: str | None = None
    generation_kwargs: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""
    reference: str = ""  # where lm-eval defines the same task
    notes: str = ""  # what differs from lm-eval, if anything

    # ------------------------------------------------------------------ formatting
    def text(self, doc: Doc) -> str:
        spec = self.doc_to_text
        if callable(spec):
            return spec(doc)
        if spec in doc:
            return str(doc[spec])
        return render(spec, doc)

    def choices(self, doc: Doc) -> list[str]:
        spec = self.doc_to_choice
        if spec is None:
            raise ValueError(f"task {self.name} has no choices")
        if callable(spec):
            return list(spec(doc))
        if isinstance(spec, str):
            if spec in doc:
                return list(doc[spec])
            return list(ast.literal_eval(render(spec, doc)))
        return list(spec)

    def target(self, doc: Doc) -> int | str:
        spec = self.doc_to_target
        if callable(spec):
            return spec(doc)
        if isinstance(spec, int):
            return spec
        value = doc[spec] if spec in doc else render(spec, doc)
        if isinstance(value, str) and value.isdigit() and self.doc_to_choice is not None:
            return int(value)
        return value

    def gold_index(self, doc: Doc) -> int:
        """The gold choice index (multiple choice), -100 when out of range as lm-eval marks it."""
        gold = self.target(doc)
        choices = self.choices(doc)
        if isinstance(gold, int):
            return gold if 0 <= gold < len(choices) else -100
        return choices.index(gold) if gold in choices else -100

    def answer_text(self, doc: Doc) -> str:
        """The gold answer as it appears after a few-shot example."""
        gold = self.target(doc)
        if self.doc_to_choice is not None and isinstance(gold, int):
            return self.choices(doc)[gold]
        return str(gold)

    def describe(self, doc: Doc) -> str:
        spec = self.description
        if callable(spec):
            return spec(doc)
        return render(spec, doc) if "{" in spec else spec

    def context(self, doc: Doc, fewshot_docs: Sequence[Doc]) -> str:
        """lm-eval's plain-text ``fewshot_context``: description, k answered examples, then the question."""
        parts = [self.describe(doc)]
        for fs in fewshot_docs:
            q = self.text(fs)
            parts.append(q + self.target_delimiter + _maybe_delimit_answer(self.answer_text(fs)))
            parts.append(self.fewshot_delimiter)
        parts.append(self.text(doc))
        return "".join(parts)

    @property
    def has_fewshot(self) -> bool:
        return self.fewshot_split is not None

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "output_type": self.output_type,
            "metrics": list(self.metrics),
            "num_fewshot": self.fixed_num_fewshot
            if self.fixed_num_fewshot is not None
            else self.default_num_fewshot,
            "fewshot_split": self.fewshot_split,
            "fewshot_sampler": self.fewshot_sampler,
            "eval_split": self.eval_split,
            "files": [str(p) for p in self.source.files.values()],
            "hf_dataset": self.source.hf_path,
            "summary": self.summary,
            "reference": self.reference,
            "notes": self.notes,
        }


def _maybe_delimit_answer(answer: str) -> str:
    # lm-eval: maybe_delimit(gen_prefix=None, answer) == answer
    return answer


class FewShotSampler:
    """lm-eval's ``ContextSampler``/``FirstNSampler``: one ``random.Random(seed)`` per task, drawn in doc order.

    The default sampler draws ``rnd.sample(pool, n)``; when the few-shot split is the evaluated split it draws
    ``n + 1`` and drops the evaluated document. ``first_n`` takes the first ``n`` documents in file order.
    Because the generator is shared across documents, document i's examples depend on all earlier draws,
    exactly as in lm-eval (``set_fewshot_seed(1234)`` then ``fewshot_context`` for each doc in order).
    """

    def __init__(self, pool: Sequence[Doc], kind: str, seed: int | None = 1234) -> None:
        self.pool = list(pool)
        self.kind = kind
        self.rnd = random.Random(seed)

    def sample(self, n: int, eval_doc: Doc | None = None) -> list[Doc]:
        if n <= 0:
            return []
        if not self.pool:
            raise ValueError("no documents available for few-shot sampling")
        if self.kind == "first_n":
            pool = [d for d in self.pool if d != eval_doc] if eval_doc is not None else self.pool
            if n > len(pool):
                raise ValueError(f"{n} few-shot examples requested but only {len(pool)} are available")
            return list(pool[:n])
        if eval_doc is None:
            return self.rnd.sample(self.pool, n)
        res = [x for x in self.rnd.sample(self.pool, n + 1) if x != eval_doc][:n]
        if len(res) < n:
            res = self.rnd.sample([x for x in self.pool if x != eval_doc], n)
        return res


@dataclass(frozen=True)
class TaskGroup:
    """A named set of tasks reported together (MMLU's 57 subjects): size-weighted and unweighted means."""

    name: str
    members: tuple[Task, ...]
    summary: str = ""

    @property
    def group(self) -> None:
        return None

    def info(self) -> dict[str, Any]:
        first = self.members[0]
        return {
            "name": self.name,
            "group": None,
            "output_type": first.output_type,
            "metrics": list(first.metrics),
            "num_fewshot": first.default_num_fewshot,
            "subtasks": [t.name for t in self.members],
            "summary": self.summary or f"group of {len(self.members)} tasks",
            "reference": first.reference.rsplit("/", 1)[0] + "/",
        }
