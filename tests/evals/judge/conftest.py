"""Scripted stand-ins for a judge and a model under test (the real local model is used elsewhere)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest

from ondo.llm.provider import ModelBase
from ondo.llm.types import ChatRequest, ChatResponse


class ScriptedModel(ModelBase):
    """Answers each chat with ``reply(request)``; records every request and the concurrency reached."""

    provider_name = "scripted"

    def __init__(self, reply: Callable[[ChatRequest], str], name: str = "scripted-judge", delay: float = 0.0) -> None:
        self.reply = reply
        self.name = name
        self.delay = delay
        self.requests: list[ChatRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def fingerprint(self) -> str:
        return f"scripted:{self.name}"

    @property
    def model_name(self) -> str:
        return self.name

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"chat"})

    async def _chat_one(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return ChatResponse(text=self.reply(request), model=self.name)
        finally:
            self.in_flight -= 1


def answers_in(request: ChatRequest) -> tuple[str, str]:
    """The (A, B) answers shown in a pairwise turn-1 prompt."""
    user = request.messages[-1].text
    a = re.search(r"\[The Start of Assistant A's Answer\]\n(.*?)\n\[The End of Assistant A's Answer\]", user, re.S)
    b = re.search(r"\[The Start of Assistant B's Answer\]\n(.*?)\n\[The End of Assistant B's Answer\]", user, re.S)
    if a and b:
        return a.group(1), b.group(1)
    out = []
    for side in ("A", "B"):
        conv = user.split(f"<|The Start of Assistant {side}'s Conversation with User|>")[1]
        conv = conv.split(f"<|The End of Assistant {side}'s Conversation with User|>")[0]
        out.append(conv.rsplit(f"### Assistant {side}:\n", 1)[1].removesuffix("\n\n"))
    return out[0], out[1]


@pytest.fixture
def scripted() -> type[ScriptedModel]:
    return ScriptedModel


@pytest.fixture
def shown_answers() -> Callable[[ChatRequest], tuple[str, str]]:
    return answers_in


@pytest.fixture
def fake_openai_server() -> Any:
    """A local OpenAI-compatible server: a judge prompt gets a verdict, anything else a short answer."""
    import socket
    import threading
    import time

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    seen: list[dict[str, Any]] = []

    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        seen.append(body)
        user = body["messages"][-1]["content"]
        if "[[A]]" in str(body["messages"]) or "Assistant A" in user:
            text = "A is better. [[A]]"
        elif "[[rating]]" in str(body["messages"]):
            text = "Solid. Rating: [[6]]"
        else:
            text = f"my answer ({len(user)})"
        return JSONResponse({"id": "x", "object": "chat.completion", "created": 0, "model": "fake",
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})

    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)

    class Handle:
        url = f"http://127.0.0.1:{port}/v1"
        requests = seen

    yield Handle()
    server.should_exit = True
    thread.join(timeout=10)
