"""A faster wire for the gateway's HTTP providers: an httpx transport over aiohttp.

``ondo.llm``'s OpenAI-compatible provider speaks httpx, and takes a ``transport``. httpx's own
connection pool (httpcore) costs milliseconds per request under concurrency on a small
machine, which is the whole latency budget of a gateway. This transport keeps the provider
exactly as it is (retries, errors, streaming, usage) and swaps only the I/O for aiohttp's
keep-alive pool. aiohttp errors are mapped to the httpx exceptions the provider handles.
Without aiohttp installed, the gateway falls back to httpx's default transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx


def available() -> bool:
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return False
    return True


class _Body(httpx.AsyncByteStream):
    def __init__(self, resp: Any, request: httpx.Request) -> None:
        self._resp = resp
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
        except BaseException as exc:
            mapped = _map(exc, self._request)
            if mapped is exc:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        self._resp.release()


def _map(exc: BaseException, request: httpx.Request) -> BaseException:
    import aiohttp

    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(str(exc) or "timed out", request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc), request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request)
    if isinstance(exc, aiohttp.ClientOSError | ConnectionError):
        return httpx.ReadError(str(exc) or type(exc).__name__, request=request)
    if isinstance(exc, aiohttp.ClientError):
        return httpx.NetworkError(str(exc) or type(exc).__name__, request=request)
    return exc


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session per event loop (a provider outlives loops in tests and CLIs)."""

    def __init__(self, *, limit: int = 512) -> None:
        self.limit = limit
        self._sessions: dict[int, tuple[asyncio.AbstractEventLoop, Any]] = {}

    def _session(self) -> Any:
        import aiohttp

        loop = asyncio.get_running_loop()
        hit = self._sessions.get(id(loop))
        if hit is not None and hit[0] is loop and not hit[1].closed:
            return hit[1]
        for key, (old_loop, _old) in list(self._sessions.items()):
            if old_loop.is_closed():
                self._sessions.pop(key, None)
        connector = aiohttp.TCPConnector(limit=self.limit, limit_per_host=self.limit, keepalive_timeout=30,
                                         enable_cleanup_closed=False)
        session = aiohttp.ClientSession(connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",))
        self._sessions[id(loop)] = (loop, session)
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import aiohttp

        timeouts = request.extensions.get("timeout") or {}
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.get("connect"), sock_read=timeouts.get("read"),
        )
        body = await request.aread()
        try:
            resp = await self._session().request(
                request.method, str(request.url), headers=request.headers.multi_items(),
                data=body, timeout=timeout, allow_redirects=False,
            )
        except BaseException as exc:
            mapped = _map(exc, request)
            if mapped is exc:
                raise
            raise mapped from exc
        headers = [(k, v) for k, v in resp.raw_headers]
        return httpx.Response(resp.status, headers=headers, stream=_Body(resp, request), request=request,
                              extensions={"http_version": b"HTTP/1.1"})

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        hit = self._sessions.pop(id(loop), None)
        if hit is not None and hit[0] is loop:
            await hit[1].close()
