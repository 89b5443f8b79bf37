"""``ondo models ...`` and ``ondo lineage``: thin shells over ``ondo.models``.

The alias-event helpers here are shared with ``ondo prompts`` (same events, other kind).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from ondo import models as registry
from ondo.aliases.events import AliasEvent
from ondo.cli.output import JsonOption, console, print_json, print_table
from ondo.errors import GateFailed, InvalidInput
from ondo.registry.times import iso, to_epoch

app = typer.Typer(help="Model registry: versions, aliases, gated promotion, rollback, history.", no_args_is_help=True)
lineage_app = typer.Typer(help="Lineage of a registered version.")


# -- helpers shared with ondo prompts ---------------------------------------------------------------
def key_values(items: Sequence[str] | None, what: str) -> dict[str, Any]:
    """``["temperature=0.2", "stop=[\\"\\\\n\\"]"]`` -> {...}; values are JSON when they parse, else text."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"expected KEY=VALUE, got '{item}'", field=what)
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def event_dict(e: AliasEvent) -> dict[str, Any]:
    return {**e.to_dict(), "time": iso(e.created_at)}


def print_events(events: Sequence[AliasEvent], json_out: bool, title: str) -> None:
    if json_out:
        print_json([event_dict(e) for e in events])
        return
    print_table(
        ["TIME", "ALIAS", "ACTION", "FROM", "TO", "BY", "REASON"],
        [
            (iso(e.created_at), e.alias, e.action + (" (forced)" if (e.details or {}).get("forced") else ""),
             e.from_version, e.to_version, e.actor, e.reason or "")
            for e in events
        ],
        title=title,
    )


def print_event(e: AliasEvent, json_out: bool) -> None:
    if json_out:
        print_json(event_dict(e))
        return
    frm = "nothing" if e.from_version is None else f"{e.from_version}"
    to = "nothing" if e.to_version is None else f"{e.to_version}"
    console.print(f"{e.name}@{e.alias}: {frm} -> {to} ({e.action}{', ' + e.reason if e.reason else ''})")


def split_alias_args(name: str, alias: str | None, version: str | None, version_opt: int | None) -> tuple[str, str, int | None]:
    """``alias summarizer/3 production``, ``alias summarizer production 3`` or ``... --version 3``."""
    if alias is None:
        raise InvalidInput("give the alias: e.g. 'production'", field="alias")
    v: int | None = version_opt
    if version is not None:
        if not version.isdigit():
            raise InvalidInput(f"version must be a number, got '{version}'", field="version")
        if v is not None and v != int(version):
            raise InvalidInput("version given twice with different values", field="version")
        v = int(version)
    return name, alias, v


def history_at(events: Sequence[AliasEvent], name: str, alias: str | None, at: str, lookup: Any) -> list[dict[str, Any]]:
    """What each alias (or one) held at time ``at``."""
    when = to_epoch(at)
    names = [alias] if alias else sorted({e.alias for e in events})
    return [{"name": name, "alias": a, "at": iso(when), "version": lookup(name, a, when)} for a in names]


def print_at(rows: list[dict[str, Any]], json_out: bool) -> None:
    if json_out:
        print_json(rows[0] if len(rows) == 1 else rows)
        return
    print_table(["ALIAS", "AT", "VERSION"], [(r["alias"], r["at"], r["version"] if r["version"] is not None else "(none)") for r in rows])


# -- commands -----------------------------------------------------------------------------------------
@app.command("register")
def register_cmd(
    name: str = typer.Argument(..., help="Model name, e.g. summarizer."),
    source: str | None = typer.Argument(None, help="Local weights: a GGUF file, a Hugging Face or LoRA directory."),
    source_opt: str | None = typer.Option(None, "--source", "-s", help="Same as SOURCE."),
    provider: str | None = typer.Option(None, "--provider", help="API model: provider (openai, anthropic, vllm...)."),
    model: str | None = typer.Option(None, "--model", help="API model: the provider's model id."),
    snapshot: str | None = typer.Option(None, "--snapshot", help="API model: pinned snapshot, e.g. gpt-4o-mini-2024-07-18."),
    param: list[str] | None = typer.Option(None, "--param", "-p", help="API model: decoding param KEY=VALUE (repeatable)."),
    system_prompt: str | None = typer.Option(None, "--system-prompt", help="API model: system prompt (a prompt identifier is pinned)."),
    base_url: str | None = typer.Option(None, "--base-url", help="API model: endpoint of an OpenAI-compatible server."),
    api_file: Path | None = typer.Option(None, "--api", help="API model: a YAML/JSON file holding the api spec."),
    run_id: str | None = typer.Option(None, "--run-id", help="The run that produced this version."),
    dataset: list[str] | None = typer.Option(None, "--dataset", "-d", help="Dataset version behind it (repeatable)."),
    base: str | None = typer.Option(None, "--base", help="Base model of an adapter (registered name/N or a model id)."),
    description: str | None = typer.Option(None, "--description"),
    tag: list[str] | None = typer.Option(None, "--tag", help="KEY=VALUE (repeatable)."),
    json_out: bool = JsonOption,
) -> None:
    """Register a new model version from local weights or an API model spec."""
    if source_opt is not None:
        if source is not None and source != source_opt:
            raise InvalidInput("give the source once (SOURCE or --source)", field="source")
        source = source_opt
    api: dict[str, Any] | None = None
    if api_file is not None:
        api = _load_api_file(api_file)
    if provider or model or snapshot or param or system_prompt or base_url:
        api = dict(api or {})
        for k, v in (("provider", provider), ("model", model), ("snapshot", snapshot),
                     ("system_prompt", system_prompt), ("base_url", base_url)):
            if v is not None:
                api[k] = v
        if param:
            api["params"] = {**(api.get("params") or {}), **key_values(param, "param")}
    tags = {k: str(v) for k, v in key_values(tag, "tag").items()}
    mv = registry.register(
        name, source, api=api, run_id=run_id, datasets=dataset, base=base, description=description, tags=tags
    )
    if json_out:
        print_json(mv.to_dict())
        return
    console.print(f"registered {mv.ref}  {mv.digest}  ({mv.kind}: {mv.source})")


