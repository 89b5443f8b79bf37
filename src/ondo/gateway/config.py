"""Gateway configuration: routes (canary splits, fallbacks), tracing and key settings.

A TOML or JSON file (``ondo serve --config gateway.toml``)::

    alias_ttl_s = 0          # 0: resolve aliases on every request (a move is seen at once)
    trace_bodies = true
    redact = ["email", "phone"]
    redact_regex = ["ACME-\\\\d{6}"]

    [routes."assistant@production"]
    fallbacks = ["assistant/1", "openai:gpt-4o-mini"]     # tried in order when the first choice fails
    split = [                                               # canary: weights are relative
      { model = "assistant@production", weight = 90 },
      { model = "assistant@canary",     weight = 10 },
    ]

Keys of ``routes`` are what clients send as ``model``. A request whose body has ``user`` is
routed by a hash of it, so one user stays on one side of a canary.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ondo.errors import InvalidInput


class SplitTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    weight: float = Field(gt=0)


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid")

    split: list[SplitTarget] = Field(default_factory=list)
    fallbacks: list[str] = Field(default_factory=list)


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routes: dict[str, Route] = Field(default_factory=dict)
    #: seconds an alias resolution may be reused (0 = look it up on every request)
    alias_ttl_s: float = Field(default=0.0, ge=0)
    #: store request and response bodies on spans (redacted by the patterns below)
    trace_bodies: bool = True
    #: record a span per request at all
    tracing: bool = True
    redact: list[str] = Field(default_factory=list)
    redact_regex: list[str] = Field(default_factory=list)
    #: require an API key on every request (forced on when binding a non-loopback address)
    require_keys: bool = False
    #: requests in flight per upstream HTTP provider
    upstream_concurrency: int = Field(default=256, ge=1)
    #: provider instances kept loaded (least recently used ones are closed)
    max_loaded_models: int = Field(default=8, ge=1)
    #: forward OpenAI-compatible requests as they are over pooled connections (off: always translate
    #: through ondo.llm's typed requests)
    passthrough: bool = True
    #: fall back to the next choice also on upstream 4xx answers (off: a bad request fails at once)
    fallback_on_client_errors: bool = False
    #: answer identical reproducible requests (temperature 0, or a seed) from ondo.llm's request cache
    #: in the store; a hit costs nothing and its span says ``ondo.cache_hit``
    cache: bool = False

    @field_validator("routes")
    @classmethod
    def _routes(cls, routes: dict[str, Route]) -> dict[str, Route]:
        for name, route in routes.items():
            if not name.strip():
                raise ValueError("a route needs a model name")
            if not route.split and not route.fallbacks:
                raise ValueError(f"route '{name}' sets neither split nor fallbacks")
        return routes

    @classmethod
    def load(cls, path: str | Path) -> GatewayConfig:
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as exc:
            raise InvalidInput(f"cannot read gateway config: {exc.strerror}", file=str(p)) from exc
        try:
            data: dict[str, Any] = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise InvalidInput(f"not valid {'JSON' if p.suffix == '.json' else 'TOML'}: {exc}", file=str(p)) from exc
        return cls.parse(data, source=str(p))

    @classmethod
    def parse(cls, data: dict[str, Any], source: str | None = None) -> GatewayConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(x) for x in first["loc"])
            raise InvalidInput(first["msg"], file=source, field=field or None) from None
