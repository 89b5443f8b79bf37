"""Registered models: numbered, immutable versions of local weights or API model specs.

A version is either local weights (a GGUF file, a Hugging Face directory, a LoRA adapter
with its base; see ``weights``) or an API model spec (provider, model id, pinned snapshot,
decoding params, system prompt version). Each records its content digest, the run that
produced it and the dataset versions behind it. Every ``register`` makes a new version,
even for the same weights: two versions may differ in source run or datasets, and their
equal digests then say that the weights are the same.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ondo import aliases
from ondo.aliases.events import AliasEvent, current_actor
from ondo.errors import InvalidInput, NotFound, OndoError
from ondo.ids import Ref, check_alias, check_name, parse_ref
from ondo.registry import versioned
from ondo.registry import weights as weights_mod
from ondo.store.tables.core import run_inputs, runs
from ondo.store.tables.registry import model_version_datasets, model_versions, registry_tags
from ondo.workspace import Workspace

KIND = "model"
API_KEYS = ("provider", "model", "snapshot", "params", "system_prompt", "base_url")
_SECRET_KEYS = {"api_key", "key", "token", "secret", "password", "authorization", "headers"}


@dataclass(frozen=True, eq=False)
class ModelVersion:
    """One immutable model version (``.version``, ``.digest``, ``.source``, ``.kind``...)."""

    name: str
    version: int
    digest: str
    kind: str  # 'gguf' | 'hf' | 'lora' | 'file' | 'dir' | 'api'
    source: str  # absolute path of local weights, or 'api:<provider>/<model>[@snapshot]'
    spec: dict[str, Any]
    size: int | None
    run_id: str | None
    datasets: list[dict[str, Any]]
    description: str | None
    created_at: float
    created_by: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def source_run(self) -> str | None:
        """The id of the run that produced this version (``run_id``), if any."""
        return self.run_id

    @property
    def is_api(self) -> bool:
        return self.kind == "api"

    @property
    def api(self) -> dict[str, Any] | None:
        """The API spec (provider, model, snapshot, params, system_prompt, base_url), or None for weights."""
        return self.spec if self.is_api else None

    @property
    def path(self) -> Path | None:
        return None if self.is_api else Path(self.source)

    @property
    def base(self) -> dict[str, Any] | None:
        """The base model of an adapter: {'ref', 'digest'} for a registered model, else {'id'}."""
        base = self.spec.get("base")
        return base if isinstance(base, dict) else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "ref": self.ref, "digest": self.digest, "kind": self.kind,
            "source": self.source, "spec": self.spec, "size": self.size, "run_id": self.run_id,
            "datasets": self.datasets, "description": self.description, "created_at": self.created_at,
            "created_by": self.created_by, "tags": self.tags,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelVersion):
            return NotImplemented
        return (self.name, self.version, self.digest) == (other.name, other.version, other.digest)

    def __hash__(self) -> int:
        return hash((self.name, self.version, self.digest))

    def __str__(self) -> str:
        """The canonical identifier, so ``run.record_input(kind, version)`` records ``name/N``."""
        return self.ref

    def __repr__(self) -> str:
        return f"ModelVersion({self.ref}, {self.kind}, {self.digest[:19]})"


# ----------------------------------------------------------------------------- register


def _canonical_digest(doc: Mapping[str, Any]) -> str:
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _api_spec(ws: Workspace, api: Any) -> dict[str, Any]:
    if not isinstance(api, Mapping):
        raise InvalidInput("api must be a mapping such as {'provider': 'openai', 'model': 'gpt-4o-mini'}", field="api")
    secrets = sorted(k for k in api if str(k).lower() in _SECRET_KEYS)
    if secrets:
        raise InvalidInput(
            f"api spec must not hold credentials ({', '.join(secrets)}): keep keys in the environment", field="api"
        )
    unknown = sorted(str(k) for k in api if k not in API_KEYS)
    if unknown:
        raise InvalidInput(f"unknown api keys: {', '.join(unknown)}; expected {', '.join(API_KEYS)}", field="api")
    spec: dict[str, Any] = {}
    for key in ("provider", "model"):
        value = api.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"api.{key} is required (a non-empty string)", field=f"api.{key}")
        spec[key] = value.strip()
    for key in ("snapshot", "base_url"):
        value = api.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise InvalidInput(f"api.{key} must be a string", field=f"api.{key}")
            spec[key] = value
    params = api.get("params") or {}
    if not isinstance(params, Mapping):
        raise InvalidInput("api.params must be a mapping such as {'temperature': 0}", field="api.params")
    secrets = sorted(str(k) for k in params if str(k).lower() in _SECRET_KEYS)
    if secrets:
        raise InvalidInput(
            f"api.params must not hold credentials ({', '.join(secrets)}): keep keys in the environment",
            field="api.params",
        )
    try:
        spec["params"] = json.loads(json.dumps(dict(params), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"api.params must be JSON values: {exc}", field="api.params") from None
    if api.get("system_prompt") is not None:
        spec["system_prompt"] = _system_prompt(ws, api["system_prompt"])
    return spec


def _system_prompt(ws: Workspace, value: Any) -> dict[str, Any]:
    """Pin a registered prompt to ``name/N`` + digest; anything else is kept as literal text."""
    from ondo.prompts import versions as prompt_versions

    if isinstance(value, prompt_versions.PromptVersion):
        return {"ref": value.ref, "digest": value.digest}
    if not isinstance(value, str):
        raise InvalidInput("api.system_prompt must be a prompt identifier or text", field="api.system_prompt")
    try:
        r = parse_ref(value)
    except InvalidInput:
        return {"text": value}
    if r.is_bare and not prompt_versions.names_include(ws, r.name):
        return {"text": value}
    p = prompt_versions.get(ws, r)  # a version, alias or digest that names nothing is an error
    return {"ref": p.ref, "digest": p.digest}


def _dataset_entry(ws: Workspace, d: Any) -> dict[str, Any]:
    """A dataset version as {'ref', 'digest'}: 'name/N' where it can be pinned (aliases are resolved)."""
    digest = None
    if isinstance(d, Mapping):
        ref_text, digest = d.get("ref"), d.get("digest")
    elif isinstance(d, str | Ref):
        ref_text = str(d)
    else:  # a dataset version object
        ref_text = getattr(d, "ref", None)
        if not isinstance(ref_text, str) and getattr(d, "name", None) and getattr(d, "version", None):
            ref_text = f"{d.name}/{d.version}"
        digest = getattr(d, "digest", None)
    if not isinstance(ref_text, str):
        raise InvalidInput(f"cannot read dataset reference {d!r}: give 'name/N', 'name@alias' or a version", field="datasets")
    r = parse_ref(ref_text)
    registered = _registered_dataset(ws, r)
    if registered is not None:
        pinned_ref, pinned_digest = registered
        if isinstance(digest, str) and digest and not pinned_digest.startswith(digest):
            raise InvalidInput(
                f"dataset {pinned_ref} has digest {pinned_digest}, not {digest}", field="datasets"
            )
        return {"ref": pinned_ref, "digest": pinned_digest}
    if r.alias is not None:
        pinned = aliases.current(ws, "dataset", r.name, r.alias)
        ref_text = f"{r.name}/{pinned}" if pinned is not None else str(r)
    elif r.digest is not None:
        digest = digest or r.digest
        ref_text = str(r)
    else:
        ref_text = str(r)
    return {"ref": ref_text, "digest": digest if isinstance(digest, str) else None}


def _registered_dataset(ws: Workspace, r: Ref) -> tuple[str, str] | None:
    """``(name/N, digest)`` of the dataset version ``r`` names in the dataset registry.

    None when no dataset has that name (a dataset kept elsewhere is recorded as given); a registered
    name whose version, alias or digest names nothing is a NotFound, so a typo is not recorded.
    """
    from ondo.datasets import versions as dataset_versions

    try:
        row = dataset_versions.resolve(ws, r)
    except NotFound as exc:
        if exc.kind == "dataset":
            return None
        raise
    return f"{row.name}/{row.version}", row.digest


def _run_id(ws: Workspace, run: Any) -> str | None:
    if run is None:
        try:
            from ondo.tracking import active_run
        except ImportError:
            return None
        run = active_run()
        if run is None:
            return None
    if not isinstance(run, str):
        if hasattr(run, "flush"):
            run.flush()
        run = getattr(run, "id", run)
    run_id = str(run)
    with ws.read() as conn:
        if conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first() is None:
            raise NotFound("run", run_id)
    return run_id


def register(
    ws: Workspace,
    name: str,
    source: str | Path | None = None,
    *,
    api: Mapping[str, Any] | None = None,
    run_id: Any = None,
    datasets: Sequence[Any] | None = None,
    base: Any = None,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> ModelVersion:
    """Register a new version of model ``name`` from local weights (``source``) or an API spec (``api``).

    Inside an active run (and without ``run_id``), that run is recorded as the source run.
    """
    check_name(name, "model name")
    tag_values = versioned.check_tags(tags)
    if isinstance(datasets, str | Ref | Mapping) or (datasets is not None and not isinstance(datasets, Iterable)):
        datasets = [datasets]  # one dataset version alone (a ref, or a version object)
    elif datasets is not None:
        datasets = list(datasets)  # a list, tuple, set or generator of them
    if (source is None) == (api is None):
        raise InvalidInput("give exactly one of source= (local weights) or api={...} (an API model)")
    if api is not None:
        if base is not None:
            raise InvalidInput("base= applies to adapters (local weights), not to API models", field="base")
        spec = _api_spec(ws, api)
        kind, digest, size = "api", _canonical_digest(spec), None
        src = f"api:{spec['provider']}/{spec['model']}" + (f"@{spec['snapshot']}" if spec.get("snapshot") else "")
    else:
        w = weights_mod.inspect(source)  # type: ignore[arg-type]
        kind, digest, size, src, spec = w.kind, w.digest, w.size, w.path, dict(w.spec)
        base_value = base if base is not None else spec.pop("base_from_config", None)
        if base_value is not None:
            spec["base"] = _base(ws, base_value)
        elif kind == "lora":
            raise InvalidInput(
                "a LoRA adapter needs its base model: pass base='name/N' (registered) or a model id",
                file=src, field="base",
            )
    dataset_rows = []
    seen: set[str] = set()
    for d in datasets or ():
        entry = _dataset_entry(ws, d)
        if entry["ref"] not in seen:
            seen.add(entry["ref"])
            dataset_rows.append(entry)
    rid = _run_id(ws, run_id)
    actor = current_actor()

    def tx(conn: sa.Connection) -> int:
        top = conn.execute(
            sa.select(sa.func.max(model_versions.c.version)).where(model_versions.c.name == name)
        ).scalar_one_or_none()
        version = (top or 0) + 1
        now = time.time()
        conn.execute(
            model_versions.insert().values(
                name=name, version=version, digest=digest, kind=kind, source=src, spec=spec, size=size,
                run_id=rid, description=description, created_at=now, created_by=actor,
            )
        )
        for entry in dataset_rows:
            conn.execute(model_version_datasets.insert().values(name=name, version=version, **entry))
        for k, v in tag_values.items():
            conn.execute(registry_tags.insert().values(kind=KIND, name=name, version=version, key=k, value=v))
        if rid is not None:
            conn.execute(
                run_inputs.insert().values(
                    run_id=rid, kind=KIND, ref=f"{name}/{version}", role="output", digest=digest, created_at=now
                )
            )
        return version

    for _ in range(20):
        try:
            version = ws.write(tx)
            break
        except IntegrityError:
            continue  # a concurrent register took this number; take the next
    else:
        raise OndoError(f"could not register model {name}: too much contention")
    return get_version(ws, name, version)


def _base(ws: Workspace, value: Any) -> dict[str, Any]:
    if isinstance(value, ModelVersion):
        return {"ref": value.ref, "digest": value.digest}
    text = str(value)
    try:
        r = parse_ref(text)
    except InvalidInput:
        return {"id": text}
    if names_include(ws, r.name):
        mv = get(ws, r)
        return {"ref": mv.ref, "digest": mv.digest}
    return {"id": text}


# ----------------------------------------------------------------------------- read


def names(ws: Workspace) -> builtins.list[str]:
    with ws.read() as conn:
        return [r[0] for r in conn.execute(sa.select(model_versions.c.name).distinct().order_by(model_versions.c.name))]


def names_include(ws: Workspace, name: str) -> bool:
    with ws.read() as conn:
        return conn.execute(sa.select(model_versions.c.version).where(model_versions.c.name == name).limit(1)).first() is not None


def _versions_of(conn: sa.Connection, name: str) -> builtins.list[int]:
    q = sa.select(model_versions.c.version).where(model_versions.c.name == name).order_by(model_versions.c.version)
    return [r[0] for r in conn.execute(q)]


def _from_row(conn: sa.Connection, row: Any) -> ModelVersion:
    ds = conn.execute(
        sa.select(model_version_datasets.c.ref, model_version_datasets.c.digest)
        .where(model_version_datasets.c.name == row.name, model_version_datasets.c.version == row.version)
        .order_by(model_version_datasets.c.ref)
    ).all()
    return ModelVersion(
        name=row.name, version=row.version, digest=row.digest, kind=row.kind, source=row.source,
        spec=dict(row.spec or {}), size=row.size, run_id=row.run_id,
        datasets=[{"ref": d.ref, "digest": d.digest} for d in ds], description=row.description,
        created_at=row.created_at, created_by=row.created_by,
        tags=versioned.read_tags(conn, KIND, row.name, row.version),
    )


def get_version(ws: Workspace, name: str, version: int) -> ModelVersion:
    with ws.read() as conn:
        row = conn.execute(
            sa.select(model_versions).where(model_versions.c.name == name, model_versions.c.version == version)
        ).first()
        if row is None:
            versions = _versions_of(conn, name)
            if not versions:
                raise NotFound("model", name, names(ws))
            raise NotFound("model version", f"{name}/{version}", [f"{name}/{v}" for v in versions])
        return _from_row(conn, row)


def resolve_version(ws: Workspace, ref: str | Ref) -> int:
    """The version number ``ref`` names now: ``name`` (latest), ``name/N``, ``name@alias``, ``name@sha256:..``."""
    r = parse_ref(ref)
    with ws.read() as conn:
        versions = _versions_of(conn, r.name)
        if not versions:
            raise NotFound("model", r.name, names(ws))
        if r.version is not None:
            if r.version not in versions:
                raise NotFound("model version", str(r), [f"{r.name}/{v}" for v in versions])
            return r.version
        if r.alias is not None:
            v = aliases.pointer(conn, KIND, r.name, r.alias)
            if v is None:
                raise NotFound("model alias", str(r), [f"{r.name}@{a}" for a in aliases.all_for(ws, KIND, r.name)])
            return int(v)
        if r.digest is not None:
            found = conn.execute(
                sa.select(model_versions.c.version, model_versions.c.digest).where(
                    model_versions.c.name == r.name, model_versions.c.digest.startswith(r.digest, autoescape=True)
                ).order_by(model_versions.c.version)
            ).all()
            if not found:
                raise NotFound("model version", str(r))
            if len({f.digest for f in found}) > 1:
                raise InvalidInput(f"digest prefix in '{r}' matches several digests; give more digits")
            return int(found[-1].version)  # the same weights registered more than once: the newest
        return versions[-1]


def get(ws: Workspace, ref: str | Ref) -> ModelVersion:
    r = parse_ref(ref)
    return get_version(ws, r.name, resolve_version(ws, r))


@dataclass(frozen=True)
class ModelSummary:
    name: str
    latest: int
    versions: int
    aliases: dict[str, int]
    updated_at: float
    kind: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def list_models(ws: Workspace) -> builtins.list[ModelSummary]:
    with ws.read() as conn:
        agg = (
            sa.select(
                model_versions.c.name,
                sa.func.max(model_versions.c.version).label("latest"),
                sa.func.count().label("n"),
            ).group_by(model_versions.c.name).subquery()
        )
        rows = conn.execute(
            sa.select(agg.c.name, agg.c.latest, agg.c.n, model_versions.c.created_at, model_versions.c.kind,
                      model_versions.c.source)
            .join(model_versions, sa.and_(model_versions.c.name == agg.c.name, model_versions.c.version == agg.c.latest))
            .order_by(agg.c.name)
        ).all()
        by_name = aliases.pointers(conn, KIND)
    return [ModelSummary(r.name, r.latest, r.n, by_name.get(r.name, {}), r.created_at, r.kind, r.source) for r in rows]


def list_versions(ws: Workspace, name: str) -> builtins.list[ModelVersion]:
    with ws.read() as conn:
        rows = conn.execute(
            sa.select(model_versions).where(model_versions.c.name == name).order_by(model_versions.c.version)
        ).all()
        if not rows:
            raise NotFound("model", name, names(ws))
        return [_from_row(conn, r) for r in rows]


# ----------------------------------------------------------------------------- aliases


def split_name(name: str, version: int | None = None) -> tuple[str, int | None]:
    """Accept ``("summarizer/3", None)`` as well as ``("summarizer", 3)``."""
    return versioned.split_name(str(name), version, KIND)


def name_and_alias(name: str, alias: str | None) -> tuple[str, str]:
    """Accept ``("summarizer", "production")`` as well as ``("summarizer@production", None)``."""
    r = parse_ref(str(name))
    if r.version is not None or r.digest is not None:
        raise InvalidInput(f"expected a model name (or name@alias), got '{name}'")
    if alias is not None and r.alias is not None and alias != r.alias:
        raise InvalidInput(f"'{name}' names alias {r.alias} but alias={alias} was given")
    chosen = alias or r.alias
    if chosen is None:
        raise InvalidInput(f"which alias of {r.name}? pass alias=...", field="alias")
    return r.name, check_alias(chosen)


def set_alias(
    ws: Workspace, name: str, alias: str, version: int | None = None, *, reason: str | None = None
) -> AliasEvent:
    name, version = split_name(name, version)
    check_alias(alias)
    if version is None:
        raise InvalidInput(f"which version should {name}@{alias} point at? pass version=N", field="version")
    get_version(ws, name, int(version))
    return aliases.move(ws, KIND, name, alias, int(version), reason=reason)


def remove_alias(ws: Workspace, name: str, alias: str | None = None, *, reason: str | None = None) -> AliasEvent:
    name, alias = name_and_alias(name, alias)
    return aliases.remove(ws, KIND, name, alias, reason=reason)


def rollback(ws: Workspace, name: str, alias: str | None = None, *, reason: str | None = None) -> AliasEvent:
    name, alias = name_and_alias(name, alias)
    if not names_include(ws, name):
        raise NotFound("model", name, names(ws))
    return aliases.rollback(ws, KIND, name, alias, reason=reason)


def history(ws: Workspace, name: str, alias: str | None = None) -> builtins.list[AliasEvent]:
    r = parse_ref(str(name))
    if r.version is not None or r.digest is not None:
        raise InvalidInput(f"expected a model name (or name@alias), got '{name}'")
    if not names_include(ws, r.name):
        raise NotFound("model", r.name, names(ws))
    return aliases.history(ws, KIND, r.name, alias or r.alias)


def set_tag(ws: Workspace, ref: str, key: str, value: str) -> None:
    versioned.check_tag_key(key)
    mv = get(ws, ref)
    ws.write(lambda conn: versioned.upsert_tag(conn, KIND, mv.name, mv.version, key, str(value)))


def delete_tag(ws: Workspace, ref: str, key: str) -> None:
    mv = get(ws, ref)
    ws.write(lambda conn: versioned.delete_tag(conn, KIND, mv.name, mv.version, key))
