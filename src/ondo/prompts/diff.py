"""What changed between two prompt versions: a unified diff of the template and of the parameters."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from ondo.prompts.versions import PromptVersion


def _template_lines(p: PromptVersion) -> list[str]:
    if p.messages is None:
        return (p.template or "").splitlines(keepends=True)
    lines: list[str] = []
    for m in p.messages:
        lines.append(f"[{m['role']}]\n")
        lines.extend(line if line.endswith("\n") else line + "\n" for line in m["content"].splitlines(keepends=True))
    return lines


def _settings_lines(p: PromptVersion) -> list[str]:
    doc = {"model": p.model, "params": p.params, "variables": p.variables}
    return [line + "\n" for line in json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False).splitlines()]


def _ended(lines: list[str]) -> list[str]:
    return [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines]


@dataclass(frozen=True)
class PromptDiff:
    a: str
    b: str
    template: str  # unified diff of the template ("" when equal)
    settings: str  # unified diff of model, params and variables ("" when equal)
    params_changed: dict[str, list[Any]]  # key -> [old, new]; a missing side is None
    model_changed: list[str | None] | None

    @property
    def text(self) -> str:
        return self.template + self.settings

    @property
    def identical(self) -> bool:
        return not self.text

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a, "b": self.b, "identical": self.identical, "template": self.template,
            "settings": self.settings, "params_changed": self.params_changed, "model_changed": self.model_changed,
            "diff": self.text,
        }

    def __str__(self) -> str:
        return self.text


def diff(a: PromptVersion, b: PromptVersion) -> PromptDiff:
    template = "".join(
        _ended(list(difflib.unified_diff(_template_lines(a), _template_lines(b),
                                         f"{a.ref}/template", f"{b.ref}/template")))
    )
    settings = "".join(
        difflib.unified_diff(_settings_lines(a), _settings_lines(b), f"{a.ref}/params", f"{b.ref}/params")
    )
    changed = {
        k: [a.params.get(k), b.params.get(k)]
        for k in sorted(set(a.params) | set(b.params))
        if a.params.get(k) != b.params.get(k) or (k in a.params) != (k in b.params)
    }
    model = [a.model, b.model] if a.model != b.model else None
    return PromptDiff(a.ref, b.ref, template, settings, changed, model)
