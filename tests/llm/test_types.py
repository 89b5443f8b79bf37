"""Usage is normalised once, from every provider's own shape; request helpers follow lm-eval/OpenAI."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ondo.llm.types import ChatRequest, GenerateRequest, Usage, move_trailing_spaces


def test_openai_usage_with_cached_and_reasoning_details() -> None:
    u = Usage.from_openai({
        "prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 192},
    })
    assert (u.input_tokens, u.cached_input_tokens, u.output_tokens, u.reasoning_tokens) == (1200, 1024, 300, 192)
    assert u.total_tokens == 1500


def test_openai_usage_without_details_and_null_fields() -> None:
    u = Usage.from_openai({"prompt_tokens": 7, "completion_tokens": None, "prompt_tokens_details": None})
    assert u == Usage(input_tokens=7)
    assert Usage.from_openai(None) == Usage()


def test_anthropic_usage_counts_cache_reads_and_writes_as_input() -> None:
    raw = {"input_tokens": 50, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 200, "output_tokens": 80}
    u = Usage.normalize(raw, "anthropic")
    assert (u.input_tokens, u.cached_input_tokens, u.output_tokens) == (1250, 1000, 80)
    assert Usage.normalize(raw) == u  # recognised by its keys too


def test_google_usage_adds_thoughts_to_output() -> None:
    u = Usage.normalize({"promptTokenCount": 100, "cachedContentTokenCount": 40, "candidatesTokenCount": 30,
                         "thoughtsTokenCount": 70})
    assert (u.input_tokens, u.cached_input_tokens, u.output_tokens, u.reasoning_tokens) == (100, 40, 100, 70)


def test_llamacpp_native_server_timings() -> None:
    u = Usage.normalize({"tokens_evaluated": 12, "tokens_predicted": 5, "timings": {"prompt_n": 12, "predicted_n": 5}},
                        "llamacpp")
    assert (u.input_tokens, u.output_tokens) == (12, 5)
    # llama-cpp-python answers in OpenAI's shape
    assert Usage.from_llamacpp({"usage": {"prompt_tokens": 3, "completion_tokens": 2}}, 0.5) == Usage(
        input_tokens=3, output_tokens=2, compute_seconds=0.5)


def test_transformers_usage_records_compute_seconds() -> None:
    u = Usage.from_transformers(10, 4, 1.25)
    assert u.compute_seconds == 1.25 and u.total_tokens == 14


counts = st.integers(min_value=0, max_value=10**7)


@given(counts, counts, counts, counts, counts, counts)
def test_usage_addition_and_round_trip(a: int, b: int, c: int, d: int, e: int, f: int) -> None:
    x = Usage(input_tokens=a, cached_input_tokens=min(a, b), output_tokens=c, reasoning_tokens=min(c, d))
    y = Usage(input_tokens=e, output_tokens=f, compute_seconds=0.5)
    s = x + y
    assert s.input_tokens == a + e and s.output_tokens == c + f and s.compute_seconds == 0.5
    assert Usage.from_dict(s.to_dict()) == s
    assert Usage.normalize(s.to_dict()) == s
    assert Usage.from_openai(x.to_openai()) == x


def test_trailing_spaces_move_to_the_continuation() -> None:
    assert move_trailing_spaces("Answer: ", "Paris") == ("Answer:", " Paris")
    assert move_trailing_spaces("Answer:\n\n", "B") == ("Answer:", "\n\nB")
    assert move_trailing_spaces("Answer:", " Paris") == ("Answer:", " Paris")
    assert move_trailing_spaces("", "x") == ("", "x")


def test_chat_request_from_openai_body() -> None:
    body = {"model": "assistant@production", "messages": [{"role": "user", "content": "hi"}], "stop": "\n",
            "max_completion_tokens": 5, "tools": [{"type": "function"}], "stream": True}
    req = ChatRequest.from_openai(body)
    assert req.temperature == 1.0  # OpenAI's default when omitted
    assert req.stop == ["\n"] and req.max_tokens == 5 and req.stream
    assert req.extra == {"tools": [{"type": "function"}]}
    assert not req.deterministic
    assert ChatRequest.from_openai({**body, "temperature": 0}).deterministic
    assert ChatRequest.from_openai({**body, "seed": 3}).deterministic


def test_output_schema_from_response_format_or_shorthand() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    r1 = GenerateRequest(prompt="x", response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}})
    r2 = GenerateRequest(prompt="x", json_schema=schema)
    assert r1.output_schema() == schema == r2.output_schema()
    assert GenerateRequest(prompt="x", response_format={"type": "json_object"}).wants_json()
    assert not GenerateRequest(prompt="x").wants_json()
