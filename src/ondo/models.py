"""``ondo.models``: the Python API of the model registry (the CLI ``ondo models ...`` mirrors it).

```python
v = ondo.models.register("summarizer", source="path/to/model.gguf")   # or api={"provider": ..., "model": ...}
ondo.models.set_alias("summarizer", "production", version=v.version, reason="first release")
ondo.models.get("summarizer@production")                             # .version .digest .source
ondo.models.promote("summarizer/4", alias="production", require=["mmlu.acc>=0.45"])  # or GateFailed
ondo.models.rollback("summarizer", alias="production")
ondo.models.history("summarizer", alias="production")                # alias events, oldest first
ondo.models.lineage("summarizer/4")                                  # datasets -> runs -> version -> aliases
```
Every function takes an optional ``workspace``; by default the one the environment names.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ondo import aliases as _aliases
from ondo.aliases.events import AliasEvent
from ondo.registry import gates as _gates
from ondo.registry import lineage as _lineage
from ondo.registry import models as _m
from ondo.registry.gates import GateCheck, Requirement, parse_requirement
from ondo.registry.lineage import Lineage
from ondo.registry.models import ModelSummary, ModelVersion
from ondo.registry.times import to_epoch
from ondo.workspace import Workspace

__all__ = [
    "GateCheck",
    "Lineage",
    "ModelSummary",
    "ModelVersion",
    "Requirement",
    "check",
    "delete_tag",
    "get",
    "history",
    "lineage",
    "list",
    "parse_requirement",
    "promote",
    "register",
    "remove_alias",
    "rollback",
    "set_alias",
    "set_tag",
    "version_at",
]


def _ws(workspace: Workspace | None) -> Workspace:
    return workspace or Workspace.default()


def register(
    name: str,
    source: str | Path | None = None,
    *,
    api: Mapping[str, Any] | None = None,
    run_id: Any = None,
    datasets: Sequence[Any] | None = None,
    base: Any = None,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    workspace: Workspace | None = None,
) -> ModelVersion:
    """Register a new version: local weights (``source``: GGUF file, HF or LoRA directory) or ``api={...}``.

    ``api`` keys: provider, model, snapshot, params, system_prompt (a prompt identifier, pinned), base_url.
    ``run_id``: the run that produced it (default: the active run, if any). ``datasets``: the
    dataset versions behind it. ``base``: the base model of an adapter. A missing or unreadable
    path raises InvalidInput and registers nothing.
    """
    return _m.register(
        _ws(workspace), name, source, api=api, run_id=run_id, datasets=datasets, base=base,
        description=description, tags=tags,
    )


def get(ref: str, *, workspace: Workspace | None = None) -> ModelVersion:
    """The version ``ref`` names: ``summarizer`` (latest), ``summarizer/4``, ``summarizer@production``, ``@sha256:..``."""
    return _m.get(_ws(workspace), ref)


def list(name: str | None = None, *, workspace: Workspace | None = None) -> builtins.list[Any]:
    """Every registered model (``ModelSummary``), or every version of ``name`` (``ModelVersion``), oldest first."""
    if name is None:
        return _m.list_models(_ws(workspace))
    return _m.list_versions(_ws(workspace), name)


def set_alias(
    name: str, alias: str, version: int | None = None, *, reason: str | None = None, workspace: Workspace | None = None
) -> AliasEvent:
    """Point ``name@alias`` at ``version`` (or pass ``name`` as ``summarizer/3``), recording the event. No gate."""
    return _m.set_alias(_ws(workspace), name, alias, version, reason=reason)


def remove_alias(
    name: str, alias: str | None = None, *, reason: str | None = None, workspace: Workspace | None = None
) -> AliasEvent:
    return _m.remove_alias(_ws(workspace), name, alias, reason=reason)


def promote(
    ref: str,
    alias: str,
    require: Sequence[str | Requirement] = (),
    *,
    force: bool = False,
    reason: str | None = None,
    workspace: Workspace | None = None,
) -> AliasEvent:
    """Move ``alias`` to the version ``ref`` names if every requirement holds; else raise ``ondo.GateFailed``.

    Requirements such as ``"mmlu.acc>=0.45"`` are checked against the runs linked to the
    version. ``force=True`` (with a ``reason``) promotes anyway and records both in the event.
    """
    return _gates.promote(_ws(workspace), ref, alias, require, force=force, reason=reason)


def check(ref: str, require: Sequence[str | Requirement], *, workspace: Workspace | None = None) -> builtins.list[GateCheck]:
    """Evaluate requirements for a version without moving anything (a dry run of ``promote``)."""
    return _gates.check(_ws(workspace), ref, require)


def rollback(
    name: str, alias: str | None = None, *, reason: str | None = None, workspace: Workspace | None = None
) -> AliasEvent:
    """Move ``name@alias`` back to the version it held before; a second rollback goes one further back."""
    return _m.rollback(_ws(workspace), name, alias, reason=reason)


def history(name: str, alias: str | None = None, *, workspace: Workspace | None = None) -> builtins.list[AliasEvent]:
    """The alias events of ``name`` (or of one alias), oldest first."""
    return _m.history(_ws(workspace), name, alias)


def version_at(
    name: str, alias: str, at: float | datetime | str, *, workspace: Workspace | None = None
) -> int | None:
    """The version ``name@alias`` pointed at, at time ``at`` (epoch seconds, datetime or ISO 8601)."""
    return _aliases.value_at(_ws(workspace), _m.KIND, name, alias, to_epoch(at))


def lineage(ref: str, *, kind: str | None = None, workspace: Workspace | None = None) -> Lineage:
    """Dataset versions -> runs -> the version -> aliases (``.to_dict()`` for JSON, ``.tree()`` to print)."""
    return _lineage.lineage(_ws(workspace), ref, kind)


def set_tag(ref: str, key: str, value: str, *, workspace: Workspace | None = None) -> None:
    """Set a tag on a version (tags are the one mutable part of a version)."""
    _m.set_tag(_ws(workspace), ref, key, value)


def delete_tag(ref: str, key: str, *, workspace: Workspace | None = None) -> None:
    _m.delete_tag(_ws(workspace), ref, key)
