"""A fake OpenAI-compatible server on 127.0.0.1 that answers at once.

A raw asyncio HTTP/1.1 server (keep-alive, no framework), so it costs next to nothing next to
what it is used to measure (the gateway benchmark) and can misbehave on request (the
reliability tests). The request's ``model`` picks the behaviour:

- anything else: an answer echoing the last user message, with usage 10 in / 5 out
- ``fail-500`` / ``fail-400`` / ``fail-429``: that HTTP error
- ``die-midstream``: when streaming, two chunks and then the connection is cut
- ``hang``: accepts the request and never answers
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _response(status: int, body: bytes, content_type: bytes = b"application/json") -> bytes:
    reason = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 429: b"Too Many Requests",
              500: b"Internal Server Error"}.get(status, b"Error")
    return (b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n"
            % (status, reason, content_type, len(body))) + body


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class _Protocol(asyncio.Protocol):
    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport subclass
        self.backend._transports.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.backend._transports.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].decode("latin-1")
            lines = head.split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
            if len(self.buf) < head_end + 4 + length:
                return
            body = self.buf[head_end + 4: head_end + 4 + length]
            self.buf = self.buf[head_end + 4 + length:]
            self.backend.requests += 1
            self.handle(method, path, body)

    def handle(self, method: str, path: str, raw: bytes) -> None:
        assert self.transport is not None
        t = self.transport
        if method == "GET" and path.endswith("/models"):
            t.write(_response(200, b'{"object":"list","data":[{"id":"echo","object":"model"}]}'))
            return
        try:
            body: dict[str, Any] = json.loads(raw or b"{}")
        except ValueError:
            t.write(_response(400, b'{"error":{"message":"bad json"}}'))
            return
        model = str(body.get("model", ""))
        self.backend.seen_models.append(model)
        self.backend.seen_bodies.append(body)
        if model == "hang":
            return
        if model.startswith("fail-"):
            status = int(model[5:])
            t.write(_response(status, json.dumps({"error": {"message": f"backend says {status}",
                                                            "type": "server_error"}}).encode()))
            return
        if path.endswith("/chat/completions"):
            messages = body.get("messages") or [{}]
            text = "echo: " + str(messages[-1].get("content", ""))
            if body.get("stream"):
                self.stream(t, model, text, die=model == "die-midstream")
                return
            out = {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
            t.write(_response(200, json.dumps(out).encode()))
        elif path.endswith("/completions"):
            out = {"id": "cmpl-fake", "object": "text_completion", "created": int(time.time()), "model": model,
                   "choices": [{"index": 0, "text": " world", "finish_reason": "stop", "logprobs": None}],
                   "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
            t.write(_response(200, json.dumps(out).encode()))
        elif path.endswith("/embeddings"):
            inp = body.get("input")
            texts = [inp] if isinstance(inp, str) else list(inp or [])
            data = [{"object": "embedding", "index": i, "embedding": [float(len(s)), 0.5, -0.25, float(i)]}
                    for i, s in enumerate(texts)]
            out = {"object": "list", "data": data, "model": model,
                   "usage": {"prompt_tokens": 2 * len(texts), "total_tokens": 2 * len(texts)}}
            t.write(_response(200, json.dumps(out).encode()))
        else:
            t.write(_response(404, b'{"error":{"message":"no such route"}}'))

    def stream(self, t: asyncio.Transport, model: str, text: str, die: bool) -> None:
        t.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        words = text.split(" ")
        for i, w in enumerate(words):
            piece = w if i == 0 else " " + w
            ev = {"id": "c", "object": "chat.completion.chunk", "model": model,
                  "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            t.write(_chunk(b"data: " + json.dumps(ev).encode() + b"\n\n"))
            if die and i == 1:
                t.abort()  # the backend process dies: the connection is cut mid-answer
                return
        ev = {"id": "c", "object": "chat.completion.chunk", "model": model,
              "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        if self.backend.stream_usage:  # servers that ignore stream_options.include_usage send none
            ev["usage"] = {"prompt_tokens": 10, "completion_tokens": len(words), "total_tokens": 10 + len(words)}
        t.write(_chunk(b"data: " + json.dumps(ev).encode() + b"\n\n"))
        t.write(_chunk(b"data: [DONE]\n\n"))
        t.write(b"0\r\n\r\n")


class FakeBackend:
    """``with FakeBackend() as b: b.url`` -> ``http://127.0.0.1:PORT/v1``, served from a thread."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.requests = 0
        self.seen_models: list[str] = []
        self.seen_bodies: list[dict[str, Any]] = []
        self.stream_usage = True  # False: streamed answers end without token counts
        self._transports: set[asyncio.Transport] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeBackend:
        self._thread = threading.Thread(target=self._run, name="fake-openai-backend", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake backend did not start")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def serve() -> None:
            self._server = await loop.create_server(lambda: _Protocol(self), "127.0.0.1", self.port, backlog=2048)
            self._ready.set()

        loop.run_until_complete(serve())
        loop.run_forever()
        loop.close()

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for t in list(self._transports):
                t.abort()
            loop.stop()

        loop.call_soon_threadsafe(shutdown)
        if self._thread is not None:
            self._thread.join(5)
        self._loop = None

    def __enter__(self) -> FakeBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(port: int) -> None:  # pragma: no cover - used by the benchmark's subprocess
    b = FakeBackend(port).start()
    try:
        while True:
            time.sleep(3600)
    finally:
        b.stop()


if __name__ == "__main__":  # pragma: no cover
    import sys

    serve_forever(int(sys.argv[1]))
