"""The gateway's work for one request, independent of the web framework.

resolve ``model`` (canary split, then fallbacks) -> check the key's scope/budget/rate ->
call the provider through ``ondo.llm`` -> price the usage -> answer in OpenAI's shape,
naming the version that answered -> record one span and the Prometheus metrics.

The gateway holds no state of its own beyond caches: aliases are read from the store on
every request, so any process can move them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ondo.gateway import passthrough
from ondo.gateway.config import GatewayConfig
from ondo.gateway.errors import GatewayError, bad_request, from_exception
from ondo.gateway.keys import KEY_PREFIX, ApiKey, KeyGuard
from ondo.gateway.metrics import GatewayMetrics
from ondo.gateway.pricing import has_price, price
from ondo.gateway.resolve import Resolver, Target, is_raw_spec
from ondo.llm.provider import aclose_stream
from ondo.llm.types import Usage
from ondo.traces.records import SpanRecord, new_span_id, new_trace_id
from ondo.traces.redaction import Redactor, scrub
from ondo.traces.tracer import Tracer
from ondo.workspace import Workspace

log = logging.getLogger("ondo.gateway")

try:
    import orjson

    def _json(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover
    import json

    def _json(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()


@dataclass
class Caller:
    """Who is calling: the API key (when one was given), a W3C traceparent to join, and the
    registered prompt version the messages were rendered from (``x-ondo-prompt-version``), which
    the span records so a trace links to the prompt version as well as the model version."""

    key: ApiKey | None = None
    traceparent: str | None = None
    prompt_version: str | None = None


@dataclass
class Answer:
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class StreamAnswer:
    headers: dict[str, str]
    chunks: AsyncIterator[bytes]


@dataclass
class _Call:
    """Book-keeping of one request: what the span and the metrics will say."""

    operation: str
    endpoint: str
    requested: str
    body: dict[str, Any]
    caller: Caller
    start: float = field(default_factory=time.time)
    perf0: float = field(default_factory=time.perf_counter)
    target: Target | None = None
    provider: str | None = None
    fallback_from: list[str] = field(default_factory=list)
    canary: bool = False
    ttft_s: float | None = None
    trace_id: str = ""
    parent_id: str | None = None
    upstream_model: str | None = None  # the provider's own model id (what the price table knows)
    cached: bool = False  # answered from the request cache (no provider call: costs nothing)


_FALLBACK_STATUSES = frozenset({408, 409, 425, 429})


class Gateway:
    def __init__(
        self,
        workspace: Workspace | None = None,
        config: GatewayConfig | None = None,
        *,
        tracer: Tracer | None = None,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.ws = workspace or Workspace.default()
        self.config = config or GatewayConfig()
        self.resolver = Resolver(self.ws, self.config)
        self.metrics = metrics or GatewayMetrics()
        self.tracer = tracer or Tracer(
            self.ws,
            redactor=Redactor(self.config.redact, self.config.redact_regex),
            capture_bodies=self.config.trace_bodies,
            enabled=self.config.tracing,
            batch_size=2000,
            interval_s=0.1,
        )
        self.keys = KeyGuard(self.ws)
        self.require_keys = self.config.require_keys

    # -- auth -----------------------------------------------------------------------------------------
    def authenticate(self, authorization: str | None, api_key: str | None, *, required: bool) -> ApiKey | None:
        """The caller's key. When keys are optional, only ``ondo-sk-`` keys are checked (clients
        send some key anyway); a wrong ondo key is still refused."""
        if required or self.require_keys:
            return self.keys.authenticate(authorization, api_key)
        token = (authorization or "").partition(" ")[2].strip() or (api_key or "").strip()
        if token.startswith(KEY_PREFIX):
            return self.keys.authenticate(authorization, api_key)
        return None

    # -- operations -----------------------------------------------------------------------------------
    async def chat(self, body: dict[str, Any], caller: Caller) -> Answer | StreamAnswer:
        from ondo.llm.types import ChatRequest

        call = self._begin("chat", "/v1/chat/completions", body, caller)
        try:
            _check_messages(body)
            _check_sampling(body)
        except GatewayError as exc:
            raise self._fail(call, exc) from None
        def request(payload: dict[str, Any]) -> Any:  # the typed request, only when the provider path needs it
            try:
                return ChatRequest.from_openai(payload)
            except ValidationError as exc:
                raise _validation_error(exc) from None
            except (ValueError, TypeError) as exc:
                raise bad_request(f"invalid request: {exc}") from None

        if body.get("stream"):
            return await self._chat_stream(call, body, request)

        async def answer(model: Any) -> Any:
            payload = _with_defaults(body, call.target)
            fast = await self._fast(call, model, "/chat/completions", payload, chat=True)
            if fast is not None:
                return fast
            return await model.chat(request(payload))

        resp = await self._with_fallbacks(call, answer)
        served = call.target.served_as if call.target else call.requested
        if isinstance(resp, dict):  # the upstream's own answer (fast path)
            out = resp
            usage = Usage.from_openai(out.get("usage"))
            text = _message_text(out)
            call.upstream_model = _str(out.get("model")) or call.upstream_model
        else:
            call.upstream_model = _str(resp.model) or call.upstream_model
            call.cached = bool(getattr(resp, "cached", False))
            raw = resp.raw
            if isinstance(raw, dict) and raw.get("object") == "chat.completion" and raw.get("choices"):
                out = dict(raw)
            else:
                out = resp.to_openai_chat(model=served)
            usage, text = resp.usage, resp.text
        out["model"] = served
        return self._finish(call, out, usage, output=text)

    async def completion(self, body: dict[str, Any], caller: Caller) -> Answer | StreamAnswer:
        from ondo.llm.types import GenerateRequest

        call = self._begin("text_completion", "/v1/completions", body, caller)
        try:
            if "prompt" not in body:
                raise bad_request("'prompt' is required", param="prompt")
            prompt = body["prompt"]
            if not isinstance(prompt, str) and not (isinstance(prompt, list) and len(prompt) == 1
                                                    and isinstance(prompt[0], str)):
                raise bad_request("'prompt' must be a string (token arrays and batches are not supported)",
                                  param="prompt")
            _check_sampling(body)
            flat = {**body, "prompt": prompt if isinstance(prompt, str) else prompt[0], "stream": False}
        except GatewayError as exc:
            raise self._fail(call, exc) from None

        async def answer(model: Any) -> Any:
            payload = _with_defaults(flat, call.target)
            fast = await self._fast(call, model, "/completions", payload, chat=False)
            if fast is not None:
                return fast
            try:
                request = GenerateRequest.from_openai(payload)
            except ValidationError as exc:
                raise _validation_error(exc) from None
            except (ValueError, TypeError) as exc:
                raise bad_request(f"invalid request: {exc}") from None
            return await model.generate(request)

        resp = await self._with_fallbacks(call, answer)
        served = call.target.served_as if call.target else call.requested
        if isinstance(resp, dict):
            out = resp
            usage = Usage.from_openai(out.get("usage"))
            choices = out.get("choices") or [{}]
            text = choices[0].get("text") if isinstance(choices[0], dict) else None
            call.upstream_model = _str(out.get("model")) or call.upstream_model
        else:
            call.upstream_model = _str(resp.model) or call.upstream_model
            call.cached = bool(getattr(resp, "cached", False))
            out = resp.to_openai_completion(model=served)
            usage, text = resp.usage, resp.text
        out["model"] = served
        answer_ = self._finish(call, out, usage, output=text)
        if body.get("stream"):
            return StreamAnswer(answer_.headers, _completion_as_stream(out))
        return answer_

    async def embeddings(self, body: dict[str, Any], caller: Caller) -> Answer:
        call = self._begin("embeddings", "/v1/embeddings", body, caller)
        inp = body.get("input")
        texts = [inp] if isinstance(inp, str) else inp
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise self._fail(call, bad_request("'input' must be a string or a non-empty list of strings",
                                               param="input"))
        fmt = body.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            raise self._fail(call, bad_request("'encoding_format' must be 'float' or 'base64'",
                                               param="encoding_format"))

        async def answer(model: Any) -> Any:
            fast = await self._fast(call, model, "/embeddings", body, chat=False)
            if fast is not None:
                return fast
            return await model.embed(texts)

        resp = await self._with_fallbacks(call, answer)
        served = call.target.served_as if call.target else call.requested
        if isinstance(resp, dict):
            call.upstream_model = _str(resp.get("model")) or call.upstream_model
            resp["model"] = served
            usage = Usage.from_openai(resp.get("usage"))
            return self._finish(call, resp, usage, output={"vectors": len(resp.get("data") or [])})
        call.cached = bool(getattr(resp, "cached", False))
        data = []
        for i, vec in enumerate(resp.vectors):
            emb: Any = vec
            if fmt == "base64":
                import numpy as np

                emb = base64.b64encode(np.asarray(vec, dtype="<f4").tobytes()).decode()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        usage = resp.usage
        out = {"object": "list", "data": data, "model": served,
               "usage": {"prompt_tokens": usage.input_tokens, "total_tokens": usage.input_tokens}}
        return self._finish(call, out, usage, output={"vectors": len(data)})

    async def _fast(self, call: _Call, model: Any, path: str, body: dict[str, Any], *, chat: bool
                    ) -> dict[str, Any] | None:
        """One forward over the pooled connection; None hands over to the provider (and its retries)."""
        assert call.target is not None
        route = self.resolver.fast_route(call.target, model)
        if route is None:
            return None
        try:
            status, raw = await route.post(path, route.body(body, chat=chat))
        except passthrough.UpstreamUnavailable:
            return None
        if status == 200:
            try:
                data = passthrough.parse(raw)
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
        if status in passthrough.RETRY_STATUSES:
            return None  # the provider retries with backoff (Retry-After honoured)
        from ondo.llm.provider import ProviderError

        raise ProviderError(
            f"{call.provider or 'upstream'} {path} returned HTTP {status}: {_upstream_message(raw)}",
            status_code=status, provider=call.provider or "",
        )

    def models(self) -> list[dict[str, Any]]:
        """``/v1/models``: every alias and version in the registry, plus configured routes."""
        import sqlalchemy as sa

        from ondo.store.tables import metadata
        from ondo.store.tables.aliases import aliases

        created = int(time.time())
        out: list[dict[str, Any]] = []
        seen: set[str] = set()

        def add(model_id: str, **extra: Any) -> None:
            if model_id not in seen:
                seen.add(model_id)
                out.append({"id": model_id, "object": "model", "created": created, "owned_by": "ondo", **extra})

        with self.ws.read() as conn:
            for a in conn.execute(
                sa.select(aliases.c.name, aliases.c.alias, aliases.c.version)
                .where(aliases.c.kind == "model", aliases.c.version.is_not(None))
                .order_by(aliases.c.name, aliases.c.alias)
            ):
                add(f"{a.name}@{a.alias}", ondo={"version": f"{a.name}/{a.version}"})
            versions = metadata.tables.get("model_versions")
            if versions is not None:
                for r in conn.execute(
                    sa.select(versions.c.name, versions.c.version).order_by(versions.c.name, versions.c.version)
                ):
                    add(f"{r.name}/{r.version}")
        for name in self.config.routes:
            add(name)
        return out

    # -- the request lifecycle ------------------------------------------------------------------------
    def _begin(self, operation: str, endpoint: str, body: dict[str, Any], caller: Caller) -> _Call:
        model = body.get("model")
        call = _Call(operation, endpoint, model if isinstance(model, str) else "", body, caller)
        trace_id, call.parent_id = _parse_traceparent(caller.traceparent)
        call.trace_id = trace_id or new_trace_id()
        if caller.prompt_version is not None:
            try:
                _check_prompt_version(caller.prompt_version)
            except GatewayError as exc:
                caller.prompt_version = None
                raise self._fail(call, exc) from None
        if not isinstance(model, str) or not model.strip():
            raise self._fail(call, bad_request(
                "'model' is required: a registry model (name@alias, name/3) or a provider model "
                "(local:smollm2, openai:gpt-4o-mini)", param="model"))
        if caller.key is not None:
            try:
                self.keys.check(caller.key, model)
            except GatewayError as exc:
                raise self._fail(call, exc) from None
        return call

    async def _with_fallbacks(self, call: _Call, fn: Callable[[Any], Any]) -> Any:
        candidates, call.canary = self.resolver.plan(call.requested, _user(call.body))
        first_error: BaseException | None = None
        for i, candidate in enumerate(candidates):
            try:
                target = self.resolver.resolve(candidate)
                call.target = target
                model = await self.resolver.provider(target)
                call.provider = _provider_of(model, target)
                call.upstream_model = _model_id(model)
                return await fn(model)
            except asyncio.CancelledError:
                self._record(call, 499, error="client disconnected", error_type="cancelled")
                raise
            except Exception as exc:
                if first_error is None:
                    first_error = exc
                if i + 1 < len(candidates) and self._can_fall_back(exc):
                    call.fallback_from.append(candidate)
                    log.warning("model %s failed (%s); falling back to %s", candidate,
                                scrub(str(exc))[:200], candidates[i + 1])
                    continue
                err = from_exception(exc if call.fallback_from else first_error)
                raise self._fail(call, err, exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _can_fall_back(self, exc: BaseException) -> bool:
        from ondo.errors import InvalidInput, NotFound, UnsupportedOperation
        from ondo.llm.provider import ProviderError

        if isinstance(exc, ProviderError):
            status = exc.status_code
            if status is not None and 400 <= status < 500 and status not in _FALLBACK_STATUSES:
                return self.config.fallback_on_client_errors
            return True
        if isinstance(exc, NotFound):
            return True  # e.g. a canary alias that was removed
        return not isinstance(exc, InvalidInput | UnsupportedOperation | GatewayError)

    def _headers(self, call: _Call, trace_id: str) -> dict[str, str]:
        served = call.target.served_as if call.target else call.requested
        headers = {"x-ondo-model-version": served, "x-ondo-trace-id": trace_id}
        if call.cached:
            headers["x-ondo-cache"] = "hit"
        return headers

    def _finish(self, call: _Call, out: dict[str, Any], usage: Any, output: Any) -> Answer:
        cost = self._cost(call, usage)
        trace_id = self._record(call, 200, usage=usage, cost=cost, output=output)
        return Answer(out, self._headers(call, trace_id))

    def _cost(self, call: _Call, usage: Any) -> float | None:
        if call.target is None or usage is None:
            return None
        if call.cached:
            return 0.0  # the request cache answered: no provider call was made
        return price(call.provider or "", self._priced_model(call), usage)

    def _unpriced(self, call: _Call) -> bool:
        """The model has no price (as opposed to an answer that came without token counts)."""
        if call.target is None or call.cached:
            return False
        return not has_price(call.provider or "", self._priced_model(call))

    @staticmethod
    def _priced_model(call: _Call) -> str:
        """The model id prices are looked up by: the one the provider answered as, else the one asked for."""
        target = call.target
        assert target is not None
        model_id = call.upstream_model
        if not model_id:
            model_id = target.source.get("model") if isinstance(target.source, dict) else target.model
        return str(model_id)

    def _fail(self, call: _Call, err: GatewayError, exc: BaseException | None = None) -> GatewayError:
        detail = err.message if exc is None else scrub(f"{type(exc).__name__}: {exc}")
        self._record(call, err.status, error=detail, error_type=err.type)
        return err

    def _record(
        self,
        call: _Call,
        status: int,
        *,
        usage: Any = None,
        cost: float | None = None,
        output: Any = None,
        error: str | None = None,
        error_type: str | None = None,
    ) -> str:
        elapsed = time.perf_counter() - call.perf0
        target = call.target
        resolved = target is not None
        model_label = target.model if target else ("unresolved" if not is_raw_spec(call.requested) else call.requested)
        version = target.version if target else None
        alias = target.alias if target else None
        in_tok = getattr(usage, "input_tokens", None) if usage is not None else None
        out_tok = getattr(usage, "output_tokens", None) if usage is not None else None
        key = call.caller.key
        if key is not None and status < 500:
            self.keys.record(key, cost)
        self.metrics.observe(
            model=model_label if resolved or status != 404 else "unresolved",
            version=version, alias=alias, endpoint=call.endpoint, status=status, duration_s=elapsed,
            ttft_s=call.ttft_s, input_tokens=in_tok, output_tokens=out_tok, cost_usd=cost,
            error_type=error_type, fallback=bool(call.fallback_from) and error is None,
            unpriced=error is None and cost is None and self._unpriced(call),
        )
        trace_id = call.trace_id
        if not self.tracer.enabled:
            return trace_id
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": call.operation,
            "gen_ai.request.model": call.requested,
            "http.response.status_code": status,
            "ondo.source": "gateway",
        }
        if target is not None:
            attrs["gen_ai.response.model"] = target.served_as
        body = call.body
        for src, dst in (("temperature", "gen_ai.request.temperature"), ("max_tokens", "gen_ai.request.max_tokens"),
                         ("top_p", "gen_ai.request.top_p"), ("seed", "gen_ai.request.seed")):
            v = body.get(src)
            if isinstance(v, int | float) and not isinstance(v, bool):
                attrs[dst] = v
        if body.get("stream"):
            attrs["ondo.stream"] = True
        if call.fallback_from:
            attrs["ondo.fallback_from"] = list(call.fallback_from)
        if call.canary:
            attrs["ondo.canary"] = True
        if key is not None:
            attrs["ondo.key.name"] = key.name
        if error_type:
            attrs["error.type"] = error_type
        if call.cached:
            attrs["ondo.cache_hit"] = True
        if error is None and cost is None:
            # no price for the model, or no token counts in the answer: cost_usd stays empty, not 0
            attrs["ondo.cost_unknown"] = True
        if usage is not None and getattr(usage, "compute_seconds", None) is not None:
            attrs["ondo.compute_seconds"] = usage.compute_seconds
        if usage is not None and getattr(usage, "cached_input_tokens", None):
            attrs["gen_ai.usage.cached_input_tokens"] = usage.cached_input_tokens
        self.tracer.record(SpanRecord(
            trace_id=trace_id,
            span_id=new_span_id(),
            parent_id=call.parent_id,
            name=call.operation,
            kind="llm",
            start_time=call.start,
            end_time=call.start + elapsed,
            status="ok" if error is None else "error",
            error=error,
            model=target.model if target else (call.requested[:255] or None),
            model_version=version,
            model_alias=alias,
            prompt_version=call.caller.prompt_version,
            provider=call.provider,
            input_tokens=in_tok,
            output_tokens=out_tok,
            cost_usd=cost,
            latency_ms=elapsed * 1000.0,
            ttft_ms=None if call.ttft_s is None else call.ttft_s * 1000.0,
            attributes=attrs,
            input=_request_body(call),
            output=output,
        ))
        return trace_id

    # -- streaming ------------------------------------------------------------------------------------
    async def _chat_stream(self, call: _Call, body: dict[str, Any], request: Callable[[dict[str, Any]], Any]
                           ) -> StreamAnswer:
        """Start the stream on the first candidate that yields a first chunk (fallback is only
        possible before anything was sent), then relay it as server-sent events."""
        first_chunk: Any = None
        stream: Any = None

        async def start(model: Any) -> Any:
            nonlocal first_chunk, stream
            agen = model.chat_stream(request(_with_defaults(body, call.target)))
            try:
                first_chunk = await agen.__anext__()
            except StopAsyncIteration:
                first_chunk = None
            except BaseException:
                await _aclose(agen)
                raise
            stream = agen
            return None

        await self._with_fallbacks(call, start)
        headers = self._headers(call, call.trace_id)
        return StreamAnswer(headers, self._relay(call, stream, first_chunk))

    async def _relay(self, call: _Call, stream: Any, first: Any) -> AsyncIterator[bytes]:
        served = call.target.served_as if call.target else call.requested
        cid = "chatcmpl-" + uuid.uuid4().hex
        created = int(time.time())
        include_usage = bool((call.body.get("stream_options") or {}).get("include_usage"))
        parts: list[str] = []
        usage: Any = None
        finish: str | None = None
        sent_role = False
        finished = False

        def event(delta: dict[str, Any], finish_reason: str | None) -> bytes:
            payload = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": served,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}
            return b"data: " + _json(payload) + b"\n\n"

        try:
            chunk = first
            while chunk is not None:
                if chunk.cached:
                    call.cached = True
                if chunk.delta:
                    if call.ttft_s is None:
                        call.ttft_s = time.perf_counter() - call.perf0
                    parts.append(chunk.delta)
                    delta: dict[str, Any] = {"content": chunk.delta}
                    if not sent_role:
                        delta["role"] = "assistant"
                        sent_role = True
                    yield event(delta, None)
                if chunk.usage is not None:
                    usage = chunk.usage
                if chunk.finish_reason:
                    finish = chunk.finish_reason
                try:
                    chunk = await stream.__anext__()
                except StopAsyncIteration:
                    chunk = None
            if not sent_role:
                yield event({"role": "assistant", "content": ""}, None)
            yield event({}, finish or "stop")
            if include_usage:
                payload: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created,
                                           "model": served, "choices": [], "usage": usage.to_openai() if usage is not None else None}
                yield b"data: " + _json(payload) + b"\n\n"
            yield b"data: [DONE]\n\n"
            finished = True
        except (asyncio.CancelledError, GeneratorExit):
            # the client went away: stop the upstream call, record what happened
            await _aclose(stream)
            self._record(call, 499, usage=usage, output="".join(parts), error="client disconnected before the end",
                         error_type="cancelled")
            raise
        except Exception as exc:
            await _aclose(stream)
            err = from_exception(exc)
            self._record(call, err.status, usage=usage, output="".join(parts),
                         error=scrub(f"{type(exc).__name__}: {exc}"), error_type=err.type)
            # an OpenAI client raises on an event that carries "error"
            yield b"data: " + _json(err.to_dict()) + b"\n\n"
            return
        if finished:
            cost = self._cost(call, usage)
            self._record(call, 200, usage=usage, cost=cost, output="".join(parts))

    async def aclose(self) -> None:
        self.keys.close()
        await self.resolver.aclose()
        self.tracer.flush(10)


async def _aclose(agen: Any) -> None:
    """Close an upstream stream on the way out of a failed or cancelled answer: its own error is not the news."""
    with contextlib.suppress(Exception):
        await aclose_stream(agen)


async def _completion_as_stream(out: dict[str, Any]) -> AsyncIterator[bytes]:
    chunk = dict(out)
    chunk.pop("usage", None)
    yield b"data: " + _json(chunk) + b"\n\n"
    yield b"data: [DONE]\n\n"


def _with_defaults(body: dict[str, Any], target: Target | None) -> dict[str, Any]:
    """The body with the registry version's decoding defaults filled in where the client set none."""
    defaults = target.defaults if target is not None else None
    if not defaults:
        return body
    missing = {k: v for k, v in defaults.items() if body.get(k) is None}
    return {**body, **missing} if missing else body


