"""Any OpenAI-compatible HTTP server: OpenAI, vLLM, Ollama, llama.cpp's servers, an ondo gateway.

One ``httpx.AsyncClient`` per event loop, a semaphore bounding requests in flight, and
retries with exponential backoff and jitter on 429/5xx/timeouts that honour
``Retry-After`` (and OpenAI's ``retry-after-ms``). ``loglikelihood`` uses
``/completions`` with ``echo=True`` and ``logprobs`` (vLLM supports it; OpenAI's chat models
do not, and say so with ``UnsupportedOperation``). The API key lives in a :class:`Secret`:
it is sent in a header and never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import asyncio
import bisect
import email.utils
import json
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from ondo.errors import UnsupportedOperation
from ondo.llm.provider import ModelBase, ProviderError
from ondo.llm.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingResponse,
    GenerateRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    SamplingParams,
    Usage,
    move_trailing_spaces,
)

log = logging.getLogger("ondo.llm")

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
_RETRY_EXCEPTIONS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class Secret:
    """A credential that never prints."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value or None

    def get(self) -> str | None:
        return self._value

    def redact(self, text: str) -> str:
        return text.replace(self._value, "***") if self._value else text

    def __bool__(self) -> bool:
        return self._value is not None

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret(None)"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not picklable")


