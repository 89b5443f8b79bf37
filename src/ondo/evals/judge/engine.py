"""Calling a judge (and a model under test) concurrently, with retries for unparseable verdicts.

Every call goes through the model it is given; wrap it in the LLM layer's request cache and a
re-run of the same judgment makes no new calls. A verdict that cannot be parsed is asked again up
to ``max_retries`` times with a different seed (a greedy retry would only repeat itself, or be
answered by the cache); if it still has none it is kept as unparsed, with its text, and counted.

With a local llama.cpp judge the output is constrained by a grammar (or, for other providers that
support it, a JSON schema) so it always ends in a verdict.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ondo.errors import InvalidInput
from ondo.evals.judge import verdicts as vparse
from ondo.evals.judge.matches import (
    PairMatch,
    SingleMatch,
    messages,
    pair_variables,
    single_variables,
)
from ondo.evals.judge.mtbench import MAX_NEW_TOKENS, Question
from ondo.evals.judge.prompt_set import JudgePrompt

T = TypeVar("T")

CONSTRAIN_MODES = ("auto", "grammar", "json", "none")
RETRY_TEMPERATURE = 0.7
_GRAMMAR_PROVIDERS = ("llamacpp", "llama.cpp", "llama_cpp", "local")


@dataclass
class Verdict:
    """One judge call. Pairwise: game 1 shows model as A, game 2 shows model_b as A; winner is in
    model terms ('model_1' | 'model_2' | 'tie'), None when unparsed."""

    question_id: int
    category: str
    turn: int
    mode: str
    game: int
    model: str
    model_b: str | None
    prompt_name: str
    prompt_ref: str | None
    user_prompt: str
    judgment: str
    score: float | None = None
    winner: str | None = None
    attempts: int = 1

    @property
    def parsed(self) -> bool:
        return self.score is not None if self.mode == "single" else self.winner is not None


@dataclass
class CallStats:
    """How the calls went: achieved concurrency is the most calls seen in flight at once."""

    calls: int = 0
    retries: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    cached: int = 0
    wall_s: float = 0.0
    _t0: float = field(default=0.0, repr=False)


class Limiter:
    """A concurrency bound that also measures how much concurrency was reached."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, int(limit))
        self.stats = CallStats()
        self._sem: asyncio.Semaphore | None = None

    async def run(self, fn: Callable[[], Awaitable[T]]) -> T:
        if self._sem is None:  # bind to the running loop
            self._sem = asyncio.Semaphore(self.limit)
        async with self._sem:
            s = self.stats
            s.calls += 1
            s.in_flight += 1
            s.max_in_flight = max(s.max_in_flight, s.in_flight)
            try:
                return await fn()
            finally:
                s.in_flight -= 1


def _constraint(model: Any, mode: str) -> str:
    if mode != "auto":
        return mode
    provider = str(getattr(model, "provider", "") or "").lower()
    if provider in _GRAMMAR_PROVIDERS:
        return "grammar"
    return "none"


def _chat_request(msgs: list[dict[str, str]], **params: Any) -> Any:
    from ondo.llm.types import ChatMessage, ChatRequest

    return ChatRequest(messages=[ChatMessage(role=m["role"], content=m["content"]) for m in msgs], **params)


