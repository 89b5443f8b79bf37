"""Gated promotion: an alias moves to a model (or prompt) version only if its evaluation results clear the bar.

A requirement is ``<metric><op><number>`` such as ``mmlu.acc>=0.45`` (ops ``>= > <= < == !=``).
It is checked against the latest values (``latest_metrics``) of the runs linked to that exact
version: every run whose inputs name it (``run_inputs`` kind 'model', ref 'name/N'; evaluation
runs record it as an input, the source run as an output; for a prompt, kind 'prompt': the runs
that rendered or used it, e.g. ``ondo.sweep``'s), leaving out deleted runs and runs
that failed or were killed. When several linked runs logged the same metric, the most
recently logged value counts. Each unmet requirement and each metric that no linked run
logged is listed in ``GateFailed``; ``force=True`` with a ``reason`` promotes anyway, and the
event records the reason, the requirements and what failed.
"""

from __future__ import annotations

import math
import operator
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ondo import aliases
from ondo.aliases.events import AliasEvent
from ondo.errors import GateFailed, InvalidInput
from ondo.ids import check_alias, parse_ref
from ondo.registry import models
from ondo.store.tables.core import latest_metrics, run_inputs, runs
from ondo.workspace import Workspace

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt,
}
_REQ_RE = re.compile(r"^\s*(?P<metric>[A-Za-z0-9_][A-Za-z0-9_.\-/:]*)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>\S+)\s*$")
_EXCLUDED_STATUSES = ("failed", "killed", "crashed")


