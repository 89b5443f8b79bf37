"""``ondo models ...`` and ``ondo lineage``: thin shells over ``ondo.models``.

The alias, promote, check, rollback and history commands come from ``ondo.cli.registry_common`` (shared with
``ondo prompts``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from ondo import models as registry
from ondo.cli.output import JsonOption, console, print_json, print_table
from ondo.cli.registry_common import add_registry_commands, add_tag_command, key_values, print_lineage
from ondo.errors import InvalidInput
from ondo.registry.times import iso

app = typer.Typer(help="Model registry: versions, aliases, gated promotion, rollback, history.", no_args_is_help=True)
lineage_app = typer.Typer(help="Lineage of a registered version.")


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
    console.print(f"registered {mv.ref}  {mv.digest}  ({mv.kind}: {mv.source})", markup=False, highlight=False,
                  soft_wrap=True)


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


add_registry_commands(
    app, registry, noun="Model",
    alias_doc="Point an alias at a version (no gate; see promote), or --remove it.",
    promote_doc="Move an alias to a version if its evaluation results meet every --require.",
    promote_ref_help="The version to promote, e.g. summarizer/4 or summarizer@staging.",
    check_ref_help="The version to check.",
    require_help="e.g. 'mmlu.acc>=0.45' (repeatable).",
)


add_tag_command(app, registry, noun="model", get=registry.get)


@app.command("lineage")
def models_lineage_cmd(
    ref: str = typer.Argument(..., help="A model version: summarizer/4, summarizer@production, summarizer."),
    json_out: bool = JsonOption,
) -> None:
    """Dataset versions -> runs -> this model version -> aliases, as a tree (or --json)."""
    print_lineage(registry.lineage(ref, kind="model"), json_out)


@lineage_app.command("lineage")
def lineage_cmd(
    ref: str = typer.Argument(..., help="A model version (summarizer/4, summarizer@production) or a prompt version."),
    kind: str | None = typer.Option(None, "--kind", help="'model' or 'prompt' when a name is both."),
    json_out: bool = JsonOption,
) -> None:
    """Dataset versions -> runs -> the version -> aliases, as a tree (or --json)."""
    print_lineage(registry.lineage(ref, kind=kind), json_out)