def _check_sampling(body: dict[str, Any]) -> None:
    """The type checks the typed request would do, without building it (the fast path skips it)."""
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        v = body.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise bad_request(f"'{name}' must be a number", param=name)
    for name in ("max_tokens", "max_completion_tokens", "seed", "n"):
        v = body.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise bad_request(f"'{name}' must be an integer", param=name)
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str) and not (
        isinstance(stop, list) and all(isinstance(x, str) for x in stop)
    ):
        raise bad_request("'stop' must be a string or a list of strings", param="stop")
    for name in ("response_format", "stream_options"):
        v = body.get(name)
        if v is not None and not isinstance(v, dict):
            raise bad_request(f"'{name}' must be an object", param=name)


def _message_text(out: dict[str, Any]) -> str | None:
    choices = out.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict):
            content = message.get("content")
            return content if isinstance(content, str) else None
    return None


def _upstream_message(raw: bytes) -> str:
    try:
        data = passthrough.parse(raw)
        err = data.get("error", data) if isinstance(data, dict) else data
        text = str(err.get("message", err) if isinstance(err, dict) else err)
    except ValueError:
        text = raw[:500].decode("utf-8", "replace")
    return scrub(text)[:500]


def _check_prompt_version(value: str) -> None:
    """``x-ondo-prompt-version`` must name a prompt version the way users type it (summarize/3)."""
    from ondo.errors import InvalidInput
    from ondo.ids import parse_ref

    try:
        if len(value) > 255:
            raise InvalidInput("longer than 255 characters")
        parse_ref(value)
    except InvalidInput as exc:
        raise bad_request(f"header x-ondo-prompt-version: {exc.message}", param="x-ondo-prompt-version") from None


