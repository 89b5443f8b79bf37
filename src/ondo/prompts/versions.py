"""Prompt versions: immutable, content-addressed, numbered per name.

A version holds the template (text, or a list of role/content messages for chat models),
its declared variables, the model it was written for and that model's parameters. The
digest covers exactly that content, so registering the same content again returns the
existing version instead of a new number. Tags are the one mutable part.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ondo import aliases
from ondo.aliases.events import AliasEvent, current_actor
from ondo.errors import InvalidInput, NotFound, OndoError
from ondo.ids import Ref, check_alias, check_name, parse_ref
from ondo.prompts import template as tpl
from ondo.registry import versioned
from ondo.store.tables.registry import prompt_versions
from ondo.workspace import Workspace

KIND = "prompt"
_VAR_OK = str.isidentifier


@dataclass(frozen=True, eq=False)
class PromptVersion:
    """One immutable prompt version. ``render(**vars)`` fills it in (and records it on the active run)."""

    name: str
    version: int
    digest: str
    template: str | None
    messages: list[dict[str, str]] | None
    variables: list[str]
    model: str | None
    params: dict[str, Any]
    description: str | None
    created_at: float
    created_by: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """The canonical identifier, ``name/N``."""
        return f"{self.name}/{self.version}"

    @property
    def is_chat(self) -> bool:
        return self.messages is not None

    def render(self, **variables: Any) -> Any:
        """Fill in the template: a string for a text prompt, a list of {role, content} for a chat prompt.

        Raises ``MissingVariables`` (an ``InvalidInput``) naming every variable that was needed
        and not given. Inside an active run, records this version as an input of the run.
        """
        from ondo.prompts.usage import record_if_active

        if self.messages is not None:
            texts = tpl.render([m["content"] for m in self.messages], variables, what=self.ref, declared=self.variables)
            result: Any = [{**m, "content": t} for m, t in zip(self.messages, texts, strict=True)]
        else:
            result = tpl.render([self.template or ""], variables, what=self.ref, declared=self.variables)[0]
        record_if_active(self)
        return result

    def render_messages(self, **variables: Any) -> list[dict[str, str]]:
        """Always a message list: a text prompt becomes one user message."""
        out = self.render(**variables)
        return out if isinstance(out, list) else [{"role": "user", "content": out}]

    def content(self) -> dict[str, Any]:
        """What the digest covers."""
        return _content(self.template, self.messages, self.variables, self.model, self.params)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "ref": self.ref, "digest": self.digest,
            "template": self.template, "messages": self.messages, "variables": self.variables,
            "model": self.model, "params": self.params, "description": self.description,
            "created_at": self.created_at, "created_by": self.created_by, "tags": self.tags,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PromptVersion):
            return NotImplemented
        return (self.name, self.version, self.digest) == (other.name, other.version, other.digest)

    def __hash__(self) -> int:
        return hash((self.name, self.version, self.digest))

    def __str__(self) -> str:
        """The canonical identifier, so ``run.record_input(kind, version)`` records ``name/N``."""
        return self.ref

    def __repr__(self) -> str:
        return f"PromptVersion({self.ref}, {self.digest[:19]})"


def _content(
    template: str | None, messages: Sequence[Mapping[str, str]] | None, variables: Sequence[str],
    model: str | None, params: Mapping[str, Any],
) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": list(messages)} if messages is not None else {"template": template}
    return {**body, "variables": sorted(variables), "model": model, "params": dict(params)}


def _digest(content: Mapping[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _normalize_messages(raw: Sequence[Any], where: str) -> list[dict[str, str]]:
    if not raw:
        raise InvalidInput("a chat prompt needs at least one message", file=where)
    out = []
    for i, m in enumerate(raw):
        if not isinstance(m, Mapping):
            raise InvalidInput(f"message {i} must be a mapping with 'role' and 'content'", file=where, field=f"messages[{i}]")
        role, content = m.get("role"), m.get("content")
        if role not in tpl.ROLES:
            raise InvalidInput(
                f"message {i} has role {role!r}; expected one of {', '.join(tpl.ROLES)}", file=where, field=f"messages[{i}].role"
            )
        if not isinstance(content, str):
            raise InvalidInput(f"message {i} needs 'content' text", file=where, field=f"messages[{i}].content")
        extra = set(m) - {"role", "content", "name"}
        if extra:
            raise InvalidInput(f"message {i} has unknown keys: {', '.join(sorted(extra))}", file=where, field=f"messages[{i}]")
        msg = {"role": role, "content": content}
        if "name" in m:
            msg["name"] = str(m["name"])
        out.append(msg)
    return out


def _check_params(params: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InvalidInput("params must be a mapping such as {'temperature': 0.2}", file=where, field="params")
    try:
        return json.loads(json.dumps(dict(params), allow_nan=False))  # type: ignore[no-any-return]
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"params must be JSON values: {exc}", file=where, field="params") from None


def _model_label(model: Any) -> str | None:
    if model is None or isinstance(model, str):
        return model or None
    ref = getattr(model, "ref", None)
    if isinstance(ref, str):
        return ref
    raise InvalidInput(f"model must be a name or a registered model version, not {type(model).__name__}", field="model")


def register(
    ws: Workspace,
    name: str,
    template: str | Sequence[Mapping[str, str]],
    *,
    model: Any = None,
    params: Mapping[str, Any] | None = None,
    variables: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
) -> PromptVersion:
    """Register a prompt version; identical content returns the existing version (tags are merged in)."""
    check_name(name, "prompt name")
    tag_values = versioned.check_tags(tags)
    where = f"prompt {name}"
    if isinstance(template, str):
        messages = None
        text: str | None = template
        used = tpl.check_template(template, where=where)
    elif isinstance(template, Sequence):
        messages = _normalize_messages(template, where)
        text = None
        used = set()
        for m in messages:
            used |= tpl.check_template(m["content"], where=where)
    else:
        raise InvalidInput("template must be text or a list of {role, content} messages", file=where, field="template")
    if variables is None:
        declared = sorted(used)
    else:
        if isinstance(variables, str):
            raise InvalidInput("variables must be a list of names", file=where, field="variables")
        declared = list(dict.fromkeys(str(v) for v in variables))
        bad = [v for v in declared if not _VAR_OK(v)]
        if bad:
            raise InvalidInput(f"invalid variable names: {', '.join(bad)}", file=where, field="variables")
        undeclared = sorted(used - set(declared))
        if undeclared:
            raise InvalidInput(
                f"the template uses undeclared variables: {', '.join(undeclared)} (declared: {', '.join(declared) or 'none'})",
                file=where, field="variables",
            )
    model_label = _model_label(model)
    clean_params = _check_params(params, where)
    content = _content(text, messages, declared, model_label, clean_params)
    digest = _digest(content)
    actor = current_actor()

    def tx(conn: sa.Connection) -> int:
        existing = conn.execute(
            sa.select(prompt_versions.c.version).where(
                prompt_versions.c.name == name, prompt_versions.c.digest == digest
            )
        ).scalar_one_or_none()
        if existing is None:
            top = conn.execute(
                sa.select(sa.func.max(prompt_versions.c.version)).where(prompt_versions.c.name == name)
            ).scalar_one_or_none()
            existing = (top or 0) + 1
            conn.execute(
                prompt_versions.insert().values(
                    name=name, version=existing, digest=digest, template=text, messages=messages,
                    variables=declared, model=model_label, params=clean_params, description=description,
                    created_at=time.time(), created_by=actor,
                )
            )
        for k, v in tag_values.items():
            versioned.upsert_tag(conn, KIND, name, existing, k, v)
        return int(existing)

    for _ in range(20):
        try:
            version = ws.write(tx)
            break
        except IntegrityError:
            continue  # a concurrent register took the number (or the same content); look again
    else:
        raise OndoError(f"could not register prompt {name}: too much contention")
    _invalidate(ws, name)
    return get_version(ws, name, version)


def _from_row(row: Any, tags: dict[str, str]) -> PromptVersion:
    return PromptVersion(
        name=row.name, version=row.version, digest=row.digest, template=row.template,
        messages=row.messages, variables=list(row.variables or []), model=row.model,
        params=dict(row.params or {}), description=row.description, created_at=row.created_at,
        created_by=row.created_by, tags=tags,
    )


def get_version(ws: Workspace, name: str, version: int) -> PromptVersion:
    with ws.read() as conn:
        row = conn.execute(
            sa.select(prompt_versions).where(prompt_versions.c.name == name, prompt_versions.c.version == version)
        ).first()
        if row is None:
            versions = _versions_of(conn, name)
            if not versions:
                raise NotFound("prompt", name, names(ws))
            raise NotFound("prompt version", f"{name}/{version}", [f"{name}/{v}" for v in versions])
        return _from_row(row, versioned.read_tags(conn, KIND, name, version))


def _versions_of(conn: sa.Connection, name: str) -> builtins.list[int]:
    return [
        r[0] for r in conn.execute(
            sa.select(prompt_versions.c.version).where(prompt_versions.c.name == name).order_by(prompt_versions.c.version)
        )
    ]


def names(ws: Workspace) -> builtins.list[str]:
    with ws.read() as conn:
        return [r[0] for r in conn.execute(sa.select(prompt_versions.c.name).distinct().order_by(prompt_versions.c.name))]


def resolve_version(ws: Workspace, ref: str | Ref) -> int:
    """The version number ``ref`` names right now (``name`` = latest, ``name@alias``, ``name@sha256:...``)."""
    r = parse_ref(ref)
    if r.version is not None:
        return r.version
    with ws.read() as conn:
        if r.alias is not None:
            v = aliases.pointer(conn, KIND, r.name, r.alias)
            if v is None:
                if not _versions_of(conn, r.name):
                    raise NotFound("prompt", r.name, names(ws))
                raise NotFound("prompt alias", str(r), [f"{r.name}@{a}" for a in aliases.all_for(ws, KIND, r.name)])
            return int(v)
        if r.digest is not None:
            found = conn.execute(
                sa.select(prompt_versions.c.version).where(
                    prompt_versions.c.name == r.name, prompt_versions.c.digest.startswith(r.digest, autoescape=True)
                )
            ).scalars().all()
            if len(found) > 1:
                raise InvalidInput(f"digest prefix in '{r}' matches versions {sorted(found)}; give more digits")
            if not found:
                raise NotFound("prompt version", str(r))
            return int(found[0])
        versions = _versions_of(conn, r.name)
        if not versions:
            raise NotFound("prompt", r.name, names(ws))
        return versions[-1]


def get(ws: Workspace, ref: str | Ref) -> PromptVersion:
    """Resolve ``ref`` against the store now (no cache)."""
    r = parse_ref(ref)
    return get_version(ws, r.name, resolve_version(ws, r))


@dataclass(frozen=True)
class PromptSummary:
    name: str
    latest: int
    versions: int
    aliases: dict[str, int]
    updated_at: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "latest": self.latest, "versions": self.versions,
                "aliases": self.aliases, "updated_at": self.updated_at}


def list_prompts(ws: Workspace) -> builtins.list[PromptSummary]:
    with ws.read() as conn:
        rows = conn.execute(
            sa.select(
                prompt_versions.c.name,
                sa.func.max(prompt_versions.c.version).label("latest"),
                sa.func.count().label("n"),
                sa.func.max(prompt_versions.c.created_at).label("updated_at"),
            ).group_by(prompt_versions.c.name).order_by(prompt_versions.c.name)
        ).all()
        by_name = aliases.pointers(conn, KIND)
    return [PromptSummary(r.name, r.latest, r.n, by_name.get(r.name, {}), r.updated_at) for r in rows]


def list_versions(ws: Workspace, name: str) -> builtins.list[PromptVersion]:
    with ws.read() as conn:
        rows = conn.execute(
            sa.select(prompt_versions).where(prompt_versions.c.name == name).order_by(prompt_versions.c.version)
        ).all()
        if not rows:
            raise NotFound("prompt", name, names(ws))
        return [_from_row(r, versioned.read_tags(conn, KIND, name, r.version)) for r in rows]


def set_alias(
    ws: Workspace, name: str, alias: str, version: int | None = None, *, reason: str | None = None
) -> AliasEvent:
    name, version = versioned.split_name(name, version, KIND)
    check_alias(alias)
    if version is None:
        raise InvalidInput(f"which version should {name}@{alias} point at? pass version=N")
    get_version(ws, name, int(version))  # NotFound with suggestions when it does not exist
    event = aliases.move(ws, KIND, name, alias, int(version), reason=reason)
    _invalidate(ws, name)
    return event


def remove_alias(ws: Workspace, name: str, alias: str, *, reason: str | None = None) -> AliasEvent:
    name, _ = versioned.split_name(name, None, KIND)
    event = aliases.remove(ws, KIND, name, alias, reason=reason)
    _invalidate(ws, name)
    return event


def rollback(ws: Workspace, name: str, alias: str | None = None, *, reason: str | None = None) -> AliasEvent:
    r = parse_ref(name)
    alias = alias or r.alias
    if alias is None:
        raise InvalidInput(f"which alias of {r.name} should roll back? pass alias=...")
    event = aliases.rollback(ws, KIND, r.name, alias, reason=reason)
    _invalidate(ws, r.name)
    return event


def history(ws: Workspace, name: str, alias: str | None = None) -> builtins.list[AliasEvent]:
    r = parse_ref(name)
    if r.version is not None or r.digest is not None:
        raise InvalidInput(f"expected a prompt name (or name@alias), got '{name}'")
    alias = alias or r.alias
    if not names_include(ws, r.name):
        raise NotFound("prompt", r.name, names(ws))
    return aliases.history(ws, KIND, r.name, alias)


def names_include(ws: Workspace, name: str) -> bool:
    with ws.read() as conn:
        return bool(_versions_of(conn, name))


def set_tag(ws: Workspace, ref: str, key: str, value: str) -> None:
    versioned.check_tag_key(key)
    pv = get(ws, ref)
    ws.write(lambda conn: versioned.upsert_tag(conn, KIND, pv.name, pv.version, key, str(value)))
    _invalidate(ws, pv.name)


def delete_tag(ws: Workspace, ref: str, key: str) -> None:
    pv = get(ws, ref)
    ws.write(lambda conn: versioned.delete_tag(conn, KIND, pv.name, pv.version, key))
    _invalidate(ws, pv.name)


def _invalidate(ws: Workspace, name: str) -> None:
    """This process just changed ``name``: drop its cached resolutions so the next get() sees the change."""
    from ondo.prompts.cache import default_cache

    default_cache().invalidate(ws.settings.store_url, name)