@dataclass(frozen=True)
class Requirement:
    metric: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{_num(self.threshold)}"

    def met_by(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return OPS[self.op](value, self.threshold)


def parse_requirement(text: str) -> Requirement:
    """``"mmlu.acc>=0.45"`` -> Requirement('mmlu.acc', '>=', 0.45); a precise error otherwise."""
    if not isinstance(text, str):
        raise InvalidInput(f"a requirement is text such as 'mmlu.acc>=0.45', not {text!r}", field="require")
    m = _REQ_RE.match(text)
    if not m:
        raise InvalidInput(
            f"cannot read requirement '{text}': expected <metric><op><number> such as 'mmlu.acc>=0.45' "
            f"(ops: {', '.join(OPS)})",
            field="require",
        )
    try:
        threshold = float(m["value"])
    except ValueError:
        raise InvalidInput(f"cannot read requirement '{text}': '{m['value']}' is not a number", field="require") from None
    if math.isnan(threshold):
        raise InvalidInput(f"cannot read requirement '{text}': the threshold cannot be NaN", field="require")
    return Requirement(m["metric"], m["op"], threshold)


@dataclass(frozen=True)
class GateCheck:
    requirement: Requirement
    value: float | None  # None: no linked run logged the metric
    run_id: str | None
    passed: bool

    @property
    def message(self) -> str:
        if self.value is None:
            return f"{self.requirement}: missing (no run linked to this version logged '{self.requirement.metric}')"
        if self.passed:
            return f"{self.requirement}: ok ({_num(self.value)}, run {self.run_id})"
        return f"{self.requirement}: failed, got {_num(self.value)} (run {self.run_id})"

    def to_dict(self) -> dict[str, Any]:
        v = self.value
        return {
            "requirement": str(self.requirement), "metric": self.requirement.metric, "op": self.requirement.op,
            "threshold": self.requirement.threshold, "value": v if v is None or math.isfinite(v) else str(v),
            "run_id": self.run_id, "passed": self.passed, "message": self.message,
        }


def _num(x: float) -> str:
    return repr(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def _value(value: float | None, flag: int) -> float:
    return {1: math.nan, 2: math.inf, 3: -math.inf}.get(int(flag or 0), value if value is not None else math.nan)


def link_condition(kind: str, name: str, ref: str, digest: str | None) -> sa.ColumnElement[bool]:
    """``run_inputs`` rows that name this version: its canonical ref ('name/N'), or another identifier of
    the same name ('name@production', 'name') recorded with this version's digest."""
    same = run_inputs.c.ref == ref
    if digest:
        other_form = sa.or_(run_inputs.c.ref == name, run_inputs.c.ref.startswith(f"{name}@", autoescape=True),
                            run_inputs.c.ref.startswith(f"{name}/", autoescape=True))
        same = sa.or_(same, sa.and_(run_inputs.c.digest == digest, other_form))
    return sa.and_(run_inputs.c.kind == kind, same)


def linked_metrics(
    ws: Workspace, version: Any, keys: Sequence[str], kind: str = models.KIND
) -> dict[str, tuple[float, str]]:
    """For each key, (value, run id) from the most recent log among runs linked to ``version``."""
    if not keys:
        return {}
    _flush_pending_metrics(ws)
    q = (
        sa.select(latest_metrics.c.key, latest_metrics.c.value, latest_metrics.c.flag,
                  latest_metrics.c.timestamp, latest_metrics.c.run_id)
        .select_from(
            run_inputs.join(runs, runs.c.id == run_inputs.c.run_id).join(
                latest_metrics, latest_metrics.c.run_id == runs.c.id
            )
        )
        .where(
            link_condition(kind, version.name, version.ref, version.digest), latest_metrics.c.key.in_(list(keys)),
            runs.c.deleted.is_(sa.false()), sa.func.lower(runs.c.status).not_in(_EXCLUDED_STATUSES),
        )
        .order_by(latest_metrics.c.timestamp, latest_metrics.c.run_id)
        .distinct()
    )
    out: dict[str, tuple[float, str]] = {}
    with ws.read() as conn:
        for row in conn.execute(q):
            out[row.key] = (_value(row.value, row.flag), row.run_id)  # later rows (newer logs) win
    return out


def _flush_pending_metrics(ws: Workspace) -> None:
    """Runs in this process buffer metric points; write them so the gate sees what was logged."""
    writer = sys.modules.get("ondo.tracking.writer")
    if writer is not None:
        writer.writer_for(ws).flush()


def _version(ws: Workspace, ref: str, kind: str) -> Any:
    """The model or prompt version ``ref`` names (anything with .name, .version, .ref, .digest)."""
    if kind == models.KIND:
        return models.get(ws, ref)
    if kind == "prompt":
        from ondo.prompts import versions as prompt_versions

        return prompt_versions.get(ws, ref)
    raise InvalidInput(f"gates apply to 'model' or 'prompt' versions, not {kind!r}")


def requirements(require: str | Requirement | Sequence[str | Requirement] | None) -> list[Requirement]:
    """Parse requirements; one requirement alone (``require="mmlu.acc>=0.45"``) counts as a list of one."""
    if require is None:
        return []
    if isinstance(require, str | Requirement):
        require = [require]
    return [r if isinstance(r, Requirement) else parse_requirement(r) for r in require]


def check(
    ws: Workspace, ref: str, require: str | Requirement | Sequence[str | Requirement], *, kind: str = models.KIND
) -> list[GateCheck]:
    """Evaluate each requirement against the runs linked to version ``ref`` (any identifier)."""
    reqs = requirements(require)
    mv = _version(ws, ref, kind)
    values = linked_metrics(ws, mv, sorted({r.metric for r in reqs}), kind)
    checks = []
    for req in reqs:
        found = values.get(req.metric)
        if found is None:
            checks.append(GateCheck(req, None, None, False))
        else:
            checks.append(GateCheck(req, found[0], found[1], req.met_by(found[0])))
    return checks


def promote(
    ws: Workspace,
    ref: str,
    alias: str,
    require: str | Requirement | Sequence[str | Requirement] | None = (),
    *,
    force: bool = False,
    reason: str | None = None,
    kind: str = models.KIND,
) -> AliasEvent:
    """Point ``alias`` at the version ``ref`` names if every requirement holds (GateFailed lists each that does not).

    ``force=True`` needs a ``reason``; the event's details record it and the failures it overrode.
    """
    check_alias(alias)
    if force and not (reason and reason.strip()):
        raise InvalidInput("--force needs --reason: say why the gate is overridden (it is recorded)", field="reason")
    parse_ref(ref)
    reqs = requirements(require)
    mv = _version(ws, ref, kind)
    checks = check(ws, mv.ref, reqs, kind=kind)
    failures = [c.message for c in checks if not c.passed]
    if failures and not force:
        raise GateFailed(f"{mv.ref} to {mv.name}@{alias}", failures)
    details: dict[str, Any] = {
        "version": mv.version, "digest": mv.digest, "require": [str(r) for r in reqs],
        "checks": [c.to_dict() for c in checks], "forced": bool(force), "failures": failures,
    }
    event = aliases.move(ws, kind, mv.name, alias, mv.version, reason=reason, action="promote", details=details)
    if kind == "prompt":
        from ondo.prompts.versions import _invalidate

        _invalidate(ws, mv.name)
    return event
