"""Request and response types shared by every provider.

Providers translate to and from these once, at their edge, so the rest of ondo (evals, the
gateway, the cache, cost accounting) never sees a provider-specific shape. Token usage in
particular is normalised here, once, from each provider's own format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool", "developer"]


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one call used, in four disjoint-by-construction buckets.

    ``input_tokens`` counts every prompt token *including* the cached ones
    (``cached_input_tokens`` is a subset of it); ``output_tokens`` counts every generated
    token *including* reasoning tokens (``reasoning_tokens`` is a subset). This is OpenAI's
    convention; Anthropic's and Google's counts are converted to it, so pricing is
    ``(input-cached)*p_in + cached*p_cached + (output-reasoning)*p_out + reasoning*p_reason``.
    ``compute_seconds`` is wall time of local inference (local models cost 0 but record it).
    ``estimated`` is true when counts come from a heuristic rather than the model's tokenizer.
    """

    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    compute_seconds: float | None = None
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        if self.compute_seconds is None and other.compute_seconds is None:
            compute: float | None = None
        else:
            compute = (self.compute_seconds or 0.0) + (other.compute_seconds or 0.0)
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            compute_seconds=compute,
            estimated=self.estimated or other.estimated,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }
        if self.compute_seconds is not None:
            out["compute_seconds"] = self.compute_seconds
        if self.estimated:
            out["estimated"] = True
        return out

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI ``usage`` object (what the gateway returns to clients)."""
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_input_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }

    # ---- normalisation from each provider's format -------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        """Inverse of :meth:`to_dict` (cache rows, stored traces)."""
        return cls(
            input_tokens=_int(data.get("input_tokens")),
            cached_input_tokens=_int(data.get("cached_input_tokens")),
            output_tokens=_int(data.get("output_tokens")),
            reasoning_tokens=_int(data.get("reasoning_tokens")),
            compute_seconds=data.get("compute_seconds"),
            estimated=bool(data.get("estimated", False)),
        )

    @classmethod
    def from_openai(cls, usage: Mapping[str, Any] | None, compute_seconds: float | None = None) -> Usage:
        """OpenAI chat/completions/embeddings usage; also vLLM, Ollama and llama.cpp's OpenAI servers.

        Reads ``prompt_tokens_details.cached_tokens`` and
        ``completion_tokens_details.reasoning_tokens`` (both optional), and the Responses-API
        spelling (``input_tokens_details``/``output_tokens_details``).
        """
        if not usage:
            return cls(compute_seconds=compute_seconds)
        if "prompt_tokens" not in usage and "input_tokens" in usage and "output_tokens" in usage:
            if "cache_read_input_tokens" in usage or "cache_creation_input_tokens" in usage:
                return cls.from_anthropic(usage)
            in_details = usage.get("input_tokens_details") or {}
            out_details = usage.get("output_tokens_details") or {}
            return cls(
                input_tokens=_int(usage.get("input_tokens")),
                cached_input_tokens=_int(in_details.get("cached_tokens")),
                output_tokens=_int(usage.get("output_tokens")),
                reasoning_tokens=_int(out_details.get("reasoning_tokens")),
                compute_seconds=compute_seconds,
            )
        prompt_details = usage.get("prompt_tokens_details") or {}
        completion_details = usage.get("completion_tokens_details") or {}
        return cls(
            input_tokens=_int(usage.get("prompt_tokens")),
            cached_input_tokens=_int(prompt_details.get("cached_tokens")),
            output_tokens=_int(usage.get("completion_tokens")),
            reasoning_tokens=_int(completion_details.get("reasoning_tokens")),
            compute_seconds=compute_seconds,
        )

    @classmethod
    def from_anthropic(cls, usage: Mapping[str, Any] | None) -> Usage:
        """Anthropic Messages usage: ``input_tokens`` there excludes cache reads and writes.

        Cache writes (``cache_creation_input_tokens``) are counted as ordinary input.
        """
        if not usage:
            return cls()
        cache_read = _int(usage.get("cache_read_input_tokens"))
        cache_write = _int(usage.get("cache_creation_input_tokens"))
        return cls(
            input_tokens=_int(usage.get("input_tokens")) + cache_read + cache_write,
            cached_input_tokens=cache_read,
            output_tokens=_int(usage.get("output_tokens")),
        )

    @classmethod
    def from_google(cls, usage: Mapping[str, Any] | None) -> Usage:
        """Gemini ``usageMetadata``: thoughts are reported apart from candidates."""
        if not usage:
            return cls()
        thoughts = _int(usage.get("thoughtsTokenCount"))
        return cls(
            input_tokens=_int(usage.get("promptTokenCount")),
            cached_input_tokens=_int(usage.get("cachedContentTokenCount")),
            output_tokens=_int(usage.get("candidatesTokenCount")) + thoughts,
            reasoning_tokens=thoughts,
        )

    @classmethod
    def from_llamacpp(cls, response: Mapping[str, Any], compute_seconds: float | None = None) -> Usage:
        """llama.cpp: llama-cpp-python's OpenAI-shaped ``usage`` or the native server's ``timings``/``tokens_*``."""
        if response.get("usage"):
            return cls.from_openai(response["usage"], compute_seconds)
        timings = response.get("timings") or {}
        prompt = _int(response.get("tokens_evaluated") or timings.get("prompt_n"))
        cached = _int(response.get("tokens_cached") or timings.get("cache_n"))
        return cls(
            input_tokens=prompt + cached if "cache_n" in timings else max(prompt, cached),
            cached_input_tokens=cached,
            output_tokens=_int(response.get("tokens_predicted") or timings.get("predicted_n")),
            compute_seconds=compute_seconds,
        )

    @classmethod
    def from_transformers(cls, input_tokens: int, output_tokens: int, compute_seconds: float | None) -> Usage:
        """Local transformers: counts come straight from the token id tensors."""
        return cls(input_tokens=input_tokens, output_tokens=output_tokens, compute_seconds=compute_seconds)

    @classmethod
    def normalize(cls, raw: Mapping[str, Any] | None, provider: str | None = None) -> Usage:
        """Pick the right converter from ``provider`` (or from the keys, when not given)."""
        if not raw:
            return cls()
        p = (provider or "").lower()
        if p == "anthropic" or "cache_read_input_tokens" in raw or "cache_creation_input_tokens" in raw:
            return cls.from_anthropic(raw)
        if p in ("google", "gemini", "vertex") or "promptTokenCount" in raw:
            return cls.from_google(raw)
        if p in ("llamacpp", "llama.cpp") or "timings" in raw or "tokens_evaluated" in raw:
            return cls.from_llamacpp(raw)
        if "cached_input_tokens" in raw or "compute_seconds" in raw:
            return cls.from_dict(raw)  # ondo's own form (cache rows, stored traces)
        return cls.from_openai(raw)


class ChatMessage(BaseModel):
    """One chat turn. ``content`` is text, or OpenAI-style content parts for multimodal input."""

    model_config = ConfigDict(extra="allow")

    role: Role | str
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None

    @property
    def text(self) -> str:
        """The message's text (text parts joined) — what local models and token counters see."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(str(p.get("text", "")) for p in self.content if p.get("type", "text") == "text")