class Judge:
    """A model acting as judge, with FastChat's decoding settings (greedy, ``max_tokens``)."""

    def __init__(self, model: Any, *, name: str | None = None, max_tokens: int = 2048, max_retries: int = 2,
                 limiter: Limiter | None = None, constrain: str = "auto") -> None:
        self.model = model
        self.name = name or str(getattr(model, "model_name", None) or getattr(model, "fingerprint", "judge"))
        self.max_tokens = max_tokens
        self.max_retries = max(0, max_retries)
        self.limiter = limiter or Limiter(8)
        self.constrain = _constraint(model, constrain)

    async def _ask(self, prompt: JudgePrompt, system: str, user_prompt: str, attempt: int, where: str) -> str:
        params: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": 0.0}
        if attempt > 0:
            params.update(temperature=RETRY_TEMPERATURE, seed=attempt)
        single = prompt.kind == "single"
        if self.constrain == "grammar":
            grammar = (vparse.rating_grammar(self.max_tokens, prompt.rating_label) if single
                       else vparse.winner_grammar(self.max_tokens))
            params["extra"] = {"grammar": grammar}
        elif self.constrain == "json":
            params["json_schema"] = _verdict_schema(single, self.max_tokens)
        request = _chat_request(messages(system, user_prompt), **params)

        async def call() -> Any:
            return await self.model.chat(request)

        response = await _within_context(self.limiter.run(call), f"the judge {self.name}", where)
        if getattr(response, "cached", False):
            self.limiter.stats.cached += 1
        text = str(response.text)
        if self.constrain == "json":
            text = _json_to_text(text, single, prompt.rating_label)
        return text

    async def _judge(self, prompt: JudgePrompt, variables: dict[str, Any],
                     parse: Callable[[str], Any], where: str) -> tuple[str, str, Any, int]:
        """(user prompt, judgment, parsed value or None, attempts)."""
        system, user_prompt = prompt.render(variables)
        judgment, value = "", None
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.limiter.stats.retries += 1
            judgment = await self._ask(prompt, system, user_prompt, attempt, where)
            value = parse(judgment)
            if value is not None:
                return user_prompt, judgment, value, attempt + 1
        return user_prompt, judgment, None, self.max_retries + 1

    async def single(self, m: SingleMatch) -> Verdict:
        where = f"question {m.question.question_id} turn {m.turn} ({m.model})"
        user_prompt, judgment, score, attempts = await self._judge(m.prompt, single_variables(m), vparse.parse_rating,
                                                                   where)
        return Verdict(m.question.question_id, m.question.category, m.turn, "single", 1, m.model, None,
                       m.prompt.name, m.prompt.ref, user_prompt, judgment, score=score, attempts=attempts)

    async def pair(self, m: PairMatch) -> list[Verdict]:
        """Both position orders, concurrently; winners mapped back to model_1 / model_2."""
        maps = {1: {"A": "model_1", "B": "model_2"}, 2: {"A": "model_2", "B": "model_1"}}

        async def game(g: int) -> Verdict:
            where = f"question {m.question.question_id} turn {m.turn} ({m.model_1} vs {m.model_2}, game {g})"
            user_prompt, judgment, w, attempts = await self._judge(m.prompt, pair_variables(m, g), vparse.parse_winner,
                                                                   where)
            winner = None if w is None else maps[g].get(w, w)
            return Verdict(m.question.question_id, m.question.category, m.turn, "pairwise", g, m.model_1,
                           m.model_2, m.prompt.name, m.prompt.ref, user_prompt, judgment, winner=winner,
                           attempts=attempts)

        return list(await asyncio.gather(game(1), game(2)))


async def _within_context(call: Awaitable[T], who: str, where: str) -> T:
    """Await a model call; a prompt longer than the model's context window (llama.cpp's ValueError)
    becomes a one-line error naming the question, instead of a traceback from inside the engine."""
    try:
        return await call
    except ValueError as exc:
        if "context window" not in str(exc):
            raise
        raise InvalidInput(f"{who} cannot take the prompt of {where}: {exc}; give it a larger context, "
                           "e.g. local:smollm2,n_ctx=16384") from None


def _verdict_schema(single: bool, max_tokens: int) -> dict[str, Any]:
    verdict: dict[str, Any] = ({"type": "integer", "enum": list(range(1, 11))} if single
                               else {"type": "string", "enum": ["A", "B", "C"]})
    return {
        "type": "object",
        "properties": {
            "explanation": {"type": "string", "maxLength": vparse.explanation_budget(max_tokens)},
            "verdict": verdict,
        },
        "required": ["explanation", "verdict"],
    }


def _json_to_text(text: str, single: bool, label: str) -> str:
    """Render a JSON-constrained verdict in FastChat's text form, so parsing and storage are uniform."""
    import json

    try:
        obj = json.loads(text)
        expl, verdict = str(obj["explanation"]), obj["verdict"]
    except (ValueError, KeyError, TypeError):
        return text
    return f"{expl}\n{label}: [[{verdict}]]" if single else f"{expl}\n[[{verdict}]]"


async def generate_answers(
    model: Any, questions: list[Question], *, limiter: Limiter, max_tokens: int = MAX_NEW_TOKENS, seed: int = 0,
) -> dict[int, tuple[str, ...]]:
    """FastChat's gen_model_answer: per-category temperature, turn 2 asked on top of the model's own turn 1.

    A seed is always sent, so sampled answers (writing, roleplay) are reproducible and cacheable.
    """

    async def answer(q: Question) -> tuple[int, tuple[str, ...]]:
        msgs: list[dict[str, str]] = []
        out: list[str] = []
        for turn in q.turns:
            msgs.append({"role": "user", "content": turn})
            request = _chat_request(list(msgs), temperature=q.temperature, max_tokens=max_tokens, seed=seed)

            async def call(request: Any = request) -> Any:
                return await model.chat(request)

            where = f"question {q.question_id} turn {len(out) + 1}"
            text = str((await _within_context(limiter.run(call), "the model", where)).text).strip()
            out.append(text)
            msgs.append({"role": "assistant", "content": text})
        return q.question_id, tuple(out)

    t0 = time.perf_counter()
    pairs = await asyncio.gather(*(answer(q) for q in questions))
    limiter.stats.wall_s += time.perf_counter() - t0
    return dict(pairs)
