"""The judge prompts of a suite, as registered prompt versions users can edit and version.

FastChat's 8 templates (single-v1, single-math-v1, their multi-turn variants, and the four pairwise
ones) are registered under ``mt-bench-judge/<name>`` (``ko-mt-bench-judge/<name>`` for KoMT-Bench)
the first time a judge runs; afterwards the newest registered version is used, so an edit made with
``ondo prompts`` takes effect on the next evaluation and is recorded on its run.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ondo.evals.judge.mtbench import Question, Suite

SINGLE = {"default": "single-v1", "math": "single-math-v1",
          "default-mt": "single-v1-multi-turn", "math-mt": "single-math-v1-multi-turn"}
PAIRWISE = {"default": "pair-v2", "math": "pair-math-v1",
            "default-mt": "pair-v2-multi-turn", "math-mt": "pair-math-v1-multi-turn"}


@dataclass(frozen=True)
class JudgePrompt:
    name: str  # FastChat's name, e.g. "single-math-v1"
    system: str
    template: str
    output_format: str  # "[[rating]]" | "[[A]]"
    kind: str  # "single" | "pairwise"
    ref: str | None = None  # registered version, e.g. "mt-bench-judge/single-v1/1"
    digest: str | None = None
    version: Any = field(default=None, compare=False, repr=False)  # the registry's PromptVersion, when registered

    def render(self, variables: dict[str, Any]) -> tuple[str, str]:
        """(system, user) filled in: through the registered version when there is one (which records it
        on the active run), else with FastChat's ``str.format``."""
        if self.version is not None:
            msgs = self.version.render_messages(**variables)
            system = next((m["content"] for m in msgs if m["role"] == "system"), "")
            user = next(m["content"] for m in msgs if m["role"] == "user")
            return system, user
        return self.system, self.template.format(**variables)

    @property
    def rating_label(self) -> str:
        """The word the template shows before ``[[5]]`` ("Rating", or "점수" in the Korean prompts)."""
        for label in ("점수", "Rating"):
            if f'{label}: [[' in self.template or f'{label}: [[' in self.system:
                return label
        return "Rating"


@dataclass
class JudgePromptSet:
    suite: str
    prompts: dict[str, JudgePrompt]

    def for_question(self, q: Question, turn: int, kind: str) -> JudgePrompt:
        """FastChat's choice: reference-based for NEED_REF_CATS, multi-turn variant for turn 2."""
        key = ("math" if q.needs_reference else "default") + ("-mt" if turn == 2 else "")
        names = SINGLE if kind == "single" else PAIRWISE
        return self.prompts[names[key]]


def registry_name(suite: str, prompt_name: str) -> str:
    return f"{'mt-bench-judge' if suite == 'en' else suite + '-mt-bench-judge'}/{prompt_name}"


def from_suite(suite: Suite) -> JudgePromptSet:
    """The suite's prompts exactly as shipped (FastChat's judge_prompts.jsonl), not registered."""
    prompts = {}
    for name, row in suite.judge_prompts.items():
        prompts[name] = JudgePrompt(
            name=name, system=row["system_prompt"], template=row["prompt_template"],
            output_format=row["output_format"], kind=row["type"], digest=_digest(row),
        )
    return JudgePromptSet(suite.name, prompts)


def _digest(row: dict[str, Any]) -> str:
    body = json.dumps({k: row[k] for k in ("system_prompt", "prompt_template", "output_format")},
                      sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


_FIELD = re.compile(r"\{(\w+)\}")


def to_jinja(template: str) -> str:
    """FastChat's ``str.format`` fields (``{question}``) as the registry's Jinja fields (``{{ question }}``).

    The shipped templates contain no other braces, so rendering the result gives the same text."""
    if "{{" in template or "{%" in template or "{#" in template:
        raise ValueError("template already contains Jinja syntax")
    return _FIELD.sub(r"{{ \1 }}", template)


def registered(suite: Suite, ws: Any, alias: str | None = None) -> JudgePromptSet:
    """The suite's judge prompts from the prompt registry, registering FastChat's originals on first use.

    Each of the 8 prompts is ``<suite prefix>/<name>``: ``@alias`` when given and set, else the newest
    version. Returns prompts whose template is the rendered-by-registry form (see ``render``)."""
    from ondo.errors import NotFound
    from ondo.prompts import versions as pv

    base = from_suite(suite)
    out: dict[str, JudgePrompt] = {}
    for pname, p in base.prompts.items():
        rname = registry_name(suite.name, pname)
        version = None
        if alias:
            try:
                version = pv.get(ws, f"{rname}@{alias}")
            except NotFound:
                version = None
        if version is None:
            try:
                version = pv.get(ws, rname)
            except NotFound:
                version = pv.register(
                    ws, rname,
                    [{"role": "system", "content": p.system}, {"role": "user", "content": to_jinja(p.template)}],
                    tags={"source": "fastchat/llm_judge", "output_format": p.output_format, "type": p.kind},
                    description=f"FastChat MT-Bench judge prompt {pname} ({suite.name})",
                )
        out[pname] = JudgePrompt(name=pname, system=p.system, template=p.template, output_format=p.output_format,
                                 kind=p.kind, ref=version.ref, digest=version.digest, version=version)
    return JudgePromptSet(suite.name, out)
