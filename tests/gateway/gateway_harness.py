"""Helpers the gateway tests share: in-process clients and request bodies."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from fake_openai_backend import FakeBackend

T = TypeVar("T")


def api(backend: FakeBackend, model: str) -> dict[str, Any]:
    """An API model spec served by the fake backend under ``model``."""
    return {"provider": "openai-compatible", "model": model, "base_url": backend.url}


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await coro_fn()

    return asyncio.run(main())


class asgi_client(httpx.AsyncClient):  # used like a function, hence the lower-case name
    """An HTTP client calling ``app`` in-process; the host is what the app sees as its own address.

    Leaving it closes the gateway's upstream connections of this event loop (each test's
    ``asyncio.run`` has its own loop; a real server closes them at shutdown).
    """

    def __init__(self, app: Any, base_url: str = "http://127.0.0.1:8000", **kwargs: Any) -> None:
        super().__init__(transport=httpx.ASGITransport(app=app), base_url=base_url, timeout=60, **kwargs)
        self._app = app

    async def __aexit__(self, *exc: Any) -> None:
        await super().__aexit__(*exc)
        gateway = getattr(self._app.state, "gateway", None)
        if gateway is not None:
            await gateway.resolver.release_connections()


def chat_body(model: str = "assistant@production", content: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


class LiveServer:
    """``with LiveServer(app) as url:`` — the app on a real uvicorn socket at 127.0.0.1 (in a thread)."""

    def __init__(self, app: Any) -> None:
        import uvicorn
        from fake_openai_backend import free_port

        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False,
                           timeout_graceful_shutdown=2)
        )
        self.thread: Any = None

    def __enter__(self) -> str:
        import threading
        import time

        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(10)
