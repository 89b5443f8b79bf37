"""The OpenAI-compatible gateway: live alias resolution, fallbacks, canaries, keys, metrics, traces.

``ondo serve`` runs it (see ``ondo.server.app.create_app``); the pieces here do not depend
on the web framework.
"""

from ondo.gateway.config import GatewayConfig, Route, SplitTarget
from ondo.gateway.errors import GatewayError
from ondo.gateway.keys import (
    ApiKey,
    CreatedKey,
    KeyGuard,
    create_key,
    get_key,
    list_keys,
    revoke_key,
    verify_key,
)
from ondo.gateway.metrics import GatewayMetrics
from ondo.gateway.resolve import Resolver, Target
from ondo.gateway.service import Answer, Caller, Gateway, StreamAnswer

__all__ = [
    "Answer",
    "ApiKey",
    "Caller",
    "CreatedKey",
    "Gateway",
    "GatewayConfig",
    "GatewayError",
    "GatewayMetrics",
    "KeyGuard",
    "Resolver",
    "Route",
    "SplitTarget",
    "StreamAnswer",
    "Target",
    "create_key",
    "get_key",
    "list_keys",
    "revoke_key",
    "verify_key",
]