class SamplingParams(BaseModel):
    """Sampling settings common to chat and generate.

    ``temperature`` defaults to 0 (greedy): ondo's own callers (evaluations, judges) want
    reproducible answers. ``ChatRequest.from_openai`` applies OpenAI's default (1.0) instead
    when a client omits it.
    """

    model_config = ConfigDict(extra="forbid")

    temperature: float = 0.0
    max_tokens: int | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    #: OpenAI ``response_format`` ({"type": "json_object"} or {"type": "json_schema", "json_schema": {...}})
    response_format: dict[str, Any] | None = None
    #: shorthand: constrain the output to this JSON schema (wins over ``response_format``)
    json_schema: dict[str, Any] | None = None
    #: provider-specific extras passed through unchanged (e.g. {"top_k": 40}, {"grammar": "..."})
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def deterministic(self) -> bool:
        """Whether two identical calls must give the same answer (greedy, or sampling with a seed)."""
        return self.temperature <= 0.0 or self.seed is not None

    def output_schema(self) -> dict[str, Any] | None:
        """The JSON schema the output must follow, from ``json_schema`` or ``response_format``."""
        if self.json_schema is not None:
            return self.json_schema
        rf = self.response_format or {}
        if rf.get("type") == "json_schema":
            spec = rf.get("json_schema") or {}
            schema = spec.get("schema", spec)
            return schema if isinstance(schema, dict) else None
        return None

    def wants_json(self) -> bool:
        rf = self.response_format or {}
        return self.output_schema() is not None or rf.get("type") in ("json_object", "json_schema")


