"""Lineage of a model (or prompt) version: dataset versions -> runs -> the version -> aliases.

Built only from recorded edges: the datasets declared at registration, the version's source
run and every run whose ``run_inputs`` name the version (evaluations, or runs that used a
prompt), each with its own inputs (datasets, prompts, models) and latest metrics, and the
alias events that ever pointed at the version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rich.markup import escape
from rich.tree import Tree

from ondo import aliases
from ondo.aliases.events import AliasEvent
from ondo.errors import NotFound
from ondo.ids import parse_ref
from ondo.registry import models
from ondo.registry.gates import link_condition
from ondo.registry.times import iso
from ondo.store.tables.core import experiments, latest_metrics, run_inputs, runs
from ondo.workspace import Workspace


@dataclass(frozen=True)
class Lineage:
    kind: str  # 'model' | 'prompt'
    subject: dict[str, Any]  # the version itself
    datasets: list[dict[str, Any]]  # {ref, digest, via: ['declared' | 'run:<id>']}
    runs: list[dict[str, Any]]  # {id, name, experiment, status, role, inputs, metrics, ...}
    aliases: list[dict[str, Any]]  # {alias, current, periods: [{from, to}]}

    def to_dict(self) -> dict[str, Any]:
        return {self.kind: self.subject, "kind": self.kind, "datasets": self.datasets, "runs": self.runs,
                "aliases": self.aliases}

    def tree(self) -> Tree:
        """A rich Tree: datasets -> runs -> this version -> aliases."""
        s = self.subject
        root = Tree(f"[bold]{_e(s['ref'])}[/bold]  {s['digest'][:19]}  ({_e(s.get('kind', self.kind))}: {_e(s.get('source', ''))})")
        if self.datasets:
            branch = root.add("dataset versions")
            for d in self.datasets:
                digest = f"  {d['digest'][:19]}" if d.get("digest") else ""
                branch.add(f"{_e(d['ref'])}{digest}  [dim]({_e(', '.join(d['via']))})[/dim]")
        if self.runs:
            branch = root.add("runs")
            for r in self.runs:
                label = {"output": "produced it", "input": "used it"}.get(r["role"], r["role"])
                node = branch.add(
                    f"run {r['id'][:12]}  [dim]{_e(r.get('experiment') or '')} {_e(r.get('name') or '')}[/dim]  "
                    f"{_e(r.get('status'))}  ({label})"
                )
                for i in r["inputs"]:
                    node.add(f"{_e(i['kind'])} {_e(i['ref'])} [dim]({_e(i['role'])})[/dim]")
                if r["metrics"]:
                    node.add(_e(", ".join(f"{k}={_fmt(v)}" for k, v in sorted(r["metrics"].items()))))
        if self.aliases:
            branch = root.add("aliases")
            for a in self.aliases:
                periods = "; ".join(f"{iso(p['from'])} -> {iso(p['to']) or 'now'}" for p in a["periods"])
                mark = "[green]current[/green] " if a["current"] else ""
                branch.add(f"{_e(s['name'])}@{_e(a['alias'])}  {mark}[dim]{periods}[/dim]")
        return root


def _e(value: Any) -> str:
    """User text (names, paths, refs) shown literally inside the tree's markup."""
    return escape(str(value))


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _alias_periods(events: Sequence[AliasEvent], version: int) -> list[dict[str, Any]]:
    """When each alias pointed at ``version``: one entry per alias that ever did."""
    out: dict[str, dict[str, Any]] = {}
    holding: dict[str, float] = {}
    for e in events:
        if e.alias in holding and e.to_version != version:
            out[e.alias]["periods"].append({"from": holding.pop(e.alias), "to": e.created_at})
        if e.to_version == version and e.alias not in holding:
            holding[e.alias] = e.created_at
            out.setdefault(e.alias, {"alias": e.alias, "current": False, "periods": []})
    for alias, since in holding.items():
        out[alias]["periods"].append({"from": since, "to": None})
        out[alias]["current"] = True
    return sorted(out.values(), key=lambda a: (not a["current"], a["alias"]))


