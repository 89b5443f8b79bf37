"""Deterministic stand-in models for runner and engine tests (no weights, no network)."""

from __future__ import annotations

import hashlib

from ondo.llm.provider import ModelBase
from ondo.llm.types import ChatResponse, GenerateRequest, LoglikelihoodRequest, LoglikelihoodResult


def fake_logprob(context: str, continuation: str) -> float:
    digest = hashlib.sha256((context + "\x00" + continuation).encode()).digest()
    return -1.0 - int.from_bytes(digest[:4], "big") / 2**32 * 20.0


class FakeScorer(ModelBase):
    """Log-likelihood from a hash of (context, continuation); records every call it gets."""

    provider_name = "fake"

    def __init__(self, fail_after_calls: int | None = None) -> None:
        self.calls: list[list[LoglikelihoodRequest]] = []
        self.fail_after_calls = fail_after_calls

    @property
    def fingerprint(self) -> str:
        return "fake:scorer"

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"loglikelihood"})

    async def _loglikelihood_batch(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        if self.fail_after_calls is not None and len(self.calls) >= self.fail_after_calls:
            raise KeyboardInterrupt("killed")
        self.calls.append(list(requests))
        return [
            LoglikelihoodResult(fake_logprob(r.context, r.continuation), is_greedy=False, n_tokens=1)
            for r in requests
        ]


class FakeGenerator(ModelBase):
    """Generation only: answers a fixed text; cannot score log-likelihoods."""

    provider_name = "fake"
    max_concurrency = 4

    def __init__(self, answer: str = " A. because") -> None:
        self.answer = answer
        self.prompts: list[str] = []

    @property
    def fingerprint(self) -> str:
        return "fake:generator"

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"generate", "chat"})

    async def _generate_one(self, request: GenerateRequest) -> ChatResponse:
        self.prompts.append(request.prompt)
        text = self.answer
        for stop in request.stop or []:
            if stop in text:
                text = text[: text.index(stop)]
        return ChatResponse(text=text)
