"""What a request's ``model`` means, decided on every request.

``assistant@production`` is looked up in the alias table each time (one primary-key read;
on SQLite a raw autocommit read of a few microseconds), so an alias move or rollback made by
any process is seen by the next request. ``assistant/3`` and digests name immutable versions
and are cached for good. Anything with a scheme (``local:smollm2``, ``openai:gpt-4o-mini``,
``http://host/v1#model``) is a raw provider model handed to ``ondo.llm.load_model``.

Provider instances are cached by what they are (registry digest and source, or the raw
spec), so two aliases on one version share one loaded model, and a move to another version
loads that version once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import inspect
import json
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ondo.errors import InvalidInput, NotFound
from ondo.gateway import passthrough, upstream
from ondo.gateway.config import GatewayConfig, Route
from ondo.ids import Ref, parse_ref
from ondo.store.tables.aliases import aliases
from ondo.traces.redaction import register_secret
from ondo.workspace import Workspace


@dataclass(frozen=True, slots=True)
class Target:
    """One concrete model a request can be sent to."""

    requested: str  # the model string this target was resolved from
    model: str  # registry name, or the raw provider spec
    version: int | None
    alias: str | None
    cache_key: str  # identity of the provider instance
    source: Any  # what ``ondo.llm.load_model_from_source`` takes
    raw: bool
    defaults: dict[str, Any] | None = None  # the version's registered decoding params

    @property
    def served_as(self) -> str:
        """``assistant/2`` for a registry version, the spec for a raw model."""
        return self.model if self.version is None else f"{self.model}/{self.version}"


def is_raw_spec(model: str) -> bool:
    return "://" in model or (":" in model and "@sha256:" not in model)


class _AliasReader:
    """``SELECT version FROM aliases WHERE kind='model' AND name=? AND alias=?``, as cheap as the store allows."""

    _SQL = "SELECT version FROM aliases WHERE kind = ? AND name = ? AND alias = ?"

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.sqlite = ws.engine.dialect.name == "sqlite"
        self._local = threading.local()
        self._stmt = sa.select(aliases.c.version).where(
            aliases.c.kind == "model", aliases.c.name == sa.bindparam("n"), aliases.c.alias == sa.bindparam("a")
        )

    def __call__(self, name: str, alias: str) -> tuple[bool, int | None]:
        """(whether the alias exists, the version it points at)."""
        if self.sqlite:
            conn = getattr(self._local, "conn", None)
            if conn is None:
                # a pooled DBAPI connection in autocommit mode (the engine's connect hook sets it):
                # every SELECT reads the newest committed state
                conn = self.ws.engine.raw_connection()
                self._local.conn = conn
            try:
                cur = conn.cursor()
                row = cur.execute(self._SQL, ("model", name, alias)).fetchone()
                cur.close()
            except Exception:
                self._local.conn = None
                raise
        else:
            with self.ws.engine.connect() as c:
                row = c.execute(self._stmt, {"n": name, "a": alias}).first()
        if row is None:
            return False, None
        return True, row[0]


class Resolver:
    def __init__(self, ws: Workspace, config: GatewayConfig | None = None) -> None:
        self.ws = ws
        self.config = config or GatewayConfig()
        self._aliases = _AliasReader(ws)
        self._alias_cache: dict[tuple[str, str], tuple[float, int]] = {}
        self._versions: dict[tuple[str, int], tuple[str, Any]] = {}  # immutable: (cache key, source)
        self._digests: dict[tuple[str, str], int] = {}
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._loading: dict[str, asyncio.Future[Any]] = {}
        self._rng = random.Random()
        self._transport: Any = None
        self._fast: dict[str, Any] = {}

    # -- routing ------------------------------------------------------------------------------------
    def plan(self, model: str, user: str | None = None) -> tuple[list[str], bool]:
        """The model strings to try, in order: the canary's pick, then the fallbacks.

        Returns (candidates, whether the first came from a weighted split).
        """
        route: Route | None = self.config.routes.get(model)
        if route is None:
            return [model], False
        first = self._pick(route, user) if route.split else model
        rest = [m for m in route.fallbacks if m != first]
        return [first, *rest], bool(route.split)

    def _pick(self, route: Route, user: str | None) -> str:
        total = sum(t.weight for t in route.split)
        if user:
            h = int.from_bytes(hashlib.sha256(user.encode()).digest()[:8], "big")
            x = (h / 2**64) * total
        else:
            x = self._rng.random() * total
        for t in route.split:
            x -= t.weight
            if x < 0:
                return t.model
        return route.split[-1].model

    # -- resolution ---------------------------------------------------------------------------------
    def resolve(self, model: str) -> Target:
        if not isinstance(model, str) or not model.strip():
            raise InvalidInput("'model' is required: a registry model (name@alias, name/3) or a provider model "
                               "(local:smollm2, openai:gpt-4o-mini)", field="model")
        model = model.strip()
        if is_raw_spec(model):
            return Target(model, model, None, None, "spec:" + model, model, True)
        ref = parse_ref(model)
        version = self._version_of(ref)
        key, source = self._version_info(ref.name, version)
        return Target(model, ref.name, version, ref.alias, key, source, False, _defaults_of(source))

    def _version_of(self, ref: Ref) -> int:
        if ref.version is not None:
            return ref.version
        if ref.alias is not None:
            return self._alias(ref.name, ref.alias)
        if ref.digest is not None:
            hit = self._digests.get((ref.name, ref.digest))
            if hit is None:
                hit = int(_registry_get(self.ws, str(ref)).version)
                self._digests[(ref.name, ref.digest)] = hit
            return hit
        return int(_registry_get(self.ws, ref.name).version)  # bare name: the newest version, every time

    def _alias(self, name: str, alias: str) -> int:
        ttl = self.config.alias_ttl_s
        if ttl > 0:
            hit = self._alias_cache.get((name, alias))
            if hit is not None and time.monotonic() - hit[0] < ttl:
                return hit[1]
        exists, version = self._aliases(name, alias)
        if version is None:
            if exists:
                raise NotFound("model alias", f"{name}@{alias}")  # removed: points at nothing
            raise NotFound("model", f"{name}@{alias}", self._alias_candidates(name))
        if ttl > 0:
            self._alias_cache[(name, alias)] = (time.monotonic(), version)
        return version

    def invalidate(self, name: str | None = None) -> None:
        """Forget cached alias resolutions (for ``alias_ttl_s > 0``; moves in this process call it)."""
        if name is None:
            self._alias_cache.clear()
        else:
            for k in [k for k in self._alias_cache if k[0] == name]:
                self._alias_cache.pop(k, None)

    def _alias_candidates(self, name: str) -> list[str]:
        with self.ws.read() as conn:
            rows = conn.execute(
                sa.select(aliases.c.name, aliases.c.alias).where(
                    aliases.c.kind == "model", aliases.c.version.is_not(None)
                ).limit(500)
            ).all()
        return [f"{r.name}@{r.alias}" for r in rows]

    def _version_info(self, name: str, version: int) -> tuple[str, Any]:
        """(provider cache key, source) of an immutable version, read from the registry once."""
        hit = self._versions.get((name, version))
        if hit is None:
            v = _registry_get(self.ws, f"{name}/{version}")
            source = source_of(v, self.ws)
            key = f"{name}/{version}:{getattr(v, 'digest', '') or ''}:{_source_key(source)}"
            hit = (key, source)
            self._versions[(name, version)] = hit
        return hit

    # -- provider instances ------------------------------------------------------------------------
    async def provider(self, target: Target) -> Any:
        model = self._models.get(target.cache_key)
        if model is not None:
            self._models.move_to_end(target.cache_key)
            return model
        pending = self._loading.get(target.cache_key)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._loading[target.cache_key] = fut
        try:
            model = await asyncio.to_thread(self._load, target)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            self._loading.pop(target.cache_key, None)
        fut.set_result(model)
        self._models[target.cache_key] = model
        while len(self._models) > self.config.max_loaded_models:
            old_key, old = self._models.popitem(last=False)
            route = self._fast.pop(old_key, None)
            if route is not None:
                route.pool.close()
            asyncio.get_running_loop().create_task(_close(old))
        return model

    def _load(self, target: Target) -> Any:
        from ondo.llm import load_model, load_model_from_source

        opts = self._http_opts(target)
        model = load_model(target.source, **opts) if target.raw else load_model_from_source(target.source, **opts)
        _register_secrets(model)
        if self.config.cache:
            from ondo.llm.cache import CachedModel

            model = CachedModel(model, self.ws, flush_every=1)
        return model

    def _http_opts(self, target: Target) -> dict[str, Any]:
        """Constructor options for HTTP providers: many requests in flight, and the aiohttp wire."""
        src = target.source
        if target.raw:
            is_http = isinstance(src, str) and (src.startswith(("http://", "https://", "openai:", "ollama:")))
        else:
            is_http = isinstance(src, dict) and bool(src.get("provider")) and not src.get("spec") and \
                str(src["provider"]).lower() not in _LOCAL_PROVIDERS
        if not is_http:
            return {}
        opts: dict[str, Any] = {"max_concurrency": self.config.upstream_concurrency}
        if self._transport is None and upstream.available():
            self._transport = upstream.AiohttpTransport(limit=max(64, self.config.upstream_concurrency * 2))
        if self._transport is not None:
            opts["transport"] = self._transport
        return opts

    def fast_route(self, target: Target, model: Any) -> Any:
        """The passthrough route for ``model`` (None when it is not an OpenAI-compatible provider)."""
        key = target.cache_key
        if key in self._fast:
            return self._fast[key]
        route = passthrough.route_for(model, self.config.upstream_concurrency) if self.config.passthrough else None
        self._fast[key] = route
        return route

    async def release_connections(self) -> None:
        """Close the pooled upstream connections of the running event loop (models stay loaded)."""
        for route in self._fast.values():
            if route is not None:
                route.pool.close()
        if self._transport is not None:
            await self._transport.aclose()

    def loaded(self) -> list[str]:
        return list(self._models)

    async def aclose(self) -> None:
        for route in self._fast.values():
            if route is not None:
                route.pool.close()
        self._fast.clear()
        models, self._models = list(self._models.values()), OrderedDict()
        for m in models:
            await _close(m)
        if self._transport is not None:
            await self._transport.aclose()


async def _close(model: Any) -> None:
    close = getattr(model, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


def _register_secrets(model: Any) -> None:
    """Register the provider's credentials (``Model.credentials()``) as secrets: scrubbed from every
    trace and error message."""
    credentials = getattr(model, "credentials", None)
    if callable(credentials):
        for value in credentials():
            register_secret(value)


_LOCAL_PROVIDERS = frozenset({"hf", "transformers", "llamacpp", "local"})


# request fields a registered version's params may default (OpenAI names)
_DEFAULTABLE = ("temperature", "max_tokens", "top_p", "stop", "seed", "response_format")


def _defaults_of(source: Any) -> dict[str, Any] | None:
    if not isinstance(source, dict):
        return None
    params = source.get("params")
    if not isinstance(params, dict):
        return None
    return {k: params[k] for k in _DEFAULTABLE if params.get(k) is not None} or None


def _source_key(source: Any) -> str:
    if isinstance(source, dict):
        return hashlib.sha256(json.dumps(source, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return str(source)


def source_of(version: Any, ws: Workspace | None = None) -> Any:
    """What ``ondo.llm.load_model_from_source`` needs for a registry model version.

    API versions carry their spec (provider, model, snapshot, params, base_url, system prompt
    pinned as ``{"ref", "digest"}`` or ``{"text"}``); weights are a path.
    """
    source = getattr(version, "source", None)
    if isinstance(source, dict):
        return source
    spec = getattr(version, "spec", None)
    kind = getattr(version, "kind", None)
    if isinstance(spec, dict) and (kind == "api" or (isinstance(source, str) and source.startswith("api:"))):
        out = {k: v for k, v in spec.items() if k != "system_prompt"}
        system = _system_text(spec.get("system_prompt"), ws)
        if system:
            out["system_prompt"] = system
        return out
    if isinstance(source, str) and source.startswith("api:") and "/" in source:
        provider, _, model = source[4:].partition("/")
        return {"provider": provider, "model": model}
    return source


def _system_text(value: Any, ws: Workspace | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            return str(value["text"])
        if value.get("ref") and ws is not None:
            try:
                from ondo.prompts import versions as prompt_versions

                prompt = prompt_versions.get(ws, parse_ref(str(value["ref"])))
                return str(prompt.render()) if hasattr(prompt, "render") else str(getattr(prompt, "template", ""))
            except Exception as exc:
                raise InvalidInput(f"cannot render system prompt {value['ref']}: {exc}") from exc
    return None


def _registry_get(ws: Workspace, ident: str) -> Any:
    """The registry's model version for ``ident``, read from ``ws``."""
    try:
        from ondo.registry import models as registry
    except ImportError:  # pragma: no cover - the registry ships with ondo
        facade = importlib.import_module("ondo.models")
        get = facade.get
        params = _params(get)
        if "ws" in params:
            return get(ident, ws=ws)
        if "workspace" in params:
            return get(ident, workspace=ws)
        return get(ident)
    return registry.get(ws, ident)


_sig_cache: dict[Any, set[str]] = {}


def _params(fn: Any) -> set[str]:
    hit = _sig_cache.get(fn)
    if hit is None:
        try:
            hit = set(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            hit = set()
        _sig_cache[fn] = hit
    return hit