def _load_api_file(path: Path) -> dict[str, Any]:
    from ondo.prompts.files import parse

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read api spec: {exc.strerror}", file=str(path)) from None
    doc = parse(text, path.suffix.lower() if path.suffix.lower() == ".json" else ".yaml", str(path))
    if not isinstance(doc, dict):
        raise InvalidInput("an api spec file holds a mapping (provider, model, ...)", file=str(path))
    return doc


@app.command("list")
def list_cmd(
    name: str | None = typer.Argument(None, help="List the versions of this model."),
    json_out: bool = JsonOption,
) -> None:
    """List registered models, or the versions of one."""
    items = registry.list(name)
    if json_out:
        print_json([i.to_dict() for i in items])
        return
    if name is None:
        print_table(
            ["NAME", "LATEST", "VERSIONS", "ALIASES", "KIND", "SOURCE", "UPDATED"],
            [(m.name, m.latest, m.versions, " ".join(f"{a}={v}" for a, v in m.aliases.items()), m.kind, m.source,
              iso(m.updated_at)) for m in items],
            title="models",
        )
        return
    current: dict[int, str] = {}
    for a, n in sorted(_aliases_of(name).items()):
        current[n] = f"{current[n]} {a}" if n in current else a
    print_table(
        ["VERSION", "KIND", "DIGEST", "SOURCE", "RUN", "ALIASES", "CREATED"],
        [(v.version, v.kind, v.digest[:19], v.source, (v.run_id or "")[:12], current.get(v.version, ""),
          iso(v.created_at)) for v in items],
        title=name,
    )


def _aliases_of(name: str) -> dict[str, int]:
    for m in registry.list():
        if m.name == name:
            return m.aliases
    return {}


@app.command("show")
def show_cmd(ref: str = typer.Argument(..., help="summarizer, summarizer/4, summarizer@production..."),
             json_out: bool = JsonOption) -> None:
    """Show one version: digest, source, spec, source run, datasets, tags, aliases."""
    v = registry.get(ref)
    held = sorted(a for a, n in _aliases_of(v.name).items() if n == v.version)
    if json_out:
        print_json({**v.to_dict(), "aliases": held})
        return
    rows = [
        ("ref", v.ref), ("digest", v.digest), ("kind", v.kind), ("source", v.source),
        ("size", v.size if v.size is not None else ""), ("run", v.run_id or ""),
        ("datasets", ", ".join(d["ref"] for d in v.datasets)), ("aliases", ", ".join(held)),
        ("tags", ", ".join(f"{k}={t}" for k, t in v.tags.items())), ("description", v.description or ""),
        ("created", f"{iso(v.created_at)} by {v.created_by}"),
        ("spec", json.dumps({k: s for k, s in v.spec.items() if k != "files"}, ensure_ascii=False)),
    ]
    print_table(["FIELD", "VALUE"], rows, title=v.ref)


@app.command("alias")
def alias_cmd(
    name: str = typer.Argument(..., help="Model name, or name/N."),
    alias: str | None = typer.Argument(None, help="Alias, e.g. production."),
    version: str | None = typer.Argument(None, help="Version number (or give name/N, or --version)."),
    version_opt: int | None = typer.Option(None, "--version", "-v"),
    reason: str | None = typer.Option(None, "--reason", "-m", help="Why (recorded in the event)."),
    remove: bool = typer.Option(False, "--remove", help="Remove the alias instead."),
    json_out: bool = JsonOption,
) -> None:
    """Point an alias at a version (no gate; see promote), or --remove it."""
    name, alias, v = split_alias_args(name, alias, version, version_opt)
    if remove:
        print_event(registry.remove_alias(name, alias, reason=reason), json_out)
        return
    print_event(registry.set_alias(name, alias, v, reason=reason), json_out)