def _check_messages(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty list of {role, content} objects", param="messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise bad_request(f"messages[{i}] must be an object with a 'role'", param=f"messages[{i}]")


def _validation_error(exc: ValidationError) -> GatewayError:
    first = exc.errors()[0]
    where = ".".join(str(x) for x in first.get("loc", ()))
    return bad_request(f"invalid request: {where + ': ' if where else ''}{first.get('msg')}", param=where or None)


def _user(body: dict[str, Any]) -> str | None:
    user = body.get("user")
    return user if isinstance(user, str) and user else None


def _request_body(call: _Call) -> Any:
    body = call.body
    if call.operation == "chat":
        return body.get("messages")
    if call.operation == "text_completion":
        return body.get("prompt")
    return body.get("input")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _model_id(model: Any) -> str | None:
    """The provider's model id, without triggering discovery calls (the attribute, not the property)."""
    for m in (model, getattr(model, "inner", None), getattr(model, "generator", None)):
        value = getattr(m, "model", None) if m is not None else None
        if isinstance(value, str) and value:
            return value
    return None


def _provider_of(model: Any, target: Target) -> str:
    provider = getattr(model, "provider", None)
    if isinstance(provider, str) and provider:
        return provider
    return target.model.split(":", 1)[0] if target.raw else "unknown"


def _parse_traceparent(value: str | None) -> tuple[str | None, str | None]:
    """``00-<trace id>-<parent span id>-<flags>`` -> (trace id, parent span id); junk -> (None, None)."""
    if not value:
        return None, None
    parts = value.strip().split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None, None
    trace_id, parent = parts[1].lower(), parts[2].lower()
    try:
        int(trace_id, 16)
        int(parent, 16)
    except ValueError:
        return None, None
    if trace_id == "0" * 32:
        return None, None
    return trace_id, (None if parent == "0" * 16 else parent)