def _run_details(conn: sa.Connection, edges: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Each linked run (id, role) with experiment, status, inputs and latest metrics."""
    ids = list(dict.fromkeys(rid for rid, _ in edges))
    if not ids:
        return []
    rows = {
        r.id: r for r in conn.execute(
            sa.select(runs.c.id, runs.c.name, runs.c.status, runs.c.start_time, runs.c.end_time, runs.c.deleted,
                      experiments.c.name.label("experiment"))
            .select_from(runs.outerjoin(experiments, experiments.c.id == runs.c.experiment_id))
            .where(runs.c.id.in_(ids))
        )
    }
    inputs: dict[str, list[dict[str, Any]]] = {}
    for i in conn.execute(
        sa.select(run_inputs).where(run_inputs.c.run_id.in_(ids)).order_by(run_inputs.c.kind, run_inputs.c.ref)
    ):
        inputs.setdefault(i.run_id, []).append({"kind": i.kind, "ref": i.ref, "role": i.role, "digest": i.digest})
    metrics: dict[str, dict[str, Any]] = {}
    for m in conn.execute(sa.select(latest_metrics).where(latest_metrics.c.run_id.in_(ids))):
        value: Any = m.value if not m.flag else {1: "NaN", 2: "Infinity", 3: "-Infinity"}.get(m.flag, m.value)
        metrics.setdefault(m.run_id, {})[m.key] = value
    out = []
    for rid, role in edges:
        r = rows.get(rid)
        if r is None or r.deleted:
            continue
        out.append({
            "id": rid, "name": r.name, "experiment": r.experiment, "status": r.status, "role": role,
            "start_time": r.start_time, "end_time": r.end_time, "inputs": inputs.get(rid, []),
            "metrics": metrics.get(rid, {}),
        })
    out.sort(key=lambda r: (r["role"] != "output", r["start_time"] or 0, r["id"]))
    return out


def _edges(conn: sa.Connection, kind: str, version: Any, source_run: str | None) -> list[tuple[str, str]]:
    q = sa.select(run_inputs.c.run_id, run_inputs.c.role).where(
        link_condition(kind, version.name, version.ref, version.digest)
    ).distinct()
    edges = sorted({(r.run_id, r.role) for r in conn.execute(q)})
    if source_run and not any(rid == source_run for rid, _ in edges):
        edges.append((source_run, "output"))
    return edges


def _datasets(declared: Sequence[dict[str, Any]], run_list: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for d in declared:
        out.setdefault(d["ref"], {"ref": d["ref"], "digest": d.get("digest"), "via": []})["via"].append("declared")
    for r in run_list:
        for i in r["inputs"]:
            if i["kind"] == "dataset":
                entry = out.setdefault(i["ref"], {"ref": i["ref"], "digest": i.get("digest"), "via": []})
                entry["digest"] = entry["digest"] or i.get("digest")
                entry["via"].append(f"run:{r['id']}")
    return list(out.values())


def model_lineage(ws: Workspace, ref: str) -> Lineage:
    mv = models.get(ws, ref)
    with ws.read() as conn:
        run_list = _run_details(conn, _edges(conn, models.KIND, mv, mv.run_id))
    events = aliases.history(ws, models.KIND, mv.name)
    subject = {**mv.to_dict()}
    return Lineage("model", subject, _datasets(mv.datasets, run_list), run_list, _alias_periods(events, mv.version))


def prompt_lineage(ws: Workspace, ref: str) -> Lineage:
    from ondo.prompts import versions as prompt_versions

    pv = prompt_versions.get(ws, ref)
    with ws.read() as conn:
        run_list = _run_details(conn, _edges(conn, prompt_versions.KIND, pv, None))
    events = aliases.history(ws, prompt_versions.KIND, pv.name)
    subject = {**pv.to_dict(), "kind": "chat" if pv.is_chat else "text", "source": pv.model or ""}
    return Lineage("prompt", subject, _datasets([], run_list), run_list, _alias_periods(events, pv.version))


def lineage(ws: Workspace, ref: str, kind: str | None = None) -> Lineage:
    """Lineage of a model version (or, with ``kind='prompt'`` or when no model has that name, a prompt)."""
    from ondo.prompts import versions as prompt_versions

    r = parse_ref(ref)
    if kind not in (None, "model", "prompt"):
        raise NotFound("registry kind", str(kind), ["model", "prompt"])
    if kind == "prompt" or (kind is None and not models.names_include(ws, r.name)
                            and prompt_versions.names_include(ws, r.name)):
        return prompt_lineage(ws, ref)
    return model_lineage(ws, ref)