def run_promote(promote: Any, check: Any, ref: str, alias: str, require: list[str], force: bool,
                reason: str | None, json_out: bool) -> None:
    """The promote command of models and prompts: move, or print each failed requirement and exit 1."""
    try:
        e = promote(ref, alias=alias, require=require, force=force, reason=reason)
    except GateFailed as exc:
        if json_out:
            checks = [c.to_dict() for c in check(ref, require)]
            print_json({"promoted": False, "target": exc.target, "failures": exc.failures, "checks": checks})
        raise
    if json_out:
        print_json({**event_dict(e), "promoted": True})
        return
    print_event(e, False)
    for c in (e.details or {}).get("checks", []):
        console.print(f"  {'ok ' if c['passed'] else 'FAILED (forced)'} {c['message']}")


def run_check(check: Any, ref: str, require: list[str], json_out: bool) -> None:
    checks = check(ref, require)
    if json_out:
        print_json([c.to_dict() for c in checks])
    else:
        print_table(["REQUIREMENT", "VALUE", "RUN", "RESULT"],
                    [(str(c.requirement), "" if c.value is None else c.value, (c.run_id or "")[:12],
                      "ok" if c.passed else ("missing" if c.value is None else "failed")) for c in checks])
    if not all(c.passed for c in checks):
        raise typer.Exit(1)


@app.command("promote")
def promote_cmd(
    ref: str = typer.Argument(..., help="The version to promote, e.g. summarizer/4 or summarizer@staging."),
    alias: str = typer.Option(..., "--alias", "-a", help="The alias to move, e.g. production."),
    require: list[str] | None = typer.Option(None, "--require", "-r", help="e.g. 'mmlu.acc>=0.45' (repeatable)."),
    force: bool = typer.Option(False, "--force", help="Promote even if requirements fail (needs --reason)."),
    reason: str | None = typer.Option(None, "--reason", "-m", help="Why (recorded in the event)."),
    json_out: bool = JsonOption,
) -> None:
    """Move an alias to a version if its evaluation results meet every --require."""
    run_promote(registry.promote, registry.check, ref, alias, require or [], force, reason, json_out)


@app.command("check")
def check_cmd(
    ref: str = typer.Argument(..., help="The version to check."),
    require: list[str] = typer.Option(..., "--require", "-r", help="e.g. 'mmlu.acc>=0.45' (repeatable)."),
    json_out: bool = JsonOption,
) -> None:
    """Evaluate promotion requirements without moving anything; exit 1 if any fails."""
    run_check(registry.check, ref, require, json_out)


@app.command("rollback")
def rollback_cmd(
    name: str = typer.Argument(..., help="Model name (or name@alias)."),
    alias_arg: str | None = typer.Argument(None, metavar="[ALIAS]"),
    alias: str | None = typer.Option(None, "--alias", "-a", help="The alias to roll back, e.g. production."),
    reason: str | None = typer.Option(None, "--reason", "-m"),
    json_out: bool = JsonOption,
) -> None:
    """Move an alias back to the version it held before (again: one step further back)."""
    print_event(registry.rollback(name, alias or alias_arg, reason=reason), json_out)


@app.command("history")
def history_cmd(
    name: str = typer.Argument(..., help="Model name."),
    alias: str | None = typer.Option(None, "--alias", "-a", help="Only this alias."),
    at: str | None = typer.Option(None, "--at", help="Instead: what the alias(es) held at this time (ISO 8601 or epoch)."),
    json_out: bool = JsonOption,
) -> None:
    """Every alias move of a model, oldest first; or, with --at, what was in place at that time."""
    events = registry.history(name, alias)
    if at is not None:
        base = name.partition("@")[0]
        print_at(history_at(events, base, alias, at, lambda n, a, w: registry.version_at(n, a, w)), json_out)
        return
    print_events(events, json_out, f"{name} alias history")


@lineage_app.command("lineage")
def lineage_cmd(
    ref: str = typer.Argument(..., help="A model version (summarizer/4, summarizer@production) or a prompt version."),
    kind: str | None = typer.Option(None, "--kind", help="'model' or 'prompt' when a name is both."),
    json_out: bool = JsonOption,
) -> None:
    """Dataset versions -> runs -> the version -> aliases, as a tree (or --json)."""
    lin = registry.lineage(ref, kind=kind)
    if json_out:
        print_json(lin.to_dict())
        return
    console.print(lin.tree())
