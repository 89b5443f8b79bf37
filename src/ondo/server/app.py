"""The ondo server: the OpenAI-compatible gateway routes, ``/metrics``, ``/healthz``, and the
routers other parts of ondo contribute (listed in ``ROUTERS``, skipped when not installed).

The gateway routes are plain Starlette endpoints (no FastAPI dependency injection or body
models on the hot path): the body is parsed once with orjson and handed to
``ondo.gateway.Gateway``, which does the work.
"""

from __future__ import annotations

import importlib
import ipaddress
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ondo.gateway.config import GatewayConfig
from ondo.gateway.errors import GatewayError, bad_request, from_exception
from ondo.gateway.service import Answer, Caller, Gateway
from ondo.llm.provider import aclose_stream
from ondo.workspace import Workspace

log = logging.getLogger("ondo.server")

#: optional routers as "module:attribute"; a module that is not installed is skipped
ROUTERS: list[str] = [
    "ondo.server.human:router",
]

try:
    import orjson

    def _loads(data: bytes) -> Any:
        return orjson.loads(data)

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover
    import json

    def _loads(data: bytes) -> Any:
        return json.loads(data)

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()


def create_app(
    workspace: Workspace | None = None,
    *,
    config: GatewayConfig | None = None,
    require_keys: bool | None = None,
    routers: list[str] | None = None,
) -> FastAPI:
    """Build the server for ``workspace`` (default: ``Workspace.default()``).

    ``require_keys`` forces API keys on every gateway request (``ondo serve`` turns it on for
    non-loopback addresses); ``config`` sets routes, tracing and redaction (default: from
    ``$ONDO_GATEWAY_CONFIG`` when set).
    """
    ws = workspace or Workspace.default()
    if config is None:
        path = os.environ.get("ONDO_GATEWAY_CONFIG")
        config = GatewayConfig.load(path) if path else GatewayConfig()
    if require_keys is None:
        require_keys = config.require_keys or os.environ.get("ONDO_GATEWAY_REQUIRE_KEYS", "") in ("1", "true")
    gateway = Gateway(ws, config)
    gateway.require_keys = bool(require_keys)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await gateway.aclose()

    app = FastAPI(title="ondo", version=_version(), lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.gateway = gateway
    app.state.workspace = ws

    async def chat_completions(request: Request) -> Response:
        return await _serve(gateway, request, gateway.chat)

    async def completions(request: Request) -> Response:
        return await _serve(gateway, request, gateway.completion)

    async def embeddings(request: Request) -> Response:
        return await _serve(gateway, request, gateway.embeddings)

    async def models(request: Request) -> Response:
        try:
            key = _authenticate(gateway, request)
            data = gateway.models()
        except Exception as exc:
            return _error(from_exception(exc))
        if key is not None:
            data = [m for m in data if key.allows(m["id"])]
        return Response(_dumps({"object": "list", "data": data}), media_type="application/json")

    async def metrics(request: Request) -> Response:
        body, content_type = gateway.metrics.render()
        return Response(body, media_type=content_type)

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    for path, endpoint in (("/v1/chat/completions", chat_completions), ("/v1/completions", completions),
                           ("/v1/embeddings", embeddings), ("/chat/completions", chat_completions),
                           ("/completions", completions), ("/embeddings", embeddings)):
        app.router.add_route(path, endpoint, methods=["POST"], include_in_schema=path.startswith("/v1"))
    app.router.add_route("/v1/models", models, methods=["GET"])
    app.router.add_route("/models", models, methods=["GET"], include_in_schema=False)
    app.router.add_route("/metrics", metrics, methods=["GET"])
    app.router.add_route("/healthz", healthz, methods=["GET"])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(("/v1/", "/chat/", "/completions", "/embeddings", "/models")):
            kind = "invalid_request_error" if exc.status_code < 500 else "api_error"
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
            message = f"{request.method} {request.url.path}: {exc.detail}"
            return _error(GatewayError(exc.status_code, message, type=kind, code=code))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    for spec in routers if routers is not None else ROUTERS:
        router = _optional(spec)
        if router is not None:
            app.include_router(router)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` and ``ondo serve --workers N`` (settings come from the environment)."""
    return create_app()


def _optional(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None  # that part of ondo is not there yet
        raise
    return getattr(mod, attr or "router", None)


def _version() -> str:
    try:
        from ondo import __version__

        return __version__
    except ImportError:  # pragma: no cover
        return "0"


_LOOPBACK_CACHE: dict[str, bool] = {}


def _non_loopback(request: Request) -> bool:
    """Whether the request reached a non-loopback address of this server (then keys are mandatory)."""
    server = request.scope.get("server")
    if not server:
        return False
    host = str(server[0])
    hit = _LOOPBACK_CACHE.get(host)
    if hit is None:
        try:
            hit = not ipaddress.ip_address(host.strip("[]")).is_loopback
        except ValueError:
            hit = False  # a test transport's made-up host name; real servers report addresses
        _LOOPBACK_CACHE[host] = hit
    return hit


def _authenticate(gateway: Gateway, request: Request) -> Any:
    headers = request.headers
    return gateway.authenticate(
        headers.get("authorization"), headers.get("x-api-key"), required=_non_loopback(request)
    )


MAX_BODY_BYTES = 32 * 1024 * 1024


async def _serve(gateway: Gateway, request: Request, handler: Any) -> Response:
    try:
        key = _authenticate(gateway, request)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise GatewayError(413, f"request body over {MAX_BODY_BYTES // (1024 * 1024)} MiB",
                               type="invalid_request_error", code="request_too_large")
        raw = await request.body()
        try:
            body = _loads(raw)
        except ValueError:
            raise bad_request("the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        result = await handler(body, Caller(key=key, traceparent=request.headers.get("traceparent"),
                                            prompt_version=request.headers.get("x-ondo-prompt-version")))
    except GatewayError as exc:
        return _error(exc)
    except Exception as exc:
        err = from_exception(exc)
        if err.status >= 500:
            log.exception("gateway request failed")
        return _error(err)
    if isinstance(result, Answer):
        return Response(_dumps(result.body), media_type="application/json", headers=result.headers)
    headers = {**result.headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return _ClosingStream(result.chunks, media_type="text/event-stream", headers=headers)


class _ClosingStream(StreamingResponse):
    """A streaming response that closes its body when it ends, however it ends: Starlette leaves an
    abandoned body (client gone) to the garbage collector, and until then the upstream stream keeps
    its connection and its place under the provider's ``max_concurrency``."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await aclose_stream(self.body_iterator)


def _error(err: GatewayError) -> Response:
    return Response(_dumps(err.to_dict()), status_code=err.status, media_type="application/json",
                    headers=err.headers or None)
