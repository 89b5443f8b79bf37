"""The gateway's fast path to OpenAI-compatible upstreams: forward the JSON, keep-alive, no copies.

When the resolved model is ``ondo.llm``'s OpenAI-compatible provider, the gateway does not
need to translate the request into ``ChatRequest`` and back: it forwards the client's body
(with ``model`` set to the upstream's model id and the registry version's default params
applied) over a pooled HTTP/1.1 connection, and relays the answer with ``model`` renamed.
That costs a few tens of microseconds where httpx plus the typed round trip cost about a
millisecond, which is the gateway's whole latency budget.

Only the first attempt goes this way. A connection failure, a 429 or a 5xx hands the request
to the provider itself, which retries with backoff honouring ``Retry-After`` — so retry and
error semantics stay those of ``ondo.llm``. Streaming requests always use the provider.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

try:
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

    def _loads(data: bytes) -> Any:
        return orjson.loads(data)

except ImportError:  # pragma: no cover
    import json

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    def _loads(data: bytes) -> Any:
        return json.loads(data)


RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})


class UpstreamUnavailable(Exception):
    """The fast path could not get an answer; the provider's own (retrying) path takes over."""


def available() -> bool:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return False
    return True


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, pool: _Pool) -> None:
        import httptools

        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.body: list[bytes] = []
        self.closed = False
        self.got_data = False
        self.loop = asyncio.get_running_loop()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        self.got_data = True
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # malformed response
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("upstream closed the connection"))

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        status = self.parser.get_status_code()
        body = b"".join(self.body)
        self.body = []
        keep = self.parser.should_keep_alive()
        if waiter is not None and not waiter.done():
            waiter.set_result((status, body))
        if keep and not self.closed:
            self.pool.release(self)
        else:
            self.close()

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def send(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        import httptools

        assert self.transport is not None
        self.parser = httptools.HttpResponseParser(self)
        self.got_data = False
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Pool:
    def __init__(self, host: str, port: int, tls: bool, limit: int) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.idle: list[_Conn] = []
        self.limit = limit
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ssl: ssl.SSLContext | None = ssl.create_default_context() if tls else None

    async def acquire(self, timeout: float) -> _Conn:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # connections belong to the loop that opened them
            self.idle = []
            self._loop = loop
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        _, conn = await asyncio.wait_for(
            loop.create_connection(lambda: _Conn(self), self.host, self.port, ssl=self._ssl,
                                   server_hostname=self.host if self.tls else None),
            timeout,
        )
        return conn

    def release(self, conn: _Conn) -> None:
        if len(self.idle) < self.limit and conn.loop is self._loop:
            self.idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        for c in self.idle:
            c.close()
        self.idle.clear()


@dataclass
class FastRoute:
    """How to forward to one OpenAI-compatible provider instance."""

    model_id: str
    base_path: str
    host_header: str
    headers: bytes
    defaults: dict[str, Any]
    extra: dict[str, Any]
    system_prompt: str | None
    timeout: float
    pool: _Pool

    def body(self, request: dict[str, Any], chat: bool) -> bytes:
        out = dict(request)
        out["model"] = self.model_id
        for k, v in self.defaults.items():
            if out.get(k) is None:
                out[k] = v
        for k, v in self.extra.items():
            out.setdefault(k, v)
        if chat and self.system_prompt:
            messages = out.get("messages") or []
            if not any(isinstance(m, dict) and m.get("role") == "system" for m in messages):
                out["messages"] = [{"role": "system", "content": self.system_prompt}, *messages]
        return _dumps(out)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = (
            f"POST {self.base_path}{path} HTTP/1.1\r\nHost: {self.host_header}\r\n"
            f"Content-Length: {len(body)}\r\n"
        ).encode() + self.headers + b"\r\n"
        for attempt in (0, 1):
            try:
                conn = await self.pool.acquire(min(self.timeout, 10.0))
            except (TimeoutError, OSError) as exc:
                raise UpstreamUnavailable(f"cannot connect: {type(exc).__name__}") from None
            fut = conn.send(head + body)
            handle = asyncio.get_running_loop().call_later(self.timeout, _expire, fut)
            try:
                return await fut
            except asyncio.CancelledError:
                conn.close()
                raise
            except (TimeoutError, OSError, ConnectionError, Exception) as exc:
                conn.close()
                # an idle keep-alive connection the server had closed: retry once on a fresh one
                if attempt == 0 and not conn.got_data and not isinstance(exc, asyncio.TimeoutError):
                    continue
                raise UpstreamUnavailable(f"{type(exc).__name__}: {exc}") from None
            finally:
                handle.cancel()
        raise UpstreamUnavailable("no answer")  # pragma: no cover


def _expire(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError("upstream timed out"))


def route_for(model: Any, limit: int) -> FastRoute | None:
    """A ``FastRoute`` when ``model`` is (a defaults wrapper around) an OpenAI-compatible provider.

    Reads only the providers' public API: ``DefaultParamsModel.params/extra/system_prompt/inner``
    and ``OpenAICompatModel.base_url/request_headers()/model_name/timeout``.
    """
    from ondo.llm.openai_compat import OpenAICompatModel
    from ondo.llm.routing import DefaultParamsModel

    if not available():
        return None
    defaults: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    system_prompt: str | None = None
    inner: Any = model
    if isinstance(inner, DefaultParamsModel):
        defaults = dict(inner.params)
        extra = dict(inner.extra)
        system_prompt = inner.system_prompt
        inner = inner.inner
    if not isinstance(inner, OpenAICompatModel):
        return None
    base_url = inner.base_url
    if "json_schema" in defaults or "response_format" in defaults:
        return None  # the provider rewrites these; let it
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        return None
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    header_lines = b"".join(
        f"{k}: {v}\r\n".encode() for k, v in inner.request_headers().items()
        if k.lower() not in ("host", "content-length")
    )
    return FastRoute(
        model_id=inner.model_name,
        base_path=parts.path.rstrip("/"),
        host_header=host_header,
        headers=header_lines,
        defaults={k: v for k, v in defaults.items() if v is not None},
        extra=extra,
        system_prompt=system_prompt,
        timeout=float(inner.timeout),
        pool=_Pool(parts.hostname, port, tls, limit),
    )


def parse(body: bytes) -> Any:
    return _loads(body)