def safe_url(url: str) -> str:
    """``url`` without user:password and query string (what may appear in ids and messages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


class OpenAICompatModel(ModelBase):
    def __init__(
        self,
        base_url: str = "https://api.openai.com/v1",
        model: str | None = None,
        *,
        api_key: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        provider: str = "openai-compatible",
        max_concurrency: int = 8,
        max_retries: int = 4,
        timeout: float = 120.0,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_max: float = 120.0,
        loglikelihood: bool | None = None,
        embeddings: bool = True,
        stream_usage: bool = True,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.provider_name = provider
        key = api_key if api_key is not None else (os.environ.get(api_key_env) if api_key_env else None)
        self._key = Secret(key)
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self.stream_usage = stream_usage
        self._extra_headers = dict(headers or {})
        self._transport = transport
        self._sleep = sleep or asyncio.sleep
        self._embeddings = embeddings
        if loglikelihood is None:
            # OpenAI's hosted chat models return no prompt logprobs; self-hosted servers (vLLM) do.
            loglikelihood = "api.openai.com" not in self.base_url
        self._loglikelihood = loglikelihood
        self._loop_state: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient, asyncio.Semaphore] | None = None
        #: number of HTTP attempts made (retries included); tests and the cache's "zero new calls" read it
        self.calls = 0

    # ---- identity -------------------------------------------------------------------------------

    @property
    def fingerprint(self) -> str:
        return f"{self.provider_name}:{self.model_name}@{safe_url(self.base_url)}"

    @property
    def model_name(self) -> str:
        if self.model is None:
            self.model = self._discover_model()
        return self.model or "default"

    @property
    def capabilities(self) -> frozenset[str]:
        caps = {"chat", "generate", "stream", "json_schema"}
        if self._loglikelihood:
            caps.add("loglikelihood")
        if self._embeddings:
            caps.add("embeddings")
        return frozenset(caps)

    def __repr__(self) -> str:
        return f"<OpenAICompatModel {self.fingerprint} key={'set' if self._key else 'none'}>"

    # ---- HTTP plumbing ----------------------------------------------------------------------------

    def request_headers(self) -> dict[str, str]:
        """The headers every request to this server carries: content type, the configured extra
        headers and ``Authorization`` with the API key.

        Public for callers that forward requests over their own connection (the gateway's pooled
        fast path). The result holds the credential in clear: send it, never log or store it.
        """
        headers = {"Content-Type": "application/json", **self._extra_headers}
        key = self._key.get()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def credentials(self) -> tuple[str, ...]:
        """The secret values this provider sends (its API key), so that tracing and error paths
        can scrub them from anything they store; empty without a key."""
        key = self._key.get()
        return (key,) if key else ()

    def _state(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if self._loop_state is None or self._loop_state[0] is not loop:
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                transport=self._transport,
                limits=httpx.Limits(max_connections=max(self.max_concurrency, 1) * 2,
                                    max_keepalive_connections=max(self.max_concurrency, 1)),
            )
            self._loop_state = (loop, client, asyncio.Semaphore(max(1, self.max_concurrency)))
        return self._loop_state[1], self._loop_state[2]

    async def aclose(self) -> None:
        state, self._loop_state = self._loop_state, None
        if state is not None and state[0] is asyncio.get_running_loop():
            await state[1].aclose()

    def _discover_model(self) -> str | None:
        """The first model a server lists (for ``http://host/v1`` specs that name none)."""
        try:
            with httpx.Client(timeout=10.0) as client:
                resp = client.get(f"{self.base_url}/models", headers=self.request_headers())
                data = resp.json().get("data") or []
                return str(data[0]["id"]) if data else None
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return None

    def backoff(self, attempt: int, headers: Mapping[str, str] | None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): Retry-After when given, else
        exponential with equal jitter."""
        if headers:
            ms = headers.get("retry-after-ms")
            if ms:
                try:
                    return min(float(ms) / 1000.0, self.retry_after_max)
                except ValueError:
                    pass
            ra = headers.get("retry-after")
            if ra:
                try:
                    return min(max(float(ra), 0.0), self.retry_after_max)
                except ValueError:
                    parsed = email.utils.parsedate_to_datetime(ra) if ra else None
                    if parsed is not None:
                        return min(max(parsed.timestamp() - time.time(), 0.0), self.retry_after_max)
        cap = min(self.backoff_max, self.backoff_base * (2**attempt))
        return cap / 2 + random.uniform(0, cap / 2)

    async def _send(self, path: str, body: dict[str, Any], stream: bool = False) -> httpx.Response:
        """POST with retries; returns a response with a 2xx status. A streaming one is still open
        and still holds its place under ``max_concurrency``: the caller gives it back with
        ``_end_stream`` once the stream is read or abandoned, since the upstream is busy until then."""
        client, sem = self._state()
        url = f"{self.base_url}{path}"
        last_problem = ""
        for attempt in range(self.max_retries + 1):
            self.calls += 1
            await sem.acquire()
            try:
                request = client.build_request("POST", url, json=body, headers=self.request_headers())
                resp = await client.send(request, stream=stream)
            except BaseException as exc:
                sem.release()
                if not isinstance(exc, _RETRY_EXCEPTIONS):
                    raise
                last_problem = f"{type(exc).__name__}"
                if attempt < self.max_retries:
                    delay = self.backoff(attempt, None)
                    log.warning("%s %s failed (%s); retry %d in %.2fs", self.provider_name, path,
                                last_problem, attempt + 1, delay)
                    await self._sleep(delay)
                    continue
                raise ProviderError(
                    f"{self.provider_name} {safe_url(url)}: {last_problem} after {attempt + 1} attempts",
                    provider=self.provider_name, retryable=True,
                ) from None
            if resp.status_code < 400 and stream:
                resp.extensions["ondo_slot"] = sem  # given back by _end_stream, to this very semaphore
                return resp
            sem.release()
            if resp.status_code < 400:
                return resp
            if stream:
                await resp.aread()
                await resp.aclose()
            if resp.status_code in RETRY_STATUSES and attempt < self.max_retries:
                delay = self.backoff(attempt, resp.headers)
                log.warning("%s %s returned HTTP %d; retry %d in %.2fs", self.provider_name, path,
                            resp.status_code, attempt + 1, delay)
                await self._sleep(delay)
                continue
            raise self._http_error(resp, path, attempt + 1)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _end_stream(self, resp: httpx.Response) -> None:
        """Close a streaming response from ``_send`` and give its place back (to the semaphore it
        was taken from: ``aclose`` or another event loop may have replaced the model's since)."""
        try:
            await resp.aclose()
        finally:
            slot = resp.extensions.pop("ondo_slot", None)
            if slot is not None:
                slot.release()

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = await self._send(path, body)
        try:
            data = resp.json()
        except ValueError:
            raise ProviderError(f"{self.provider_name} {path}: response is not JSON",
                                status_code=resp.status_code, provider=self.provider_name) from None
        if not isinstance(data, dict):
            raise ProviderError(f"{self.provider_name} {path}: unexpected response shape",
                                provider=self.provider_name)
        return data

    def _http_error(self, resp: httpx.Response, path: str, attempts: int) -> ProviderError:
        detail = ""
        try:
            data = resp.json()
            err = data.get("error", data) if isinstance(data, dict) else data
            detail = str(err.get("message", err) if isinstance(err, dict) else err)
        except ValueError:
            detail = resp.text
        detail = self._key.redact(detail)[:500]
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        return ProviderError(
            f"{self.provider_name} {path} returned HTTP {resp.status_code}{tried}: {detail}",
            status_code=resp.status_code, provider=self.provider_name,
            retryable=resp.status_code in RETRY_STATUSES,
        )

    # ---- request bodies ---------------------------------------------------------------------------

    def _sampling(self, params: SamplingParams) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model_name, "temperature": params.temperature}
        if params.max_tokens is not None:
            body["max_tokens"] = params.max_tokens
        if params.top_p is not None:
            body["top_p"] = params.top_p
        if params.stop:
            body["stop"] = params.stop
        if params.seed is not None:
            body["seed"] = params.seed
        schema = params.output_schema()
        if params.json_schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "output", "schema": schema, "strict": True}}
        elif params.response_format is not None:
            body["response_format"] = params.response_format
        body.update(params.extra)
        return body

    def _chat_body(self, request: ChatRequest) -> dict[str, Any]:
        body = self._sampling(request)
        body["messages"] = [m.model_dump(exclude_none=True) for m in request.messages]
        return body

    # ---- operations -------------------------------------------------------------------------------

    async def _chat_one(self, request: ChatRequest) -> ChatResponse:
        started = time.perf_counter()
        data = await self._post("/chat/completions", self._chat_body(request))
        choice = _first_choice(data, self.provider_name)
        message = choice.get("message") or {}
        return ChatResponse(
            text=message.get("content") or "",
            finish_reason=choice.get("finish_reason"),
            usage=Usage.from_openai(data.get("usage")),
            model=str(data.get("model") or self.model_name),
            raw=data,
            tool_calls=message.get("tool_calls") or None,
            latency_s=time.perf_counter() - started,
        )

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.require("chat")
        body = self._chat_body(request)
        body["stream"] = True
        if self.stream_usage:
            body["stream_options"] = {"include_usage": True}
        resp = await self._send("/chat/completions", body, stream=True)
        finish: str | None = None
        usage: Usage | None = None
        model = self.model_name
        done = False
        try:
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    done = True
                    break
                try:
                    event = json.loads(payload)
                except ValueError:
                    continue
                if "error" in event:
                    err = event["error"]
                    msg = err.get("message", err) if isinstance(err, dict) else err
                    raise ProviderError(f"{self.provider_name} stream error: {self._key.redact(str(msg))[:500]}",
                                        provider=self.provider_name)
                model = str(event.get("model") or model)
                if event.get("usage"):
                    usage = Usage.from_openai(event["usage"])
                for choice in event.get("choices") or []:
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        yield ChatChunk(delta=delta, model=model)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.provider_name} stream broke off: {type(exc).__name__}",
                                provider=self.provider_name, retryable=True) from None
        finally:
            await self._end_stream(resp)
        if not done and finish is None:
            raise ProviderError(f"{self.provider_name} stream ended before the answer was complete",
                                provider=self.provider_name, retryable=True)
        yield ChatChunk(finish_reason=finish or "stop", usage=usage, model=model)  # None: the server sent no counts

    async def _generate_one(self, request: GenerateRequest) -> ChatResponse:
        started = time.perf_counter()
        body = self._sampling(request)
        body["prompt"] = request.prompt
        data = await self._post("/completions", body)
        choice = _first_choice(data, self.provider_name)
        return ChatResponse(
            text=choice.get("text") or "",
            finish_reason=choice.get("finish_reason"),
            usage=Usage.from_openai(data.get("usage")),
            model=str(data.get("model") or self.model_name),
            raw=data,
            latency_s=time.perf_counter() - started,
        )

    async def _embed(self, texts: list[str]) -> EmbeddingResponse:
        data = await self._post("/embeddings", {"model": self.model_name, "input": texts})
        rows = sorted(data.get("data") or [], key=lambda r: r.get("index", 0))
        if len(rows) != len(texts):
            raise ProviderError(f"{self.provider_name} /embeddings returned {len(rows)} vectors for "
                                f"{len(texts)} inputs", provider=self.provider_name)
        return EmbeddingResponse(vectors=[list(map(float, r["embedding"])) for r in rows],
                                 usage=Usage.from_openai(data.get("usage")),
                                 model=str(data.get("model") or self.model_name))

    async def _loglikelihood_batch(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        return list(await self._many(self._loglikelihood_one, requests))

    async def _loglikelihood_one(self, request: LoglikelihoodRequest) -> LoglikelihoodResult:
        context, continuation = move_trailing_spaces(request.context, request.continuation)
        prompt = context + continuation
        body = {"model": self.model_name, "prompt": prompt, "max_tokens": 1, "temperature": 0.0,
                "echo": True, "logprobs": 1}
        try:
            data = await self._post("/completions", body)
        except ProviderError as exc:
            if exc.status_code in (400, 404, 422, 501):
                self._loglikelihood = False
                raise UnsupportedOperation(
                    f"model {self.fingerprint} cannot score loglikelihood: the server refused "
                    f"/completions with echo+logprobs ({exc.message}); it can run generate_until and chat tasks"
                ) from None
            raise
        return self._parse_echo(data, prompt, len(context))

    def _parse_echo(self, data: dict[str, Any], prompt: str, ctx_chars: int) -> LoglikelihoodResult:
        choice = _first_choice(data, self.provider_name)
        lp = choice.get("logprobs") or {}
        tokens = lp.get("tokens")
        values = lp.get("token_logprobs")
        offsets = lp.get("text_offset")
        if not tokens or not values or offsets is None or len(values) < 2:
            self._loglikelihood = False
            raise UnsupportedOperation(
                f"model {self.fingerprint} returns no prompt logprobs (echo), so it cannot score "
                "loglikelihood; it can run generate_until and chat tasks"
            )
        usage = data.get("usage") or {}
        n_prompt = int(usage.get("prompt_tokens") or 0)
        if n_prompt == len(tokens) and int(usage.get("completion_tokens") or 0) >= 1 and \
                len(str(choice.get("text") or "")) > len(prompt):
            # llama-cpp-python's server echoes only the prompt's tokens, with each logprob read from
            # the wrong logits row (upstream issue #1983): the numbers would be silently wrong.
            self._loglikelihood = False
            raise UnsupportedOperation(
                f"model {self.fingerprint}: this server's echoed prompt logprobs are shifted by one position "
                "(llama-cpp-python's server, upstream issue #1983), so it cannot score loglikelihood; "
                "score the GGUF in-process with 'llamacpp:PATH.gguf' or 'hf:PATH', or use it for generate_until "
                "and chat tasks"
            )
        if not 0 < n_prompt <= len(tokens):
            n_prompt = len(tokens) - 1  # max_tokens=1: the last token is the generated one
        offsets = [int(o) for o in offsets[:n_prompt]]
        start = bisect.bisect_left(offsets, ctx_chars)
        # a token that straddles the boundary (merged by the tokenizer) belongs to the continuation
        if start > 0 and (offsets[start] if start < n_prompt else len(prompt)) > ctx_chars and \
                offsets[start - 1] < ctx_chars:
            start -= 1
        start = max(start, 1)  # the first prompt token has no logprob
        cont_values = [float(v) for v in values[start:n_prompt] if v is not None]
        top = lp.get("top_logprobs") or []
        greedy = bool(top) and all(
            isinstance(top[i], dict) and top[i] and max(top[i].items(), key=lambda kv: kv[1])[0] == tokens[i]
            for i in range(start, min(n_prompt, len(top)))
        )
        return LoglikelihoodResult(logprob=float(sum(cont_values)), is_greedy=greedy,
                                   token_logprobs=cont_values, n_tokens=len(cont_values))


def _first_choice(data: dict[str, Any], provider: str) -> dict[str, Any]:
    choices = data.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        raise ProviderError(f"{provider}: response has no choices", provider=provider)
    return choices[0]