class ChatRequest(SamplingParams):
    messages: list[ChatMessage]
    stream: bool = False

    @classmethod
    def from_openai(cls, body: Mapping[str, Any]) -> ChatRequest:
        """Build from an OpenAI ``/v1/chat/completions`` body (the gateway's input).

        Keys ondo does not model (tools, logit_bias, n, user...) go to ``extra`` and are
        forwarded verbatim by the OpenAI-compatible provider.
        """
        known = {"messages", "temperature", "max_tokens", "max_completion_tokens", "top_p", "stop", "seed",
                 "response_format", "stream", "model", "stream_options"}
        stop = body.get("stop")
        return cls(
            messages=[ChatMessage.model_validate(m) for m in body.get("messages") or []],
            temperature=1.0 if body.get("temperature") is None else float(body["temperature"]),
            max_tokens=body.get("max_tokens", body.get("max_completion_tokens")),
            top_p=body.get("top_p"),
            stop=[stop] if isinstance(stop, str) else stop,
            seed=body.get("seed"),
            response_format=body.get("response_format"),
            stream=bool(body.get("stream", False)),
            extra={k: v for k, v in body.items() if k not in known},
        )


class GenerateRequest(SamplingParams):
    """Plain text continuation (``/v1/completions``; ``generate_until`` tasks)."""

    prompt: str

    @classmethod
    def from_openai(cls, body: Mapping[str, Any]) -> GenerateRequest:
        known = {"prompt", "temperature", "max_tokens", "top_p", "stop", "seed", "response_format", "stream",
                 "model", "stream_options"}
        stop = body.get("stop")
        prompt = body.get("prompt", "")
        if isinstance(prompt, list):
            prompt = "".join(str(p) for p in prompt)
        return cls(
            prompt=prompt,
            temperature=1.0 if body.get("temperature") is None else float(body["temperature"]),
            max_tokens=body.get("max_tokens", 16),
            top_p=body.get("top_p"),
            stop=[stop] if isinstance(stop, str) else stop,
            seed=body.get("seed"),
            response_format=body.get("response_format"),
            extra={k: v for k, v in body.items() if k not in known},
        )


FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"] | str


class ChatResponse(BaseModel):
    """A finished answer. ``raw`` keeps the provider's own response (never credentials)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    text: str
    finish_reason: FinishReason | None = "stop"
    usage: Usage = Field(default_factory=Usage)
    #: the model that answered, as the provider names it (e.g. "gpt-4o-mini-2024-07-18")
    model: str = ""
    raw: dict[str, Any] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    #: true when the request cache answered
    cached: bool = False
    latency_s: float | None = None

    def to_openai_chat(self, model: str | None = None, id: str | None = None, created: int | None = None
                       ) -> dict[str, Any]:
        """The OpenAI ``chat.completion`` object for this answer (the gateway's output)."""
        import time
        import uuid

        message: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return {
            "id": id or "chatcmpl-" + uuid.uuid4().hex,
            "object": "chat.completion",
            "created": created or int(time.time()),
            "model": model or self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason, "logprobs": None}],
            "usage": self.usage.to_openai(),
        }

    def to_openai_completion(self, model: str | None = None, id: str | None = None,
                             created: int | None = None) -> dict[str, Any]:
        """The OpenAI ``text_completion`` object for this answer."""
        import time
        import uuid

        return {
            "id": id or "cmpl-" + uuid.uuid4().hex,
            "object": "text_completion",
            "created": created or int(time.time()),
            "model": model or self.model,
            "choices": [{"index": 0, "text": self.text, "finish_reason": self.finish_reason, "logprobs": None}],
            "usage": self.usage.to_openai(),
        }


#: ``generate`` answers with the same shape as ``chat``.
GenerateResponse = ChatResponse


class ChatChunk(BaseModel):
    """One piece of a streamed answer. The last chunk carries ``finish_reason`` and, when known, ``usage``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    delta: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str = ""
    raw: dict[str, Any] | None = None
    #: true when the request cache replays a stored answer
    cached: bool = False


@dataclass(frozen=True, slots=True)
class LoglikelihoodRequest:
    """log P(continuation | context). Benchmarks put the leading space on the continuation."""

    context: str
    continuation: str


@dataclass(frozen=True, slots=True)
class LoglikelihoodResult:
    """Sum of the continuation's token log-probabilities and whether greedy decoding yields it."""

    logprob: float
    is_greedy: bool
    token_logprobs: list[float] = field(default_factory=list)
    n_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"logprob": self.logprob, "is_greedy": self.is_greedy,
                "token_logprobs": list(self.token_logprobs), "n_tokens": self.n_tokens}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoglikelihoodResult:
        return cls(logprob=float(data["logprob"]), is_greedy=bool(data["is_greedy"]),
                   token_logprobs=[float(x) for x in data.get("token_logprobs", [])],
                   n_tokens=int(data.get("n_tokens", 0)))


@dataclass(frozen=True, slots=True)
class EmbeddingResponse:
    vectors: list[list[float]]
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    #: true when the request cache answered
    cached: bool = False


def move_trailing_spaces(context: str, continuation: str) -> tuple[str, str]:
    """lm-evaluation-harness's rule: a context's trailing whitespace belongs to the continuation."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    return context, continuation
