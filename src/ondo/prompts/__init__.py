"""Prompts: named, immutable, content-addressed versions with aliases and a history of every move.

```python
p = ondo.prompts.register("summarize", template="Summarize: {{ text }}", model="gpt-4o-mini",
                          params={"temperature": 0.2})
ondo.prompts.set_alias("summarize", "production", version=p.version, reason="first")
ondo.prompts.get("summarize@production").render(text="...")
```

``get`` goes through the SDK cache (see ``ondo.prompts.cache``); every other call asks the
store. Functions take an optional ``workspace``; by default the one the environment
names (``ONDO_HOME`` / ``ONDO_STORE_URL``).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ondo.aliases.events import AliasEvent
from ondo.prompts import versions as _v
from ondo.prompts.cache import PromptCache, PromptCacheWarning, default_cache
from ondo.prompts.diff import PromptDiff
from ondo.prompts.files import load as load_file
from ondo.prompts.template import MissingVariables
from ondo.prompts.usage import use
from ondo.prompts.versions import PromptSummary, PromptVersion
from ondo.workspace import Workspace

__all__ = [
    "MissingVariables",
    "PromptCache",
    "PromptCacheWarning",
    "PromptDiff",
    "PromptSummary",
    "PromptVersion",
    "check",
    "delete_tag",
    "diff",
    "get",
    "history",
    "lineage",
    "list",
    "load_file",
    "promote",
    "register",
    "remove_alias",
    "rollback",
    "set_alias",
    "set_tag",
    "use",
    "version_at",
]


def _ws(workspace: Workspace | None) -> Workspace:
    return workspace or Workspace.default()


def register(
    name: str,
    template: str | Sequence[Mapping[str, str]] | None = None,
    *,
    messages: Sequence[Mapping[str, str]] | None = None,
    model: Any = None,
    params: Mapping[str, Any] | None = None,
    variables: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    workspace: Workspace | None = None,
) -> PromptVersion:
    """Register a version of prompt ``name``; identical content returns the existing version.

    ``template`` is Jinja2 text, or a list of ``{"role", "content"}`` messages (each content a
    template; ``messages=`` says the same for a chat prompt). ``variables`` declares the inputs
    (default: the ones the template reads).
    """
    from ondo.errors import InvalidInput

    if (template is None) == (messages is None):
        raise InvalidInput(
            f"prompt {name}: give exactly one of template= (text) or messages= (a chat prompt)", field="template"
        )
    body = template if template is not None else messages
    assert body is not None
    if messages is not None and isinstance(messages, str):
        raise InvalidInput(f"prompt {name}: messages= is a list of {{role, content}}, not text", field="messages")
    return _v.register(
        _ws(workspace), name, body, model=model, params=params, variables=variables, tags=tags, description=description
    )


def get(
    ref: str, *, cache: bool = True, ttl: float | None = None, workspace: Workspace | None = None
) -> PromptVersion:
    """The version ``ref`` names: ``summarize`` (latest), ``summarize/2``, ``summarize@production``, ``@sha256:..``.

    Served from the SDK cache by default (``cache=False`` asks the store).
    """
    if not cache:
        return _v.get(_ws(workspace), ref)
    from ondo.config import Settings

    if workspace is not None:
        bound = workspace
        return default_cache().get(bound.settings.store_url, ref, ttl=ttl, fetch=lambda _s, r: _v.get(bound, r))
    return default_cache().get(Settings.from_env().store_url, ref, ttl=ttl)


def list(name: str | None = None, *, workspace: Workspace | None = None) -> builtins.list[Any]:
    """Every prompt (``PromptSummary``), or every version of ``name`` (``PromptVersion``), oldest first."""
    if name is None:
        return _v.list_prompts(_ws(workspace))
    return _v.list_versions(_ws(workspace), name)


def diff(a: str | PromptVersion, b: str | PromptVersion, *, workspace: Workspace | None = None) -> PromptDiff:
    """Unified diff of template and parameters between two versions (``str(d)`` prints it)."""
    from ondo.prompts.diff import diff as _diff

    pa = a if isinstance(a, PromptVersion) else _v.get(_ws(workspace), a)
    pb = b if isinstance(b, PromptVersion) else _v.get(_ws(workspace), b)
    return _diff(pa, pb)


def set_alias(
    name: str, alias: str, version: int | None = None, *, reason: str | None = None, workspace: Workspace | None = None
) -> AliasEvent:
    """Point ``name@alias`` at ``version`` (or pass ``name`` as ``summarize/2``), recording the event."""
    return _v.set_alias(_ws(workspace), name, alias, version, reason=reason)


def promote(
    ref: str,
    alias: str,
    require: Sequence[str] = (),
    *,
    force: bool = False,
    reason: str | None = None,
    workspace: Workspace | None = None,
) -> AliasEvent:
    """Move ``alias`` to the prompt version ``ref`` names if every requirement holds, else raise ``ondo.GateFailed``.

    Requirements (``"rouge1>=0.3"``) are checked against the runs that used that version
    (rendered it, ``use``d it, or ran it in ``ondo.sweep``). ``force=True`` needs a ``reason``.
    """
    from ondo.registry import gates

    return gates.promote(_ws(workspace), ref, alias, require, force=force, reason=reason, kind=_v.KIND)


def check(ref: str, require: Sequence[str], *, workspace: Workspace | None = None) -> builtins.list[Any]:
    """Evaluate promotion requirements for a prompt version without moving anything."""
    from ondo.registry import gates

    return gates.check(_ws(workspace), ref, require, kind=_v.KIND)


def remove_alias(name: str, alias: str, *, reason: str | None = None, workspace: Workspace | None = None) -> AliasEvent:
    return _v.remove_alias(_ws(workspace), name, alias, reason=reason)


def rollback(
    name: str, alias: str | None = None, *, reason: str | None = None, workspace: Workspace | None = None
) -> AliasEvent:
    """Move ``name@alias`` back to the version it held before; a second rollback goes one further back."""
    return _v.rollback(_ws(workspace), name, alias, reason=reason)


def history(name: str, alias: str | None = None, *, workspace: Workspace | None = None) -> builtins.list[AliasEvent]:
    """The alias events of ``name`` (or of one alias), oldest first."""
    return _v.history(_ws(workspace), name, alias)


def version_at(
    name: str, alias: str, at: float | datetime | str, *, workspace: Workspace | None = None
) -> int | None:
    """The version ``name@alias`` pointed at, at time ``at`` (epoch seconds, datetime or ISO 8601)."""
    from ondo import aliases
    from ondo.registry.times import to_epoch

    return aliases.value_at(_ws(workspace), _v.KIND, name, alias, to_epoch(at))


def lineage(ref: str, *, workspace: Workspace | None = None) -> Any:
    """The runs that used this version (with their datasets, inputs and metrics) and the aliases that held it.

    A ``ondo.registry.lineage.Lineage``: ``.to_dict()`` for JSON, ``.tree()`` to print.
    """
    from ondo.registry import lineage as _lineage

    return _lineage.prompt_lineage(_ws(workspace), ref)


def set_tag(ref: str, key: str, value: str, *, workspace: Workspace | None = None) -> None:
    _v.set_tag(_ws(workspace), ref, key, value)


def delete_tag(ref: str, key: str, *, workspace: Workspace | None = None) -> None:
    _v.delete_tag(_ws(workspace), ref, key)
